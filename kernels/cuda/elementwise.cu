// Elementwise operations: uint8 features to float, ReLU forward and backward, sums, dropout, SGD
// with momentum over the whole arena (their kernels: elementwise_kernels.cuh).
#include "kernels/cuda/context.h"
#include "kernels/cuda/cuda_kernels.h"
#include "kernels/cuda/elementwise_kernels.cuh"

namespace rt::kernels::cuda {

void relu_forward(const float* x, float* y, int64_t count) { launch_relu_forward(StreamLaunch{}, x, y, count); }

void relu_backward(const float* y, const float* dy, float* dx, int64_t count) {
  launch_relu_backward(StreamLaunch{}, y, dy, dx, count);
}

void pointwise_activation_forward(PointwiseActivation activation, const float* x, float* y, int64_t count) {
  launch_pointwise_activation_forward(StreamLaunch{}, activation, x, y, count);
}

void pointwise_activation_backward(PointwiseActivation activation, const float* x, const float* dy, float* dx,
                                   int64_t count) {
  launch_pointwise_activation_backward(StreamLaunch{}, activation, x, dy, dx, count);
}

void add(const float* a, Operand b, float* y, int64_t count) {
  with_values(b, [&](auto values) { launch_add(StreamLaunch{}, a, values, y, count); });
}

void bytes_to_float(const uint8_t* bytes, float* y, int64_t count, float scale) {
  launch_bytes_to_float(StreamLaunch{}, bytes, y, count, scale);
}

void dropout(const float* x, float* y, int64_t count, float p, uint64_t key) {
  launch_dropout(StreamLaunch{}, x, y, count, p, key);
}

void sgd_momentum(float* params, const float* grads, float* velocity, int64_t count, float lr, float momentum,
                  float weight_decay, const uint32_t* skip_if_set) {
  launch_sgd_momentum(StreamLaunch{}, params, grads, velocity, count, lr, momentum, weight_decay, skip_if_set);
}

}  // namespace rt::kernels::cuda
