// Max pooling (window = stride, no padding) on the CPU, split across threads by channel plane.
#include <cstring>

#include "kernels/cpu/cpu_kernels.h"

namespace rt::kernels::cpu {

void max_pool_forward(const float* x, int64_t rows, int64_t channels, int64_t height, int64_t width, int64_t window,
                      float* y, int32_t* argmax) {
  const int64_t oh_n = height / window, ow_n = width / window;
#pragma omp parallel for collapse(2) schedule(static)
  for (int64_t n = 0; n < rows; ++n) {
    for (int64_t c = 0; c < channels; ++c) {
      const float* plane = x + (n * channels + c) * height * width;
      const int64_t out = (n * channels + c) * oh_n * ow_n;
      if (window == 2) {  // the common case: branch-free, so the compiler vectorises along the row
        for (int64_t oh = 0; oh < oh_n; ++oh) {
          const float* upper = plane + 2 * oh * width;
          const float* lower = upper + width;
          float* y_row = y + out + oh * ow_n;
          int32_t* index_row = argmax + out + oh * ow_n;
          const int32_t top = static_cast<int32_t>(2 * oh * width);
#pragma omp simd
          for (int64_t ow = 0; ow < ow_n; ++ow) {
            const float a = upper[2 * ow], b = upper[2 * ow + 1], c = lower[2 * ow], d = lower[2 * ow + 1];
            const int32_t left = top + static_cast<int32_t>(2 * ow);
            float best = a;
            int32_t index = left;
            index = b > best ? left + 1 : index;
            best = b > best ? b : best;
            index = c > best ? left + static_cast<int32_t>(width) : index;
            best = c > best ? c : best;
            index = d > best ? left + static_cast<int32_t>(width) + 1 : index;
            best = d > best ? d : best;
            y_row[ow] = best;
            index_row[ow] = index;
          }
        }
        continue;
      }
      for (int64_t oh = 0; oh < oh_n; ++oh) {
        for (int64_t ow = 0; ow < ow_n; ++ow) {
          int64_t best = oh * window * width + ow * window;
          for (int64_t i = 0; i < window; ++i) {
            for (int64_t j = 0; j < window; ++j) {
              const int64_t at = (oh * window + i) * width + ow * window + j;
              if (plane[at] > plane[best]) best = at;
            }
          }
          y[out + oh * ow_n + ow] = plane[best];
          argmax[out + oh * ow_n + ow] = static_cast<int32_t>(best);
        }
      }
    }
  }
}

void max_pool_backward(const float* dy, const int32_t* argmax, int64_t rows, int64_t channels, int64_t height,
                       int64_t width, int64_t window, float* dx) {
  const int64_t out_plane = (height / window) * (width / window);
#pragma omp parallel for collapse(2) schedule(static)
  for (int64_t n = 0; n < rows; ++n) {
    for (int64_t c = 0; c < channels; ++c) {
      float* plane = dx + (n * channels + c) * height * width;
      std::memset(plane, 0, static_cast<size_t>(height * width) * sizeof(float));
      const int64_t out = (n * channels + c) * out_plane;
      for (int64_t o = 0; o < out_plane; ++o) plane[argmax[out + o]] = dy[out + o];  // windows do not overlap
    }
  }
}

}  // namespace rt::kernels::cpu
