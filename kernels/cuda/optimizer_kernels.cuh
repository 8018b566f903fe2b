// The kernels of optimizer.cu and their launches, in a header of their own so that a test can also
// run them on the CPU under the host emulation of tests/kernels/cuda_emulation.h.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "kernels/cuda/block_reduce.cuh"
#include "kernels/cuda/launch.h"

namespace RT_KERNELS_NAMESPACE::optimizer {

constexpr unsigned kNormBlocks = 1024;

__global__ void adamw_kernel(float* params, const float* grads, float* m, float* v, int64_t count, float beta1,
                             float beta2, float eps, float step_size, float root_correction2, float decay,
                             const uint32_t* skip) {
  if (skip && *skip) return;
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < count; i += int64_t{gridDim.x} * blockDim.x) {
    const float g = grads[i];
    const float mi = beta1 * m[i] + (1.0f - beta1) * g;
    const float vi = beta2 * v[i] + (1.0f - beta2) * g * g;
    m[i] = mi;
    v[i] = vi;
    params[i] = params[i] * decay - step_size * mi / (sqrtf(vi) / root_correction2 + eps);
  }
}

__global__ void partial_squares_kernel(const float* values, int64_t count, double* partial) {
  __shared__ double shared[kThreads];
  double sum = 0.0;
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < count; i += int64_t{gridDim.x} * blockDim.x) {
    sum += static_cast<double>(values[i]) * values[i];
  }
  const double total = block_sum(sum, shared);
  if (threadIdx.x == 0) partial[blockIdx.x] = total;
}

__global__ void total_kernel(const double* partial, unsigned count, double* total) {
  __shared__ double shared[kThreads];
  double sum = 0.0;
  for (unsigned i = threadIdx.x; i < count; i += blockDim.x) sum += partial[i];
  const double result = block_sum(sum, shared);
  if (threadIdx.x == 0) *total = result;
}

__global__ void scale_kernel(float* values, int64_t count, float factor) {
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < count; i += int64_t{gridDim.x} * blockDim.x) {
    values[i] *= factor;
  }
}

template <typename Launch>
void launch_adamw(const Launch& launch, float* params, const float* grads, float* m, float* v, int64_t count, float lr,
                  float beta1, float beta2, float eps, float weight_decay, int64_t step, const uint32_t* skip_if_set) {
  // The same single-precision factors as the CPU twin.
  const float correction1 = 1.0f - static_cast<float>(std::pow(static_cast<double>(beta1), static_cast<double>(step)));
  const float correction2 = 1.0f - static_cast<float>(std::pow(static_cast<double>(beta2), static_cast<double>(step)));
  launch(adamw_kernel, Grid{blocks_for(count)}, kThreads, 0, params, grads, m, v, count, beta1, beta2, eps,
         lr / correction1, std::sqrt(correction2), 1.0f - lr * weight_decay, skip_if_set);
}

// The sum of squares into *total: kNormBlocks partial sums (at most) into `partial`, then added in order.
template <typename Launch>
void launch_sum_of_squares(const Launch& launch, const float* values, int64_t count, double* partial, double* total) {
  const unsigned blocks = std::min(blocks_for(count), kNormBlocks);
  launch(partial_squares_kernel, Grid{blocks}, kThreads, 0, values, count, partial);
  launch(total_kernel, Grid{1}, kThreads, 0, static_cast<const double*>(partial), blocks, total);
}

template <typename Launch>
void launch_scale(const Launch& launch, float* values, int64_t count, float factor) {
  if (count == 0) return;
  launch(scale_kernel, Grid{blocks_for(count)}, kThreads, 0, values, count, factor);
}

}  // namespace RT_KERNELS_NAMESPACE::optimizer
