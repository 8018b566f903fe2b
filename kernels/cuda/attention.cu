// Causal multi-head self-attention on the GPU, two ways (kernels.h; the third, kTensorCore, is in
// attention_tensor_core.cu):
//
// kPlain, the reference: q, k and v are gathered per head into [B*H, T, d] arrays, the scores
// S = q k^T / sqrt(d) and the products with them are cuBLAS strided batched GEMMs, and a warp per
// row takes the masked softmax; backward recomputes P from S and the saved log-sum-exp.
//
// kFused, in the manner of flash attention: the T x T matrix is never stored. Forward: a block
// per 64 queries of one head, a thread per query, key/value tiles of 64 staged in shared memory
// and an online softmax (running maximum and sum, the output rescaled when the maximum grows).
// Backward, as two kernels so that every gradient has one writer and the sums are deterministic:
// per query tile dq (looping over key tiles), and per key tile dk and dv (looping over the query
// tiles at or after it); both recompute the probabilities from the log-sum-exp. (Its kernels:
// fused_attention_kernels.cuh.)
#include <cmath>

#include "core/base/check.h"
#include "core/base/check_cuda.h"
#include "kernels/cuda/context.h"
#include "kernels/cuda/cuda_kernels.h"
#include "kernels/cuda/fused_attention_kernels.cuh"

namespace rt::kernels::cuda {

namespace {

#define GRID_STRIDE(i, total)                                                                 \
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < (total); \
       i += int64_t{gridDim.x} * blockDim.x)

// [B, T, 3, H, d] <-> [3, B*H, T, d]: `to_heads` gathers, otherwise scatters back.
__global__ void permute_qkv_kernel(const float* in, float* out, int64_t B, int64_t T, int64_t H, int64_t d,
                                   bool to_heads) {
  const int64_t C = H * d;
  GRID_STRIDE(i, B * T * 3 * C) {
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
  GRID_STRIDE(i, B * T * C) {
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
  GRID_STRIDE(i, rows * T) {
    const int64_t row = i / T, j = i % T;
    scores[i] = j <= row % T ? expf(scores[i] - lse[row]) : 0.0f;
  }
}

// delta[row] = dot(dO[row], O[row]) over d.
__global__ void row_dot_kernel(const float* a, const float* b, int64_t rows, int64_t d, float* out) {
  GRID_STRIDE(row, rows) {
    float sum = 0.0f;
    for (int64_t e = 0; e < d; ++e) sum += a[row * d + e] * b[row * d + e];
    out[row] = sum;
  }
}

// dS = P * (dP - delta) * scale, in place of dP.
__global__ void softmax_backward_kernel(const float* p, float* dp, const float* delta, int64_t rows, int64_t T,
                                        float scale) {
  GRID_STRIDE(i, rows * T) { dp[i] = p[i] * (dp[i] - delta[i / T]) * scale; }
}

// Row-major strided batched product C = alpha op(A) op(B) + beta C.
void batched_gemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t stride_a,
                  const float* b, int64_t stride_b, float beta, float* c, int64_t stride_c, int64_t batch) {
  const int lda = static_cast<int>(ta ? m : k), ldb = static_cast<int>(tb ? k : n);
  RT_CHECK_CUBLAS(cublasGemmStridedBatchedEx(
      blas_handle(), tb ? CUBLAS_OP_T : CUBLAS_OP_N, ta ? CUBLAS_OP_T : CUBLAS_OP_N, static_cast<int>(n),
      static_cast<int>(m), static_cast<int>(k), &alpha, b, CUDA_R_32F, ldb, stride_b, a, CUDA_R_32F, lda, stride_a, &beta,
      c, CUDA_R_32F, static_cast<int>(n), stride_c, static_cast<int>(batch), compute_type(), CUBLAS_GEMM_DEFAULT));
}

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

bool use_fused(AttentionAlgorithm algorithm, const AttentionShape& shape) {
  return algorithm == AttentionAlgorithm::kFused && fused_attention::supported(shape.head_dim());
}

template <int D>
void fused_forward(const AttentionShape& s, const float* qkv, float* y, float* lse, float scale) {
  fused_attention::launch_forward<D>(StreamLaunch{}, s.rows * s.heads, s.context, s.heads, qkv, y, lse, scale);
}

template <int D>
void fused_backward(const AttentionShape& s, const float* qkv, const float* y, const float* lse, const float* dy,
                    float* dqkv, float scale) {
  fused_attention::launch_backward<D>(StreamLaunch{}, s.rows * s.heads, s.context, s.heads, qkv, y, lse, dy, dqkv,
                                      scale);
}

bool use_tensor_cores(AttentionAlgorithm algorithm, const AttentionShape& shape) {
  return algorithm == AttentionAlgorithm::kTensorCore && tensor_core_attention_supported(shape.head_dim());
}

}  // namespace

int64_t attention_workspace(AttentionAlgorithm algorithm, const AttentionShape& shape) {
  return use_fused(algorithm, shape) || use_tensor_cores(algorithm, shape) ? 0 : PlainWorkspace::floats(shape);
}

void attention_forward(AttentionAlgorithm algorithm, const AttentionShape& s, const float* qkv, float* y, float* lse,
                       float* workspace) {
  if (s.rows == 0) return;
  const int64_t B = s.rows, T = s.context, H = s.heads, d = s.head_dim(), BH = B * H;
  const float scale = 1.0f / std::sqrt(static_cast<float>(d));
  if (use_tensor_cores(algorithm, s)) return tensor_core_attention_forward(s, qkv, y, lse, scale);
  if (use_fused(algorithm, s)) {
    if (d == 16) return fused_forward<16>(s, qkv, y, lse, scale);
    if (d == 32) return fused_forward<32>(s, qkv, y, lse, scale);
    return fused_forward<64>(s, qkv, y, lse, scale);
  }
  RT_CHECK(workspace != nullptr, "plain attention needs a workspace of {} floats", PlainWorkspace::floats(s));
  PlainWorkspace w(s, workspace);
  permute_qkv_kernel<<<blocks_for(B * T * 3 * H * d), kThreads, 0, current_stream()>>>(qkv, w.q, B, T, H, d, true);
  RT_CHECK_LAUNCH(permute_qkv_kernel);
  batched_gemm(false, true, T, T, d, scale, w.q, T * d, w.k, T * d, 0.0f, w.s, T * T, BH);
  causal_softmax_kernel<<<static_cast<unsigned>((BH * T * 32 + kThreads - 1) / kThreads), kThreads, 0,
                          current_stream()>>>(w.s, lse, BH * T, T);
  RT_CHECK_LAUNCH(causal_softmax_kernel);
  batched_gemm(false, false, T, d, T, 1.0f, w.s, T * T, w.v, T * d, 0.0f, w.o, T * d, BH);
  permute_heads_kernel<<<blocks_for(B * T * H * d), kThreads, 0, current_stream()>>>(w.o, y, B, T, H, d, false);
  RT_CHECK_LAUNCH(permute_heads_kernel);
}

void attention_backward(AttentionAlgorithm algorithm, const AttentionShape& s, const float* qkv, const float* y,
                        const float* lse, const float* dy, float* dqkv, float* workspace) {
  if (s.rows == 0) return;
  const int64_t B = s.rows, T = s.context, H = s.heads, d = s.head_dim(), BH = B * H;
  const float scale = 1.0f / std::sqrt(static_cast<float>(d));
  if (use_tensor_cores(algorithm, s)) return tensor_core_attention_backward(s, qkv, y, lse, dy, dqkv, scale);
  if (use_fused(algorithm, s)) {
    if (d == 16) return fused_backward<16>(s, qkv, y, lse, dy, dqkv, scale);
    if (d == 32) return fused_backward<32>(s, qkv, y, lse, dy, dqkv, scale);
    return fused_backward<64>(s, qkv, y, lse, dy, dqkv, scale);
  }
  RT_CHECK(workspace != nullptr, "plain attention needs a workspace of {} floats", PlainWorkspace::floats(s));
  PlainWorkspace w(s, workspace);
  const unsigned blocks = blocks_for(B * T * H * d);
  permute_qkv_kernel<<<blocks_for(B * T * 3 * H * d), kThreads, 0, current_stream()>>>(qkv, w.q, B, T, H, d, true);
  RT_CHECK_LAUNCH(permute_qkv_kernel);
  permute_heads_kernel<<<blocks, kThreads, 0, current_stream()>>>(y, w.o, B, T, H, d, true);
  RT_CHECK_LAUNCH(permute_heads_kernel);
  permute_heads_kernel<<<blocks, kThreads, 0, current_stream()>>>(dy, w.d_o, B, T, H, d, true);
  RT_CHECK_LAUNCH(permute_heads_kernel);
  // P again, from S and the log-sum-exp.
  batched_gemm(false, true, T, T, d, scale, w.q, T * d, w.k, T * d, 0.0f, w.s, T * T, BH);
  recompute_probabilities_kernel<<<blocks_for(BH * T * T), kThreads, 0, current_stream()>>>(w.s, lse, BH * T, T);
  RT_CHECK_LAUNCH(recompute_probabilities_kernel);
  // dV = P^T dO; dP = dO V^T; dS = P (dP - rowsum(dO O)) scale; dQ = dS K; dK = dS^T Q.
  batched_gemm(true, false, T, d, T, 1.0f, w.s, T * T, w.d_o, T * d, 0.0f, w.dv, T * d, BH);
  batched_gemm(false, true, T, T, d, 1.0f, w.d_o, T * d, w.v, T * d, 0.0f, w.ds, T * T, BH);
  float* delta = w.dq;  // dq is written only after delta is used up
  row_dot_kernel<<<blocks_for(BH * T), kThreads, 0, current_stream()>>>(w.d_o, w.o, BH * T, d, delta);
  RT_CHECK_LAUNCH(row_dot_kernel);
  softmax_backward_kernel<<<blocks_for(BH * T * T), kThreads, 0, current_stream()>>>(w.s, w.ds, delta, BH * T, T, scale);
  RT_CHECK_LAUNCH(softmax_backward_kernel);
  batched_gemm(false, false, T, d, T, 1.0f, w.ds, T * T, w.k, T * d, 0.0f, w.dq, T * d, BH);
  batched_gemm(true, false, T, d, T, 1.0f, w.ds, T * T, w.q, T * d, 0.0f, w.dk, T * d, BH);
  permute_qkv_kernel<<<blocks_for(B * T * 3 * H * d), kThreads, 0, current_stream()>>>(w.dq, dqkv, B, T, H, d, false);
  RT_CHECK_LAUNCH(permute_qkv_kernel);
}

}  // namespace rt::kernels::cuda
