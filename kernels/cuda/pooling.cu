// Max pooling (window = stride, no padding) on the GPU: forward a thread per output; backward a
// thread per input element, which takes its window's gradient if it is the window's maximum, so
// every element of dx is written and no atomics are needed (the kernels: pooling_kernels.cuh).
#include "kernels/cuda/context.h"
#include "kernels/cuda/cuda_kernels.h"
#include "kernels/cuda/pooling_kernels.cuh"

namespace rt::kernels::cuda {

void max_pool_forward(const float* x, int64_t rows, int64_t channels, int64_t height, int64_t width, int64_t window,
                      float* y, int32_t* argmax) {
  pooling::launch_max_pool_forward(StreamLaunch{}, x, rows, channels, height, width, window, y, argmax);
}

void max_pool_backward(const float* dy, const int32_t* argmax, int64_t rows, int64_t channels, int64_t height,
                       int64_t width, int64_t window, float* dx) {
  pooling::launch_max_pool_backward(StreamLaunch{}, dy, argmax, rows, channels, height, width, window, dx);
}

}  // namespace rt::kernels::cuda
