// Causal multi-head self-attention on the GPU, two ways (kernels.h; the third, kTensorCore, is in
// attention_tensor_core.cu):
//
// kPlain, the reference: q, k and v are gathered per head into [B*H, T, d] arrays, the scores
// S = q k^T / sqrt(d) and the products with them are cuBLAS strided batched GEMMs, and a warp per
// row takes the masked softmax; backward recomputes P from S and the saved log-sum-exp. (Its
// kernels and their order: plain_attention_kernels.cuh.)
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
#include "kernels/cuda/plain_attention_kernels.cuh"

namespace rt::kernels::cuda {

namespace {

using plain_attention::PlainWorkspace;

// Row-major strided batched product C = alpha op(A) op(B) + beta C.
void batched_gemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t stride_a,
                  const float* b, int64_t stride_b, float beta, float* c, int64_t stride_c, int64_t batch) {
  const int lda = static_cast<int>(ta ? m : k), ldb = static_cast<int>(tb ? k : n);
  RT_CHECK_CUBLAS(cublasGemmStridedBatchedEx(
      blas_handle(), tb ? CUBLAS_OP_T : CUBLAS_OP_N, ta ? CUBLAS_OP_T : CUBLAS_OP_N, static_cast<int>(n),
      static_cast<int>(m), static_cast<int>(k), &alpha, b, CUDA_R_32F, ldb, stride_b, a, CUDA_R_32F, lda, stride_a, &beta,
      c, CUDA_R_32F, static_cast<int>(n), stride_c, static_cast<int>(batch), compute_type(), CUBLAS_GEMM_DEFAULT));
}

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
  const int64_t d = s.head_dim();
  const float scale = 1.0f / std::sqrt(static_cast<float>(d));
  if (use_tensor_cores(algorithm, s)) return tensor_core_attention_forward(s, qkv, y, lse, scale);
  if (use_fused(algorithm, s)) {
    if (d == 16) return fused_forward<16>(s, qkv, y, lse, scale);
    if (d == 32) return fused_forward<32>(s, qkv, y, lse, scale);
    return fused_forward<64>(s, qkv, y, lse, scale);
  }
  RT_CHECK(workspace != nullptr, "plain attention needs a workspace of {} floats", PlainWorkspace::floats(s));
  plain_attention::forward(StreamLaunch{}, batched_gemm, s, qkv, y, lse, workspace);
}

void attention_backward(AttentionAlgorithm algorithm, const AttentionShape& s, const float* qkv, const float* y,
                        const float* lse, const float* dy, float* dqkv, float* workspace) {
  if (s.rows == 0) return;
  const int64_t d = s.head_dim();
  const float scale = 1.0f / std::sqrt(static_cast<float>(d));
  if (use_tensor_cores(algorithm, s)) return tensor_core_attention_backward(s, qkv, y, lse, dy, dqkv, scale);
  if (use_fused(algorithm, s)) {
    if (d == 16) return fused_backward<16>(s, qkv, y, lse, dy, dqkv, scale);
    if (d == 32) return fused_backward<32>(s, qkv, y, lse, dy, dqkv, scale);
    return fused_backward<64>(s, qkv, y, lse, dy, dqkv, scale);
  }
  RT_CHECK(workspace != nullptr, "plain attention needs a workspace of {} floats", PlainWorkspace::floats(s));
  plain_attention::backward(StreamLaunch{}, batched_gemm, s, qkv, y, lse, dy, dqkv, workspace);
}

namespace {
void check_bf16_activations(AttentionAlgorithm algorithm, const AttentionShape& s) {
  RT_CHECK(use_tensor_cores(algorithm, s),
           "attention over bf16 activations needs the tensor-core kernels (model.attention = \"tensor_core\", "
           "heads of 32 or 64), not {} with heads of {}",
           attention_algorithm_name(algorithm), s.head_dim());
}
}  // namespace

void attention_forward(AttentionAlgorithm algorithm, const AttentionShape& s, const bfloat16* qkv, bfloat16* y,
                       float* lse, float*) {
  if (s.rows == 0) return;
  check_bf16_activations(algorithm, s);
  tensor_core_attention_forward(s, qkv, y, lse, 1.0f / std::sqrt(static_cast<float>(s.head_dim())));
}

void attention_backward(AttentionAlgorithm algorithm, const AttentionShape& s, const bfloat16* qkv, const bfloat16* y,
                        const float* lse, const float* dy, bfloat16* dqkv, float*) {
  if (s.rows == 0) return;
  check_bf16_activations(algorithm, s);
  tensor_core_attention_backward(s, qkv, y, lse, dy, dqkv, 1.0f / std::sqrt(static_cast<float>(s.head_dim())));
}

}  // namespace rt::kernels::cuda
