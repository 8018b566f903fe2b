#include <algorithm>
#include <cmath>
#include <vector>

#include "kernels/cpu/cpu_kernels.h"
#include "kernels/cpu/parallel.h"

namespace rt::kernels::cpu {

void sgd_momentum(float* params, const float* grads, float* velocity, int64_t count, float lr,
                  float momentum, float weight_decay) {
  // One pass over the arena, memory-bound (five streams): split it across the rank's threads.
#pragma omp parallel for simd schedule(static) if (count >= kParallelElements)
  for (int64_t i = 0; i < count; ++i) {
    float grad = grads[i] + weight_decay * params[i];
    float v = momentum * velocity[i] + grad;
    velocity[i] = v;
    params[i] -= lr * v;
  }
}

void adamw(float* params, const float* grads, float* m, float* v, int64_t count, float lr, float beta1, float beta2,
           float eps, float weight_decay, int64_t step) {
  const float correction1 = 1.0f - static_cast<float>(std::pow(static_cast<double>(beta1), static_cast<double>(step)));
  const float correction2 = 1.0f - static_cast<float>(std::pow(static_cast<double>(beta2), static_cast<double>(step)));
  const float step_size = lr / correction1, root_correction2 = std::sqrt(correction2);
  const float decay = 1.0f - lr * weight_decay;
#pragma omp parallel for simd schedule(static) if (count >= kParallelElements)
  for (int64_t i = 0; i < count; ++i) {
    const float g = grads[i];
    const float mi = beta1 * m[i] + (1.0f - beta1) * g;
    const float vi = beta2 * v[i] + (1.0f - beta2) * g * g;
    m[i] = mi;
    v[i] = vi;
    params[i] = params[i] * decay - step_size * mi / (std::sqrt(vi) / root_correction2 + eps);
  }
}

// Deterministic whatever the thread count (every rank must get bitwise the same norm to clip
// alike): fixed chunks summed in parallel, then the chunks' sums in order.
double sum_of_squares(const float* values, int64_t count) {
  constexpr int64_t kChunk = int64_t{1} << 14;
  const int64_t chunks = (count + kChunk - 1) / kChunk;
  thread_local std::vector<double> scratch;  // the calling thread's; grows once
  if (static_cast<int64_t>(scratch.size()) < chunks) scratch.resize(static_cast<size_t>(chunks));
  double* partial = scratch.data();  // (inside the parallel loop `scratch` would name each worker's own)
#pragma omp parallel for schedule(static) if (count >= kParallelElements)
  for (int64_t c = 0; c < chunks; ++c) {
    double sum = 0.0;
    const int64_t end = std::min(count, (c + 1) * kChunk);
    for (int64_t i = c * kChunk; i < end; ++i) sum += static_cast<double>(values[i]) * values[i];
    partial[c] = sum;
  }
  double total = 0.0;
  for (int64_t c = 0; c < chunks; ++c) total += partial[c];
  return total;
}

void scale(float* values, int64_t count, float factor) {
#pragma omp parallel for simd schedule(static) if (count >= kParallelElements)
  for (int64_t i = 0; i < count; ++i) values[i] *= factor;
}

}  // namespace rt::kernels::cpu
