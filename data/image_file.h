// Decodes PNG (libpng) and JPEG (libjpeg-turbo) files into 8-bit grey or RGB pixels, and writes
// them (test data, benchmark inputs).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace rt {

struct DecodedImage {
  int64_t height = 0;
  int64_t width = 0;
  int64_t channels = 0;         // 1 (grey) or 3 (RGB)
  std::vector<uint8_t> pixels;  // height x width x channels, row by row, channels interleaved
};

// Reads `path` (PNG or JPEG, told by its first bytes, not its name) as `channels` 1 or 3: colour
// becomes grey (or grey colour) as the library converts it, 16-bit samples 8-bit, and an alpha
// channel is dropped after compositing on black. Throws naming the file and what is wrong with it:
// not a PNG or JPEG, truncated, corrupt, or a colour space the library cannot convert (CMYK JPEG).
DecodedImage read_image(const std::string& path, int channels);

// Writes `image` as PNG (1 grey, 3 RGB or 4 RGBA channels) or JPEG (1 or 3 channels, at
// `jpeg_quality` 1-100), as the path's extension says. Throws naming the file.
void write_image(const std::string& path, const DecodedImage& image, int jpeg_quality = 95);

// Whether a file name ends as a PNG or JPEG file's does (.png, .jpg, .jpeg, any case).
bool has_image_extension(const std::string& path);

}  // namespace rt
