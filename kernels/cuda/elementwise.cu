// Elementwise operations: uint8 features to float, ReLU forward and backward, sums, dropout, SGD
// with momentum over the whole arena (their kernels: elementwise_kernels.cuh).
#include "core/base/check_cuda.h"
#include "kernels/cuda/context.h"
#include "kernels/cuda/cuda_kernels.h"
#include "kernels/cuda/elementwise_kernels.cuh"

namespace rt::kernels::cuda {

void relu_forward(const float* x, float* y, int64_t count) {
  relu_forward_kernel<<<blocks_for(count), kThreads, 0, current_stream()>>>(x, y, count);
  RT_CHECK_LAUNCH(relu_forward_kernel);
}

void add(const float* a, const float* b, float* y, int64_t count) { launch_add(StreamLaunch{}, a, b, y, count); }

void bytes_to_float(const uint8_t* bytes, float* y, int64_t count, float scale) {
  if (count == 0) return;
  bytes_to_float_kernel<<<blocks_for(count), kThreads, 0, current_stream()>>>(bytes, y, count, scale);
  RT_CHECK_LAUNCH(bytes_to_float_kernel);
}

void dropout(const float* x, float* y, int64_t count, float p, uint64_t key) {
  if (count == 0) return;
  dropout_kernel<<<blocks_for(count), kThreads, 0, current_stream()>>>(x, y, count, p, 1.0f / (1.0f - p), key);
  RT_CHECK_LAUNCH(dropout_kernel);
}

void relu_backward(const float* y, const float* dy, float* dx, int64_t count) {
  relu_backward_kernel<<<blocks_for(count), kThreads, 0, current_stream()>>>(y, dy, dx, count);
  RT_CHECK_LAUNCH(relu_backward_kernel);
}

void sgd_momentum(float* params, const float* grads, float* velocity, int64_t count, float lr, float momentum,
                  float weight_decay, const uint32_t* skip_if_set) {
  sgd_momentum_kernel<<<blocks_for(count), kThreads, 0, current_stream()>>>(params, grads, velocity, count, lr,
                                                                             momentum, weight_decay, skip_if_set);
  RT_CHECK_LAUNCH(sgd_momentum_kernel);
}

}  // namespace rt::kernels::cuda
