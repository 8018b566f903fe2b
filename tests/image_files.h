// Image files for the tests of `ringtrain shard --images` (written by data/image_file.h).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace rt::testing {

// `pixels`: height x width x channels (1 grey, 3 RGB, 4 RGBA), rows top down, channels interleaved.
void write_png(const std::string& path, int height, int width, int channels, const std::vector<uint8_t>& pixels);
// `channels`: 1 or 3; `quality` 1-100.
void write_jpeg(const std::string& path, int height, int width, int channels, const std::vector<uint8_t>& pixels,
                int quality = 95);
// An image whose channel c is `values[c]` everywhere.
std::vector<uint8_t> solid_pixels(int height, int width, const std::vector<uint8_t>& values);

}  // namespace rt::testing
