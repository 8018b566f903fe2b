#include "data/image_fit.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "core/base/check.h"

namespace rt {

namespace {
// For each output pixel along one axis, the source pixels it averages and their weights.
struct AxisTaps {
  std::vector<int64_t> first;  // per output pixel: its first source pixel
  std::vector<int64_t> count;  // per output pixel: how many
  std::vector<float> weights;  // per output pixel: `taps` weights, summing to 1
  int64_t taps = 0;
};

// Output pixels [0, out) cover source coordinates [start, start + length) of an axis of `in` pixels.
AxisTaps axis_taps(double start, double length, int64_t in, int64_t out) {
  const double scale = length / static_cast<double>(out);  // source pixels per output pixel
  const double support = std::max(1.0, scale);              // the triangle's half width, in source pixels
  AxisTaps taps;
  taps.taps = static_cast<int64_t>(std::ceil(support)) * 2 + 1;
  taps.first.resize(static_cast<size_t>(out));
  taps.count.resize(static_cast<size_t>(out));
  taps.weights.assign(static_cast<size_t>(out * taps.taps), 0.0f);
  for (int64_t i = 0; i < out; ++i) {
    const double centre = start + (static_cast<double>(i) + 0.5) * scale;
    const int64_t lo = std::max<int64_t>(0, static_cast<int64_t>(std::floor(centre - support)));
    const int64_t hi = std::min<int64_t>(in, static_cast<int64_t>(std::ceil(centre + support)));
    float* w = &taps.weights[static_cast<size_t>(i * taps.taps)];
    double total = 0;
    for (int64_t j = lo; j < hi && j - lo < taps.taps; ++j) {
      const double weight = std::max(0.0, 1.0 - std::abs((static_cast<double>(j) + 0.5 - centre) / support));
      w[j - lo] = static_cast<float>(weight);
      total += weight;
    }
    taps.first[static_cast<size_t>(i)] = lo;
    taps.count[static_cast<size_t>(i)] = std::min(hi - lo, taps.taps);
    if (total <= 0) {  // a centre on the edge of a one-pixel axis: take the nearest pixel
      taps.first[static_cast<size_t>(i)] = std::clamp<int64_t>(static_cast<int64_t>(centre), 0, in - 1);
      taps.count[static_cast<size_t>(i)] = 1;
      w[0] = 1.0f;
      continue;
    }
    for (int64_t k = 0; k < taps.count[static_cast<size_t>(i)]; ++k) w[k] = static_cast<float>(w[k] / total);
  }
  return taps;
}
}  // namespace

void fit_image(const DecodedImage& image, int64_t height, int64_t width, ImageFit fit, uint8_t* out) {
  RT_CHECK(image.height > 0 && image.width > 0, "an image of {} x {} pixels cannot be resized", image.height,
           image.width);
  RT_CHECK(height > 0 && width > 0, "images are resized to a positive size, not {} x {}", height, width);
  // The source window the output covers: the whole image, or its centre at the output's aspect.
  double top = 0, left = 0, rows = static_cast<double>(image.height), cols = static_cast<double>(image.width);
  if (fit == ImageFit::kCrop) {
    const double scale = std::max(static_cast<double>(height) / rows, static_cast<double>(width) / cols);
    const double window_rows = static_cast<double>(height) / scale, window_cols = static_cast<double>(width) / scale;
    top = (rows - window_rows) / 2;
    left = (cols - window_cols) / 2;
    rows = window_rows;
    cols = window_cols;
  }
  const AxisTaps across = axis_taps(left, cols, image.width, width);
  const AxisTaps down = axis_taps(top, rows, image.height, height);
  const int64_t channels = image.channels;
  // Across first: every source row to `width` pixels (floats, channels interleaved), then down.
  std::vector<float> narrowed(static_cast<size_t>(image.height * width * channels));
  for (int64_t y = 0; y < image.height; ++y) {
    const uint8_t* source = image.pixels.data() + y * image.width * channels;
    float* target = narrowed.data() + y * width * channels;
    for (int64_t x = 0; x < width; ++x) {
      const float* w = &across.weights[static_cast<size_t>(x * across.taps)];
      const uint8_t* first = source + across.first[static_cast<size_t>(x)] * channels;
      for (int64_t c = 0; c < channels; ++c) {
        float sum = 0;
        for (int64_t k = 0; k < across.count[static_cast<size_t>(x)]; ++k) sum += w[k] * first[k * channels + c];
        target[x * channels + c] = sum;
      }
    }
  }
  // Down: each output row the weighted sum of whole narrowed rows (a loop the compiler vectorises).
  const int64_t row_values = width * channels;
  std::vector<float> sum(static_cast<size_t>(row_values));
  for (int64_t y = 0; y < height; ++y) {
    const float* w = &down.weights[static_cast<size_t>(y * down.taps)];
    const int64_t first = down.first[static_cast<size_t>(y)], count = down.count[static_cast<size_t>(y)];
    std::fill(sum.begin(), sum.end(), 0.0f);
    for (int64_t k = 0; k < count; ++k) {
      const float* source = narrowed.data() + (first + k) * row_values;
      for (int64_t i = 0; i < row_values; ++i) sum[static_cast<size_t>(i)] += w[k] * source[i];
    }
    // Weights are non-negative and sum to 1: a sum lies in [0, 255] up to rounding.
    for (int64_t x = 0; x < width; ++x) {
      for (int64_t c = 0; c < channels; ++c) {
        const float value = std::clamp(sum[static_cast<size_t>(x * channels + c)], 0.0f, 255.0f);
        out[(c * height + y) * width + x] = static_cast<uint8_t>(value + 0.5f);
      }
    }
  }
}

}  // namespace rt
