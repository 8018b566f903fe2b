#include "data/image_file.h"

#include <algorithm>
#include <cctype>
#include <csetjmp>
#include <cstdio>
#include <fstream>
#include <iterator>

// libjpeg's header needs size_t and FILE declared first.
#include <jpeglib.h>
#include <png.h>

#include "core/base/check.h"

namespace rt {

namespace {
std::vector<uint8_t> file_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  RT_CHECK(in.good(), "cannot read image {}", path);
  std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  RT_CHECK(!in.bad(), "cannot read image {}", path);
  return bytes;
}

bool is_png(const std::vector<uint8_t>& bytes) {
  return bytes.size() >= 8 && png_sig_cmp(bytes.data(), 0, 8) == 0;
}

// Bounds the memory one image takes (the largest JPEG is 65,500 pixels a side).
constexpr int64_t kMostPixels = int64_t{1} << 28;

void check_size(int64_t height, int64_t width, const std::string& path) {
  RT_CHECK(height * width <= kMostPixels, "image {}: {} x {} pixels, more than the {} an image may have", path, height,
           width, kMostPixels);
}

bool is_jpeg(const std::vector<uint8_t>& bytes) {
  return bytes.size() >= 3 && bytes[0] == 0xFF && bytes[1] == 0xD8 && bytes[2] == 0xFF;
}

DecodedImage decode_png(const std::vector<uint8_t>& bytes, int channels, const std::string& path) {
  png_image image{};
  image.version = PNG_IMAGE_VERSION;
  RT_CHECK(png_image_begin_read_from_memory(&image, bytes.data(), bytes.size()) != 0, "image {}: not a readable PNG: {}",
           path, image.message);
  check_size(image.height, image.width, path);
  image.format = channels == 1 ? PNG_FORMAT_GRAY : PNG_FORMAT_RGB;
  DecodedImage decoded;
  decoded.height = image.height;
  decoded.width = image.width;
  decoded.channels = channels;
  // Zeros: an alpha channel is removed by compositing onto what the buffer holds, black.
  decoded.pixels.assign(PNG_IMAGE_SIZE(image), 0);
  const bool read = png_image_finish_read(&image, nullptr, decoded.pixels.data(), 0, nullptr) != 0;
  const std::string message = image.message;
  png_image_free(&image);
  RT_CHECK(read, "image {}: a corrupt PNG: {}", path, message);
  return decoded;
}

// libjpeg reports a fatal error by calling error_exit, which must not return: it jumps back to
// decode_jpeg's setjmp. Warnings (a truncated file, corrupt data that the library papers over)
// are kept and made errors too: a training set is better without a half-grey image.
struct JpegErrors {
  jpeg_error_mgr manager;
  std::jmp_buf jump;
  char message[JMSG_LENGTH_MAX] = {};
  bool warned = false;
};

void jpeg_fail(j_common_ptr info) {
  auto* errors = reinterpret_cast<JpegErrors*>(info->err);
  (*info->err->format_message)(info, errors->message);
  std::longjmp(errors->jump, 1);
}

void jpeg_note(j_common_ptr info, int level) {
  auto* errors = reinterpret_cast<JpegErrors*>(info->err);
  if (level < 0 && !errors->warned) {
    (*info->err->format_message)(info, errors->message);
    errors->warned = true;
  }
}

// Decodes into `decoded` (owned by the caller, so that the jump skips no destructor); returns the
// library's message, empty where the image decoded cleanly.
std::string decode_jpeg(const std::vector<uint8_t>& bytes, int channels, DecodedImage& decoded,
                        const std::string& path) {
  jpeg_decompress_struct info{};
  JpegErrors errors;
  info.err = jpeg_std_error(&errors.manager);
  errors.manager.error_exit = jpeg_fail;
  errors.manager.emit_message = jpeg_note;
  if (setjmp(errors.jump) != 0) {
    jpeg_destroy_decompress(&info);
    return errors.message;
  }
  jpeg_create_decompress(&info);
  jpeg_mem_src(&info, bytes.data(), static_cast<unsigned long>(bytes.size()));
  jpeg_read_header(&info, TRUE);
  info.out_color_space = channels == 1 ? JCS_GRAYSCALE : JCS_RGB;
  jpeg_start_decompress(&info);
  decoded.height = info.output_height;
  decoded.width = info.output_width;
  decoded.channels = channels;
  if (decoded.height * decoded.width > kMostPixels) {
    jpeg_destroy_decompress(&info);
    check_size(decoded.height, decoded.width, path);
  }
  decoded.pixels.resize(static_cast<size_t>(decoded.height * decoded.width * channels));
  while (info.output_scanline < info.output_height) {
    JSAMPROW row = decoded.pixels.data() + static_cast<size_t>(info.output_scanline) * decoded.width * channels;
    jpeg_read_scanlines(&info, &row, 1);
  }
  jpeg_finish_decompress(&info);
  jpeg_destroy_decompress(&info);
  return errors.warned ? errors.message : "";
}
}  // namespace

DecodedImage read_image(const std::string& path, int channels) {
  RT_CHECK(channels == 1 || channels == 3, "images are read as 1 or 3 channels, not {}", channels);
  const std::vector<uint8_t> bytes = file_bytes(path);
  if (is_png(bytes)) return decode_png(bytes, channels, path);
  RT_CHECK(is_jpeg(bytes), "image {}: neither a PNG nor a JPEG file ({} bytes)", path, bytes.size());
  DecodedImage decoded;
  const std::string problem = decode_jpeg(bytes, channels, decoded, path);
  RT_CHECK(problem.empty(), "image {}: a corrupt or unsupported JPEG: {}", path, problem);
  return decoded;
}

namespace {
void write_png(const std::string& path, const DecodedImage& image) {
  png_image png{};
  png.version = PNG_IMAGE_VERSION;
  png.width = static_cast<png_uint_32>(image.width);
  png.height = static_cast<png_uint_32>(image.height);
  png.format = image.channels == 1 ? PNG_FORMAT_GRAY : image.channels == 3 ? PNG_FORMAT_RGB : PNG_FORMAT_RGBA;
  const bool written = png_image_write_to_file(&png, path.c_str(), 0, image.pixels.data(), 0, nullptr) != 0;
  RT_CHECK(written, "cannot write image {}: {}", path, png.message);
}

// As decode_jpeg: the library's errors jump back here; returns its message, empty when written.
std::string write_jpeg(FILE* file, const DecodedImage& image, int quality) {
  jpeg_compress_struct info{};
  JpegErrors errors;
  info.err = jpeg_std_error(&errors.manager);
  errors.manager.error_exit = jpeg_fail;
  if (setjmp(errors.jump) != 0) {
    jpeg_destroy_compress(&info);
    return errors.message;
  }
  jpeg_create_compress(&info);
  jpeg_stdio_dest(&info, file);
  info.image_width = static_cast<JDIMENSION>(image.width);
  info.image_height = static_cast<JDIMENSION>(image.height);
  info.input_components = static_cast<int>(image.channels);
  info.in_color_space = image.channels == 1 ? JCS_GRAYSCALE : JCS_RGB;
  jpeg_set_defaults(&info);
  jpeg_set_quality(&info, quality, TRUE);
  jpeg_start_compress(&info, TRUE);
  while (info.next_scanline < info.image_height) {
    auto* row = const_cast<JSAMPLE*>(image.pixels.data() +
                                     static_cast<size_t>(info.next_scanline) * image.width * image.channels);
    jpeg_write_scanlines(&info, &row, 1);
  }
  jpeg_finish_compress(&info);
  jpeg_destroy_compress(&info);
  return "";
}
}  // namespace

void write_image(const std::string& path, const DecodedImage& image, int jpeg_quality) {
  RT_CHECK(static_cast<int64_t>(image.pixels.size()) == image.height * image.width * image.channels,
           "image {}: {} bytes for {} x {} x {}", path, image.pixels.size(), image.height, image.width, image.channels);
  const size_t dot = path.find_last_of('.');
  std::string extension = dot == std::string::npos ? "" : path.substr(dot + 1);
  std::transform(extension.begin(), extension.end(), extension.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (extension == "png") {
    RT_CHECK(image.channels >= 1 && image.channels <= 4 && image.channels != 2, "image {}: a PNG of {} channels",
             path, image.channels);
    return write_png(path, image);
  }
  RT_CHECK(extension == "jpg" || extension == "jpeg", "image {}: not a .png, .jpg or .jpeg name", path);
  RT_CHECK(image.channels == 1 || image.channels == 3, "image {}: a JPEG of {} channels", path, image.channels);
  FILE* file = std::fopen(path.c_str(), "wb");
  RT_CHECK(file != nullptr, "cannot write image {}", path);
  const std::string problem = write_jpeg(file, image, jpeg_quality);
  const bool closed = std::fclose(file) == 0;
  RT_CHECK(problem.empty() && closed, "cannot write image {}: {}", path, problem.empty() ? "a full disk?" : problem);
}

bool has_image_extension(const std::string& path) {
  const size_t dot = path.find_last_of('.');
  if (dot == std::string::npos) return false;
  std::string extension = path.substr(dot + 1);
  std::transform(extension.begin(), extension.end(), extension.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return extension == "png" || extension == "jpg" || extension == "jpeg";
}

}  // namespace rt
