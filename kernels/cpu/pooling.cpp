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
      if (window == 2) {  // the common case, without the window loops
        for (int64_t oh = 0; oh < oh_n; ++oh) {
          const int64_t top = 2 * oh * width;
          for (int64_t ow = 0; ow < ow_n; ++ow) {
            const int64_t a = top + 2 * ow;
            int64_t best = a;
            if (plane[a + 1] > plane[best]) best = a + 1;
            if (plane[a + width] > plane[best]) best = a + width;
            if (plane[a + width + 1] > plane[best]) best = a + width + 1;
            y[out + oh * ow_n + ow] = plane[best];
            argmax[out + oh * ow_n + ow] = static_cast<int32_t>(best);
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
