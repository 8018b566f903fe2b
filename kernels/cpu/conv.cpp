// Convolution as matrix products on the CPU: im2col / col2im, the axis swap between channel-major
// and sample-major layouts, and the per-channel bias (channel-major). Loops are split across the rank's OpenMP
// threads over independent outputs, so results do not depend on the thread count.
#include <algorithm>
#include <cstring>

#include "kernels/cpu/cpu_kernels.h"

namespace rt::kernels::cpu {

namespace {
// Which H x W plane of the images holds sample n's channel c.
int64_t image_index(const ConvGeometry& g, int64_t rows, int64_t n, int64_t c) {
  return g.channel_major ? c * rows + n : n * g.channels + c;
}

// The output columns [first, last) whose input column ow * stride - padding + kw lies inside the
// image: the rest read padding.
void inside_range(int64_t out_size, int64_t in_size, int64_t stride, int64_t padding, int64_t offset, int64_t& first,
                  int64_t& last) {
  first = 0;
  while (first < out_size && first * stride - padding + offset < 0) ++first;
  last = out_size;
  while (last > first && (last - 1) * stride - padding + offset >= in_size) --last;
}
}  // namespace

void im2col(const ConvGeometry& g, const float* x, int64_t rows, float* cols) {
  const int64_t oh_n = g.out_height(), ow_n = g.out_width(), plane = oh_n * ow_n, width = rows * plane;
#pragma omp parallel for collapse(2) schedule(static)
  for (int64_t r = 0; r < g.patch(); ++r) {
    for (int64_t n = 0; n < rows; ++n) {
      const int64_t c = r / (g.kernel * g.kernel), kh = r / g.kernel % g.kernel, kw = r % g.kernel;
      const float* image = x + image_index(g, rows, n, c) * g.height * g.width;
      float* out = cols + r * width + n * plane;
      int64_t first = 0, last = 0;
      inside_range(ow_n, g.width, g.stride, g.padding, kw, first, last);
      for (int64_t oh = 0; oh < oh_n; ++oh) {
        float* row = out + oh * ow_n;
        const int64_t ih = oh * g.stride - g.padding + kh;
        if (ih < 0 || ih >= g.height) {
          std::fill(row, row + ow_n, 0.0f);
          continue;
        }
        std::fill(row, row + first, 0.0f);
        const float* in = image + ih * g.width - g.padding + kw;
        if (g.stride == 1) {
          std::copy(in + first, in + last, row + first);
        } else {
          for (int64_t ow = first; ow < last; ++ow) row[ow] = in[ow * g.stride];
        }
        std::fill(row + last, row + ow_n, 0.0f);
      }
    }
  }
}

void col2im(const ConvGeometry& g, const float* cols, int64_t rows, float* dx) {
  const int64_t oh_n = g.out_height(), ow_n = g.out_width(), plane = oh_n * ow_n, width = rows * plane;
#pragma omp parallel for collapse(2) schedule(static)
  for (int64_t n = 0; n < rows; ++n) {
    for (int64_t c = 0; c < g.channels; ++c) {
      float* image = dx + image_index(g, rows, n, c) * g.height * g.width;
      std::fill(image, image + g.height * g.width, 0.0f);
      for (int64_t kh = 0; kh < g.kernel; ++kh) {
        for (int64_t kw = 0; kw < g.kernel; ++kw) {
          const float* in = cols + ((c * g.kernel + kh) * g.kernel + kw) * width + n * plane;
          int64_t first = 0, last = 0;
          inside_range(ow_n, g.width, g.stride, g.padding, kw, first, last);
          for (int64_t oh = 0; oh < oh_n; ++oh) {
            const int64_t ih = oh * g.stride - g.padding + kh;
            if (ih < 0 || ih >= g.height) continue;
            float* out = image + ih * g.width - g.padding + kw;
            const float* row = in + oh * ow_n;
            if (g.stride == 1) {
#pragma omp simd
              for (int64_t ow = first; ow < last; ++ow) out[ow] += row[ow];
            } else {
              for (int64_t ow = first; ow < last; ++ow) out[ow * g.stride] += row[ow];
            }
          }
        }
      }
    }
  }
}

void swap_leading_axes(const float* x, int64_t a, int64_t b, int64_t c, float* y) {
#pragma omp parallel for collapse(2) schedule(static)
  for (int64_t i = 0; i < a; ++i) {
    for (int64_t j = 0; j < b; ++j) {
      std::memcpy(y + (j * a + i) * c, x + (i * b + j) * c, static_cast<size_t>(c) * sizeof(float));
    }
  }
}

void add_channel_bias(float* y, const float* bias, int64_t channels, int64_t count) {
#pragma omp parallel for schedule(static)
  for (int64_t ch = 0; ch < channels; ++ch) {
    float* out = y + ch * count;
#pragma omp simd
    for (int64_t i = 0; i < count; ++i) out[i] += bias[ch];
  }
}

void channel_bias_grad(const float* dy, int64_t channels, int64_t count, float beta, float* dbias) {
#pragma omp parallel for schedule(static)
  for (int64_t ch = 0; ch < channels; ++ch) {
    const float* in = dy + ch * count;
    float sum = 0.0f;
#pragma omp simd reduction(+ : sum)
    for (int64_t i = 0; i < count; ++i) sum += in[i];
    dbias[ch] = beta == 0.0f ? sum : beta * dbias[ch] + sum;
  }
}

}  // namespace rt::kernels::cpu
