// The kernels of normalization.cu and their launches, in a header of their own so that a test can
// also run them on the CPU under the host emulation of tests/kernels/cuda_emulation.h.
#pragma once

#include <cmath>
#include <cstdint>

#include "kernels/cuda/bf16.cuh"
#include "kernels/cuda/launch.h"

namespace RT_KERNELS_NAMESPACE {

constexpr float kSqrt2OverPi = 0.7978845608028654f;
constexpr float kCubic = 0.044715f;

__device__ inline float gelu(float v) { return 0.5f * v * (1.0f + tanhf(kSqrt2OverPi * (v + kCubic * v * v * v))); }
__device__ inline float gelu_slope(float v) {
  const float t = tanhf(kSqrt2OverPi * (v + kCubic * v * v * v));
  return 0.5f * (1.0f + t) + 0.5f * v * (1.0f - t * t) * kSqrt2OverPi * (1.0f + 3.0f * kCubic * v * v);
}

// One element at a time (the tail the four-wide kernels leave); x and y fp32 or bf16.
template <typename In, typename Out>
__global__ void gelu_forward_kernel(const In* x, Out* y, int64_t count) {
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < count; i += int64_t{gridDim.x} * blockDim.x) {
    store(y + i, gelu(load(x + i)));
  }
}
template <typename In4, typename Out4>
__global__ void gelu4_forward_kernel(const In4* x, Out4* y, int64_t count4) {
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < count4; i += int64_t{gridDim.x} * blockDim.x) {
    const float4 v = widened(x[i]);
    store4(y + i, make_float4(gelu(v.x), gelu(v.y), gelu(v.z), gelu(v.w)));
  }
}

// dx fp32, or bf16 where x is (a bf16 activation's gradient, rounded as it is stored).
template <typename In, typename Out>
__global__ void gelu_backward_kernel(const In* x, const float* dy, Out* dx, int64_t count) {
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < count; i += int64_t{gridDim.x} * blockDim.x) {
    store(dx + i, dy[i] * gelu_slope(load(x + i)));
  }
}
template <typename In4, typename Out4>
__global__ void gelu4_backward_kernel(const In4* x, const float4* dy, Out4* dx, int64_t count4) {
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < count4; i += int64_t{gridDim.x} * blockDim.x) {
    const float4 v = widened(x[i]), g = dy[i];
    store4(dx + i,
           make_float4(g.x * gelu_slope(v.x), g.y * gelu_slope(v.y), g.z * gelu_slope(v.z), g.w * gelu_slope(v.w)));
  }
}

// Layer norm a warp per row, kNormRowsPerBlock rows a block: a lane takes every 32nd feature, and
// the row's sums (in double, as on the CPU) are combined by shuffles in a fixed order. (A block per
// row spent most of its time in shared-memory reductions over three features a thread.)
constexpr int kNormRowsPerBlock = kThreads / 32;

__device__ inline double warp_sum(double value) {
#pragma unroll
  for (int offset = 16; offset > 0; offset /= 2) value += __shfl_xor_sync(0xffffffff, value, offset);
  return value;
}

// y fp32, or bf16 where only products read it (rounded as stored: the same values a product's
// rounding of the fp32 output would give).
template <typename Out>
__global__ void layer_norm_forward_kernel(const float* x, const float* gamma, const float* beta, int64_t rows,
                                          int64_t features, float eps, Out* y, float* mean, float* rstd) {
  const int64_t r = blockIdx.x * int64_t{kNormRowsPerBlock} + threadIdx.x / 32;
  if (r >= rows) return;  // the whole warp
  const int lane = threadIdx.x % 32;
  const float* in = x + r * features;
  double sum = 0.0;
  for (int64_t f = lane; f < features; f += 32) sum += in[f];
  const double mu = warp_sum(sum) / static_cast<double>(features);
  double squares = 0.0;
  for (int64_t f = lane; f < features; f += 32) squares += (in[f] - mu) * (in[f] - mu);
  const float inverse = static_cast<float>(1.0 / sqrt(warp_sum(squares) / static_cast<double>(features) + eps));
  const float mu_f = static_cast<float>(mu);
  if (lane == 0) {
    mean[r] = mu_f;
    rstd[r] = inverse;
  }
  Out* out = y + r * features;
  for (int64_t f = lane; f < features; f += 32) store(out + f, gamma[f] * (in[f] - mu_f) * inverse + beta[f]);
}

__global__ void layer_norm_input_grad_kernel(const float* dy, const float* x, const float* gamma, const float* mean,
                                             const float* rstd, int64_t rows, int64_t features, float* dx) {
  const int64_t r = blockIdx.x * int64_t{kNormRowsPerBlock} + threadIdx.x / 32;
  if (r >= rows) return;  // the whole warp
  const int lane = threadIdx.x % 32;
  const float* g = dy + r * features;
  const float* in = x + r * features;
  const float row_mean = mean[r], row_rstd = rstd[r];
  double sum_g = 0.0, sum_g_xhat = 0.0;
  for (int64_t f = lane; f < features; f += 32) {
    const double xhat = (in[f] - row_mean) * row_rstd;
    sum_g += static_cast<double>(g[f]) * gamma[f];
    sum_g_xhat += static_cast<double>(g[f]) * gamma[f] * xhat;
  }
  const double mean_g = warp_sum(sum_g) / static_cast<double>(features);
  const double mean_g_xhat = warp_sum(sum_g_xhat) / static_cast<double>(features);
  float* out = dx + r * features;
  for (int64_t f = lane; f < features; f += 32) {
    const double xhat = (in[f] - row_mean) * row_rstd;
    out[f] = static_cast<float>(row_rstd * (g[f] * gamma[f] - mean_g - xhat * mean_g_xhat));
  }
}

// The parameter gradients in two passes, so that many blocks share the rows and the sums still
// come out in a fixed order: each block sums one chunk of kParamChunkRows rows for its columns
// (a thread per column, reading rows coalesced); then a thread per column adds the chunks in order.
constexpr int64_t kParamChunkRows = 64;

__global__ void layer_norm_param_partial_kernel(const float* dy, const float* x, const float* mean, const float* rstd,
                                                int64_t rows, int64_t features, double* partial_gamma,
                                                double* partial_beta) {
  const int64_t f = blockIdx.x * int64_t{blockDim.x} + threadIdx.x;
  if (f >= features) return;
  const int64_t chunk = blockIdx.y, first = chunk * kParamChunkRows;
  const int64_t last = first + kParamChunkRows < rows ? first + kParamChunkRows : rows;
  double sum_gamma = 0.0, sum_beta = 0.0;
  for (int64_t r = first; r < last; ++r) {
    const float g = dy[r * features + f];
    sum_gamma += static_cast<double>(g) * (x[r * features + f] - mean[r]) * rstd[r];
    sum_beta += g;
  }
  partial_gamma[chunk * features + f] = sum_gamma;
  partial_beta[chunk * features + f] = sum_beta;
}

__global__ void layer_norm_param_total_kernel(const double* partial_gamma, const double* partial_beta, int64_t chunks,
                                              int64_t features, float beta_acc, float* dgamma, float* dbeta) {
  const int64_t f = blockIdx.x * int64_t{blockDim.x} + threadIdx.x;
  if (f >= features) return;
  double sum_gamma = 0.0, sum_beta = 0.0;
  for (int64_t c = 0; c < chunks; ++c) {
    sum_gamma += partial_gamma[c * features + f];
    sum_beta += partial_beta[c * features + f];
  }
  dgamma[f] = static_cast<float>(beta_acc == 0.0f ? sum_gamma : beta_acc * dgamma[f] + sum_gamma);
  dbeta[f] = static_cast<float>(beta_acc == 0.0f ? sum_beta : beta_acc * dbeta[f] + sum_beta);
}

// Both GELU passes, x, y and dx each fp32 or bf16: four elements at a time where every buffer
// allows it (fp32 16-byte, bf16 8-byte aligned), then the rest one at a time.
template <typename Launch, typename In, typename Out>
void launch_gelu_forward(const Launch& launch, const In* x, Out* y, int64_t count) {
  const int64_t vectors = four_aligned(x) && four_aligned(y) ? count / 4 : 0;
  if (vectors > 0) {
    launch(gelu4_forward_kernel<FourOf<In>, FourOf<Out>>, Grid{blocks_for(vectors)}, kThreads, 0,
           reinterpret_cast<const FourOf<In>*>(x), reinterpret_cast<FourOf<Out>*>(y), vectors);
  }
  const int64_t done = 4 * vectors;
  if (done == count) return;
  launch(gelu_forward_kernel<In, Out>, Grid{blocks_for(count - done)}, kThreads, 0, x + done, y + done, count - done);
}

template <typename Launch, typename In, typename Out>
void launch_gelu_backward(const Launch& launch, const In* x, const float* dy, Out* dx, int64_t count) {
  const int64_t vectors = four_aligned(x) && four_aligned(dy) && four_aligned(dx) ? count / 4 : 0;
  if (vectors > 0) {
    launch(gelu4_backward_kernel<FourOf<In>, FourOf<Out>>, Grid{blocks_for(vectors)}, kThreads, 0,
           reinterpret_cast<const FourOf<In>*>(x), reinterpret_cast<const float4*>(dy),
           reinterpret_cast<FourOf<Out>*>(dx), vectors);
  }
  const int64_t done = 4 * vectors;
  if (done == count) return;
  launch(gelu_backward_kernel<In, Out>, Grid{blocks_for(count - done)}, kThreads, 0, x + done, dy + done, dx + done,
         count - done);
}

inline Grid layer_norm_grid(int64_t rows) {
  return Grid{static_cast<unsigned>((rows + kNormRowsPerBlock - 1) / kNormRowsPerBlock)};
}

// y: float* or __nv_bfloat16*.
template <typename Launch, typename Out>
void launch_layer_norm_forward(const Launch& launch, const float* x, const float* gamma, const float* beta,
                               int64_t rows, int64_t features, float eps, Out* y, float* mean, float* rstd) {
  if (rows == 0) return;
  launch(layer_norm_forward_kernel<Out>, layer_norm_grid(rows), kThreads, 0, x, gamma, beta, rows, features, eps, y,
         mean, rstd);
}

template <typename Launch>
void launch_layer_norm_input_grad(const Launch& launch, const float* dy, const float* x, const float* gamma,
                                  const float* mean, const float* rstd, int64_t rows, int64_t features, float* dx) {
  if (rows == 0) return;
  launch(layer_norm_input_grad_kernel, layer_norm_grid(rows), kThreads, 0, dy, x, gamma, mean, rstd, rows, features,
         dx);
}

}  // namespace RT_KERNELS_NAMESPACE
