// Optimizer kernels: AdamW in one pass over the arena (moments and parameters together), and the
// gradient norm for clipping, summed deterministically (per-block partial sums, then one block
// adds them in order: every rank gets bitwise the same norm from the same gradients), and scaling.
#include <algorithm>
#include <cmath>

#include "core/base/check_cuda.h"
#include "kernels/cuda/block_reduce.cuh"
#include "kernels/cuda/context.h"
#include "kernels/cuda/cuda_kernels.h"

namespace rt::kernels::cuda {

namespace {

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

}  // namespace

void adamw(float* params, const float* grads, float* m, float* v, int64_t count, float lr, float beta1, float beta2,
           float eps, float weight_decay, int64_t step, const uint32_t* skip_if_set) {
  // The same single-precision factors as the CPU twin.
  const float correction1 = 1.0f - static_cast<float>(std::pow(static_cast<double>(beta1), static_cast<double>(step)));
  const float correction2 = 1.0f - static_cast<float>(std::pow(static_cast<double>(beta2), static_cast<double>(step)));
  adamw_kernel<<<blocks_for(count), kThreads, 0, current_stream()>>>(
      params, grads, m, v, count, beta1, beta2, eps, lr / correction1, std::sqrt(correction2), 1.0f - lr * weight_decay,
      skip_if_set);
  RT_CHECK_LAUNCH(adamw_kernel);
}

double sum_of_squares(const float* values, int64_t count) {
  thread_local double* scratch = nullptr;  // kNormBlocks partial sums, then the total; kept for the thread
  thread_local double* result = nullptr;
  if (!scratch) {
    RT_CHECK_CUDA(cudaMalloc(&scratch, (kNormBlocks + 1) * sizeof(double)));
    RT_CHECK_CUDA(cudaMallocHost(&result, sizeof(double)));
  }
  const unsigned blocks = std::min(blocks_for(count), kNormBlocks);
  partial_squares_kernel<<<blocks, kThreads, 0, current_stream()>>>(values, count, scratch);
  RT_CHECK_LAUNCH(partial_squares_kernel);
  total_kernel<<<1, kThreads, 0, current_stream()>>>(scratch, blocks, scratch + kNormBlocks);
  RT_CHECK_LAUNCH(total_kernel);
  RT_CHECK_CUDA(cudaMemcpyAsync(result, scratch + kNormBlocks, sizeof(double), cudaMemcpyDeviceToHost,
                                current_stream()));
  RT_CHECK_CUDA(cudaStreamSynchronize(current_stream()));
  return *result;
}

void scale(float* values, int64_t count, float factor) {
  if (count == 0) return;
  scale_kernel<<<blocks_for(count), kThreads, 0, current_stream()>>>(values, count, factor);
  RT_CHECK_LAUNCH(scale_kernel);
}

}  // namespace rt::kernels::cuda
