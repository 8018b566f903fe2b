// Brings a decoded image to the fixed size a shard stores: stretched to it (kResize), or scaled
// until it covers it and cut from the centre (kCrop, what torchvision's Resize + CenterCrop do).
#pragma once

#include <cstdint>

#include "data/image_file.h"

namespace rt {

enum class ImageFit { kResize, kCrop };

// Writes `height` x `width` pixels of each of the image's channels, channel by channel
// ([channels, height, width], as the cnn reads them), into `out`. Resampling is a triangle
// (bilinear) filter widened to the scale when shrinking, so that every source pixel counts
// (no aliasing), rounded to the nearest byte.
void fit_image(const DecodedImage& image, int64_t height, int64_t width, ImageFit fit, uint8_t* out);

}  // namespace rt
