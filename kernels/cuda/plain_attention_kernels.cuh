// The plain attention path of attention.cu (AttentionAlgorithm::kPlain): its kernels and the order
// of its kernels and products, in a header of their own so that a test can also run the whole path
// on the CPU under the host emulation of tests/kernels/cuda_emulation.h, with a CPU batched product
// standing in for cuBLAS's.
#pragma once

#include <cmath>
#include <cstdint>

#include "kernels/cuda/launch.h"
#include "kernels/kernels.h"

namespace RT_KERNELS_NAMESPACE::plain_attention {


#define RT_GRID_STRIDE(i, total)                                                                 \
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < (total); \
       i += int64_t{gridDim.x} * blockDim.x)

// [B, T, 3, H, d] <-> [3, B*H, T, d]: `to_heads` gathers, otherwise scatters back.
__global__ void permute_qkv_kernel(const float* in, float* out, int64_t B, int64_t T, int64_t H, int64_t d,
                                   bool to_heads) {
  const int64_t C = H * d;
  RT_GRID_STRIDE(i, B * T * 3 * C) {
    const int64_t e = i % d, h = (i / d) % H, which = (i / C) % 3, t = (i / (3 * C)) % T, b = i / (3 * C * T);
    const int64_t headed = ((which * B * H + b * H + h) * T + t) * d + e;
    if (to_heads) out[headed] = in[i];
    else out[i] = in[headed];
  }
}

// [B, T, H, d] <-> [B*H, T, d].
__global__ void permute_heads_kernel(const float* in, float* out, int64_t B, int64_t T, int64_t H, int64_t d,
                                     bool to_heads) {
  const int64_t C = H * d;
  RT_GRID_STRIDE(i, B * T * C) {
    const int64_t e = i % d, h = (i / d) % H, t = (i / C) % T, b = i / (C * T);
    const int64_t headed = ((b * H + h) * T + t) * d + e;
    if (to_heads) out[headed] = in[i];
    else out[i] = in[headed];
  }
}

// A warp per row i of a [rows = B*H*T, T] score matrix: keys j <= i (i = row % T) become
// probabilities, the rest zero; the row's log-sum-exp is written to lse.
__global__ void causal_softmax_kernel(float* scores, float* lse, int64_t rows, int64_t T) {
  const int64_t warp = (blockIdx.x * int64_t{blockDim.x} + threadIdx.x) / 32;
  const int lane = threadIdx.x % 32;
  if (warp >= rows) return;
  float* row = scores + warp * T;
  const int64_t last = warp % T;
  float max_score = -INFINITY;
  for (int64_t j = lane; j <= last; j += 32) max_score = fmaxf(max_score, row[j]);
  for (int offset = 16; offset > 0; offset /= 2) max_score = fmaxf(max_score, __shfl_xor_sync(0xffffffff, max_score, offset));
  float sum = 0.0f;
  for (int64_t j = lane; j <= last; j += 32) sum += expf(row[j] - max_score);
  for (int offset = 16; offset > 0; offset /= 2) sum += __shfl_xor_sync(0xffffffff, sum, offset);
  const float row_lse = max_score + logf(sum);
  for (int64_t j = lane; j < T; j += 32) row[j] = j <= last ? expf(row[j] - row_lse) : 0.0f;
  if (lane == 0) lse[warp] = row_lse;
}

// P from the scores and lse (masked entries 0).
__global__ void recompute_probabilities_kernel(float* scores, const float* lse, int64_t rows, int64_t T) {
  RT_GRID_STRIDE(i, rows * T) {
    const int64_t row = i / T, j = i % T;
    scores[i] = j <= row % T ? expf(scores[i] - lse[row]) : 0.0f;
  }
}

// delta[row] = dot(dO[row], O[row]) over d.
__global__ void row_dot_kernel(const float* a, const float* b, int64_t rows, int64_t d, float* out) {
  RT_GRID_STRIDE(row, rows) {
    float sum = 0.0f;
    for (int64_t e = 0; e < d; ++e) sum += a[row * d + e] * b[row * d + e];
    out[row] = sum;
  }
}

// dS = P * (dP - delta) * scale, in place of dP.
__global__ void softmax_backward_kernel(const float* p, float* dp, const float* delta, int64_t rows, int64_t T,
                                        float scale) {
  RT_GRID_STRIDE(i, rows * T) { dp[i] = p[i] * (dp[i] - delta[i / T]) * scale; }
}

#undef RT_GRID_STRIDE

// The plain path's workspace: q, k, v by head; O; dO; dq, dk, dv by head; S; dS.
struct PlainWorkspace {
  float *q, *k, *v, *o, *d_o, *dq, *dk, *dv, *s, *ds;
  PlainWorkspace(const AttentionShape& shape, float* base) {
    const int64_t n = shape.rows * shape.context * shape.width, scores = shape.rows * shape.heads * shape.context * shape.context;
    q = base; k = q + n; v = k + n; o = v + n; d_o = o + n; dq = d_o + n; dk = dq + n; dv = dk + n; s = dv + n;
    ds = s + scores;
  }
  static int64_t floats(const AttentionShape& shape) {
    return 8 * shape.rows * shape.context * shape.width + 2 * shape.rows * shape.heads * shape.context * shape.context;
  }
};

// The path, forward and backward. `launch` launches kernels (launch.h); `batched_gemm(ta, tb, m, n,
// k, alpha, a, stride_a, b, stride_b, beta, c, stride_c, batch)` is a row-major strided batched
// product C = alpha op(A) op(B) + beta C.
template <typename Launch, typename BatchedGemm>
void forward(const Launch& launch, const BatchedGemm& batched_gemm, const AttentionShape& s, const float* qkv,
             float* y, float* lse, float* workspace) {
  const int64_t B = s.rows, T = s.context, H = s.heads, d = s.head_dim(), BH = B * H;
  const float scale = 1.0f / std::sqrt(static_cast<float>(d));
  PlainWorkspace w(s, workspace);
  launch(permute_qkv_kernel, Grid{blocks_for(B * T * 3 * H * d)}, kThreads, 0, qkv, w.q, B, T, H, d, true);
  batched_gemm(false, true, T, T, d, scale, w.q, T * d, w.k, T * d, 0.0f, w.s, T * T, BH);
  launch(causal_softmax_kernel, Grid{static_cast<unsigned>((BH * T * 32 + kThreads - 1) / kThreads)}, kThreads, 0, w.s,
         lse, BH * T, T);
  batched_gemm(false, false, T, d, T, 1.0f, w.s, T * T, w.v, T * d, 0.0f, w.o, T * d, BH);
  launch(permute_heads_kernel, Grid{blocks_for(B * T * H * d)}, kThreads, 0, static_cast<const float*>(w.o), y, B, T,
         H, d, false);
}

template <typename Launch, typename BatchedGemm>
void backward(const Launch& launch, const BatchedGemm& batched_gemm, const AttentionShape& s, const float* qkv,
              const float* y, const float* lse, const float* dy, float* dqkv, float* workspace) {
  const int64_t B = s.rows, T = s.context, H = s.heads, d = s.head_dim(), BH = B * H;
  const float scale = 1.0f / std::sqrt(static_cast<float>(d));
  PlainWorkspace w(s, workspace);
  const Grid blocks{blocks_for(B * T * H * d)};
  launch(permute_qkv_kernel, Grid{blocks_for(B * T * 3 * H * d)}, kThreads, 0, qkv, w.q, B, T, H, d, true);
  launch(permute_heads_kernel, blocks, kThreads, 0, y, w.o, B, T, H, d, true);
  launch(permute_heads_kernel, blocks, kThreads, 0, dy, w.d_o, B, T, H, d, true);
  // P again, from S and the log-sum-exp.
  batched_gemm(false, true, T, T, d, scale, w.q, T * d, w.k, T * d, 0.0f, w.s, T * T, BH);
  launch(recompute_probabilities_kernel, Grid{blocks_for(BH * T * T)}, kThreads, 0, w.s, lse, BH * T, T);
  // dV = P^T dO; dP = dO V^T; dS = P (dP - rowsum(dO O)) scale; dQ = dS K; dK = dS^T Q.
  batched_gemm(true, false, T, d, T, 1.0f, w.s, T * T, w.d_o, T * d, 0.0f, w.dv, T * d, BH);
  batched_gemm(false, true, T, T, d, 1.0f, w.d_o, T * d, w.v, T * d, 0.0f, w.ds, T * T, BH);
  float* delta = w.dq;  // dq is written only after delta is used up
  launch(row_dot_kernel, Grid{blocks_for(BH * T)}, kThreads, 0, static_cast<const float*>(w.d_o),
         static_cast<const float*>(w.o), BH * T, d, delta);
  launch(softmax_backward_kernel, Grid{blocks_for(BH * T * T)}, kThreads, 0, static_cast<const float*>(w.s), w.ds,
         static_cast<const float*>(delta), BH * T, T, scale);
  batched_gemm(false, false, T, d, T, 1.0f, w.ds, T * T, w.k, T * d, 0.0f, w.dq, T * d, BH);
  batched_gemm(true, false, T, d, T, 1.0f, w.ds, T * T, w.q, T * d, 0.0f, w.dk, T * d, BH);
  launch(permute_qkv_kernel, Grid{blocks_for(B * T * 3 * H * d)}, kThreads, 0, static_cast<const float*>(w.dq), dqkv,
         B, T, H, d, false);
}

}  // namespace RT_KERNELS_NAMESPACE::plain_attention
