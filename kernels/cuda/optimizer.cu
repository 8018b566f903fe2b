// Optimizer kernels: AdamW in one pass over the arena (moments and parameters together), and the
// gradient norm for clipping, summed deterministically (per-block partial sums, then one block
// adds them in order: every rank gets bitwise the same norm from the same gradients), and scaling
// (the kernels: optimizer_kernels.cuh).
#include <algorithm>
#include <cmath>

#include "core/base/check_cuda.h"
#include "kernels/cuda/context.h"
#include "kernels/cuda/cuda_kernels.h"
#include "kernels/cuda/optimizer_kernels.cuh"

namespace rt::kernels::cuda {

void adamw(float* params, const float* grads, float* m, float* v, int64_t count, float lr, float beta1, float beta2,
           float eps, float weight_decay, int64_t step, const uint32_t* skip_if_set) {
  optimizer::launch_adamw(StreamLaunch{}, params, grads, m, v, count, lr, beta1, beta2, eps, weight_decay, step,
                          skip_if_set);
}

double sum_of_squares(const float* values, int64_t count) {
  thread_local double* scratch = nullptr;  // kNormBlocks partial sums, then the total; kept for the thread
  thread_local double* result = nullptr;
  if (!scratch) {
    RT_CHECK_CUDA(cudaMalloc(&scratch, (optimizer::kNormBlocks + 1) * sizeof(double)));
    RT_CHECK_CUDA(cudaMallocHost(&result, sizeof(double)));
  }
  optimizer::launch_sum_of_squares(StreamLaunch{}, values, count, scratch, scratch + optimizer::kNormBlocks);
  RT_CHECK_CUDA(cudaMemcpyAsync(result, scratch + optimizer::kNormBlocks, sizeof(double), cudaMemcpyDeviceToHost,
                                current_stream()));
  RT_CHECK_CUDA(cudaStreamSynchronize(current_stream()));
  return *result;
}

void scale(float* values, int64_t count, float factor) { optimizer::launch_scale(StreamLaunch{}, values, count, factor); }

}  // namespace rt::kernels::cuda
