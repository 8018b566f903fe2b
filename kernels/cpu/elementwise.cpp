#include "kernels/cpu/cpu_kernels.h"
#include "kernels/cpu/parallel.h"
#include "kernels/dropout_mask.h"

namespace rt::kernels::cpu {

void relu_forward(const float* x, float* y, int64_t count) {
#pragma omp parallel for simd schedule(static) if (count >= kParallelElements)
  for (int64_t i = 0; i < count; ++i) y[i] = x[i] > 0.0f ? x[i] : 0.0f;
}

void add(const float* a, const float* b, float* y, int64_t count) {
#pragma omp parallel for simd schedule(static) if (count >= kParallelElements)
  for (int64_t i = 0; i < count; ++i) y[i] = a[i] + b[i];
}

void bytes_to_float(const uint8_t* bytes, float* y, int64_t count, float scale) {
#pragma omp parallel for simd schedule(static) if (count >= kParallelElements)
  for (int64_t i = 0; i < count; ++i) y[i] = static_cast<float>(bytes[i]) * scale;
}

void dropout(const float* x, float* y, int64_t count, float p, uint64_t key) {
  const float scale = 1.0f / (1.0f - p);
#pragma omp parallel for simd schedule(static) if (count >= kParallelElements)
  for (int64_t i = 0; i < count; ++i) y[i] = dropout_uniform(key, i) >= p ? x[i] * scale : 0.0f;
}

void relu_backward(const float* y, const float* dy, float* dx, int64_t count) {
#pragma omp parallel for simd schedule(static) if (count >= kParallelElements)
  for (int64_t i = 0; i < count; ++i) dx[i] = y[i] > 0.0f ? dy[i] : 0.0f;
}

void pointwise_activation_forward(PointwiseActivation activation, const float* x, float* y, int64_t count) {
  with_activation_functions(activation, [&](auto functions) {
    using F = decltype(functions);
#pragma omp parallel for simd schedule(static) if (count >= kParallelElements)
    for (int64_t i = 0; i < count; ++i) y[i] = F::forward(x[i]);
  });
}

void pointwise_activation_backward(PointwiseActivation activation, const float* x, const float* dy, float* dx,
                                   int64_t count) {
  with_activation_functions(activation, [&](auto functions) {
    using F = decltype(functions);
#pragma omp parallel for simd schedule(static) if (count >= kParallelElements)
    for (int64_t i = 0; i < count; ++i) dx[i] = dy[i] * F::derivative(x[i]);
  });
}

}  // namespace rt::kernels::cpu
