#include "image_files.h"

#include "data/image_file.h"

namespace rt::testing {

void write_png(const std::string& path, int height, int width, int channels, const std::vector<uint8_t>& pixels) {
  write_image(path, {height, width, channels, pixels});
}

void write_jpeg(const std::string& path, int height, int width, int channels, const std::vector<uint8_t>& pixels,
                int quality) {
  write_image(path, {height, width, channels, pixels}, quality);
}

std::vector<uint8_t> solid_pixels(int height, int width, const std::vector<uint8_t>& values) {
  std::vector<uint8_t> pixels;
  pixels.reserve(static_cast<size_t>(height) * width * values.size());
  for (int i = 0; i < height * width; ++i) pixels.insert(pixels.end(), values.begin(), values.end());
  return pixels;
}

}  // namespace rt::testing
