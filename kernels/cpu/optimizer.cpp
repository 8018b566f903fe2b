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

}  // namespace rt::kernels::cpu
