// The kernels of pooling.cu and their launches, in a header of their own so that a test can also
// run them on the CPU under the host emulation of tests/kernels/cuda_emulation.h.
#pragma once

#include <cstdint>

#include "kernels/cuda/launch.h"

namespace RT_KERNELS_NAMESPACE::pooling {

__global__ void max_pool_forward_kernel(const float* x, int64_t planes, int64_t height, int64_t width, int64_t window,
                                        float* y, int32_t* argmax) {
  const int64_t oh_n = height / window, ow_n = width / window, total = planes * oh_n * ow_n;
  for (int64_t o = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; o < total; o += int64_t{gridDim.x} * blockDim.x) {
    const int64_t plane = o / (oh_n * ow_n), oh = o / ow_n % oh_n, ow = o % ow_n;
    const float* in = x + plane * height * width;
    int64_t best = oh * window * width + ow * window;
    for (int64_t i = 0; i < window; ++i) {
      for (int64_t j = 0; j < window; ++j) {
        const int64_t at = (oh * window + i) * width + ow * window + j;
        if (in[at] > in[best]) best = at;
      }
    }
    y[o] = in[best];
    argmax[o] = static_cast<int32_t>(best);
  }
}

__global__ void max_pool_backward_kernel(const float* dy, const int32_t* argmax, int64_t planes, int64_t height,
                                         int64_t width, int64_t window, float* dx) {
  const int64_t oh_n = height / window, ow_n = width / window, total = planes * height * width;
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < total; i += int64_t{gridDim.x} * blockDim.x) {
    const int64_t plane = i / (height * width), at = i % (height * width);
    const int64_t oh = at / width / window, ow = at % width / window;
    float value = 0.0f;
    if (oh < oh_n && ow < ow_n) {
      const int64_t o = (plane * oh_n + oh) * ow_n + ow;
      if (argmax[o] == at) value = dy[o];
    }
    dx[i] = value;
  }
}

template <typename Launch>
void launch_max_pool_forward(const Launch& launch, const float* x, int64_t rows, int64_t channels, int64_t height,
                             int64_t width, int64_t window, float* y, int32_t* argmax) {
  const int64_t total = rows * channels * (height / window) * (width / window);
  if (total == 0) return;
  launch(max_pool_forward_kernel, Grid{blocks_for(total)}, kThreads, 0, x, rows * channels, height, width, window, y,
         argmax);
}

template <typename Launch>
void launch_max_pool_backward(const Launch& launch, const float* dy, const int32_t* argmax, int64_t rows,
                              int64_t channels, int64_t height, int64_t width, int64_t window, float* dx) {
  const int64_t total = rows * channels * height * width;
  if (total == 0) return;
  launch(max_pool_backward_kernel, Grid{blocks_for(total)}, kThreads, 0, dy, argmax, rows * channels, height, width,
         window, dx);
}

}  // namespace RT_KERNELS_NAMESPACE::pooling
