// GELU (tanh form) and layer normalisation on the CPU. Row loops are split across the rank's
// threads; the column sums of the parameter gradients go row by row in order, so the result does
// not depend on the thread count.
#include <cmath>

#include "kernels/cpu/cpu_kernels.h"
#include "kernels/cpu/parallel.h"

namespace rt::kernels::cpu {

namespace {
constexpr float kSqrt2OverPi = 0.7978845608028654f;
constexpr float kCubic = 0.044715f;
}  // namespace

void gelu_forward(const float* x, float* y, int64_t count) {
#pragma omp parallel for schedule(static) if (count >= kParallelElements)
  for (int64_t i = 0; i < count; ++i) {
    const float v = x[i];
    y[i] = 0.5f * v * (1.0f + std::tanh(kSqrt2OverPi * (v + kCubic * v * v * v)));
  }
}

void gelu_backward(const float* x, const float* dy, float* dx, int64_t count) {
#pragma omp parallel for schedule(static) if (count >= kParallelElements)
  for (int64_t i = 0; i < count; ++i) {
    const float v = x[i];
    const float t = std::tanh(kSqrt2OverPi * (v + kCubic * v * v * v));
    const float slope = 0.5f * (1.0f + t) + 0.5f * v * (1.0f - t * t) * kSqrt2OverPi * (1.0f + 3.0f * kCubic * v * v);
    dx[i] = dy[i] * slope;
  }
}

void layer_norm_forward(const float* x, const float* gamma, const float* beta, int64_t rows, int64_t features,
                        float eps, float* y, float* mean, float* rstd) {
#pragma omp parallel for schedule(static) if (rows * features >= kParallelElements)
  for (int64_t r = 0; r < rows; ++r) {
    const float* in = x + r * features;
    double sum = 0.0;
    for (int64_t f = 0; f < features; ++f) sum += in[f];
    const double mu = sum / static_cast<double>(features);
    double squares = 0.0;
    for (int64_t f = 0; f < features; ++f) squares += (in[f] - mu) * (in[f] - mu);
    const float inverse = static_cast<float>(1.0 / std::sqrt(squares / static_cast<double>(features) + eps));
    mean[r] = static_cast<float>(mu);
    rstd[r] = inverse;
    float* out = y + r * features;
    for (int64_t f = 0; f < features; ++f) out[f] = gamma[f] * (in[f] - mean[r]) * inverse + beta[f];
  }
}

void layer_norm_backward(const float* dy, const float* x, const float* gamma, const float* mean, const float* rstd,
                         int64_t rows, int64_t features, float beta_acc, float* dx, float* dgamma, float* dbeta) {
#pragma omp parallel for schedule(static) if (rows * features >= kParallelElements)
  for (int64_t r = 0; r < (dx ? rows : 0); ++r) {
    const float* g = dy + r * features;
    const float* in = x + r * features;
    double sum_g = 0.0, sum_g_xhat = 0.0;  // of dy * gamma, and of dy * gamma * xhat
    for (int64_t f = 0; f < features; ++f) {
      const double xhat = (in[f] - mean[r]) * rstd[r];
      sum_g += static_cast<double>(g[f]) * gamma[f];
      sum_g_xhat += static_cast<double>(g[f]) * gamma[f] * xhat;
    }
    const double mean_g = sum_g / static_cast<double>(features), mean_g_xhat = sum_g_xhat / static_cast<double>(features);
    float* out = dx + r * features;
    for (int64_t f = 0; f < features; ++f) {
      const double xhat = (in[f] - mean[r]) * rstd[r];
      out[f] = static_cast<float>(rstd[r] * (g[f] * gamma[f] - mean_g - xhat * mean_g_xhat));
    }
  }
#pragma omp parallel for schedule(static) if (rows * features >= kParallelElements)
  for (int64_t f = 0; f < features; ++f) {
    double sum_gamma = 0.0, sum_beta = 0.0;
    for (int64_t r = 0; r < rows; ++r) {
      const float g = dy[r * features + f];
      sum_gamma += static_cast<double>(g) * (x[r * features + f] - mean[r]) * rstd[r];
      sum_beta += g;
    }
    dgamma[f] = static_cast<float>(beta_acc == 0.0f ? sum_gamma : beta_acc * dgamma[f] + sum_gamma);
    dbeta[f] = static_cast<float>(beta_acc == 0.0f ? sum_beta : beta_acc * dbeta[f] + sum_beta);
  }
}

}  // namespace rt::kernels::cpu
