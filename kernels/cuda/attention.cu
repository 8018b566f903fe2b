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
// tiles at or after it); both recompute the probabilities from the log-sum-exp.
#include <cmath>

#include "core/base/check.h"
#include "core/base/check_cuda.h"
#include "kernels/cuda/context.h"
#include "kernels/cuda/cuda_kernels.h"

namespace rt::kernels::cuda {

namespace {

constexpr int kTile = 64;  // queries per block and keys per shared tile in the fused kernels

#define GRID_STRIDE(i, total)                                                                 \
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < (total); \
       i += int64_t{gridDim.x} * blockDim.x)

__device__ int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }
__device__ int64_t max64(int64_t a, int64_t b) { return a > b ? a : b; }

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

// ---- the fused kernels: a thread per query (or key) row of one head, D = head_dim ----

template <int D>
__device__ void load_row(const float* source, float* row) {
#pragma unroll
  for (int e = 0; e < D; ++e) row[e] = source[e];
}

// A register row times a row of a shared tile (16-byte aligned), and a register row plus a
// multiple of a shared row: shared memory read 4 floats at a time (one vector load serves 4 FMAs).
template <int D>
__device__ float dot_shared(const float* row, const float* shared_row) {
  const float4* vector = reinterpret_cast<const float4*>(shared_row);
  float sum = 0.0f;
#pragma unroll
  for (int e = 0; e < D / 4; ++e) {
    const float4 v = vector[e];
    sum += row[4 * e] * v.x;
    sum += row[4 * e + 1] * v.y;
    sum += row[4 * e + 2] * v.z;
    sum += row[4 * e + 3] * v.w;
  }
  return sum;
}

template <int D>
__device__ void add_shared(float a, const float* shared_row, float* row) {
  const float4* vector = reinterpret_cast<const float4*>(shared_row);
#pragma unroll
  for (int e = 0; e < D / 4; ++e) {
    const float4 v = vector[e];
    row[4 * e] += a * v.x;
    row[4 * e + 1] += a * v.y;
    row[4 * e + 2] += a * v.z;
    row[4 * e + 3] += a * v.w;
  }
}

// Copies `count` rows of D floats with the given row stride into a shared tile, all threads helping.
template <int D>
__device__ void load_tile(const float* source, int64_t stride, int count, float* tile) {
  for (int index = threadIdx.x; index < kTile * D; index += blockDim.x) {
    const int row = index / D, e = index % D;
    tile[index] = row < count ? source[row * stride + e] : 0.0f;
  }
}

// Stages keys and values key0 .. key0 + kTile of one head (all threads, so every thread must call
// it) and returns how many of them query i may see (0 for a thread past the end).
template <int D>
__device__ int load_key_value_tiles(const float* window, int64_t key0, int64_t i, int64_t T, int64_t C, int64_t h,
                                    float* keys, float* values) {
  const int count = static_cast<int>(min64(kTile, T - key0));
  __syncthreads();  // the previous tiles are used up
  load_tile<D>(window + key0 * 3 * C + C + h * D, 3 * C, count, keys);
  load_tile<D>(window + key0 * 3 * C + 2 * C + h * D, 3 * C, count, values);
  __syncthreads();
  return i < T ? static_cast<int>(min64(count, i - key0 + 1)) : 0;
}

template <int D>
__global__ void fused_forward_kernel(const float* qkv, float* y, float* lse, int64_t T, int64_t H, float scale) {
  __shared__ __align__(16) float keys[kTile * D];
  __shared__ __align__(16) float values[kTile * D];
  const int64_t C = H * D, bh = blockIdx.y, b = bh / H, h = bh % H;
  const int64_t first_query = int64_t{blockIdx.x} * kTile, i = first_query + threadIdx.x;
  const float* window = qkv + b * T * 3 * C;
  float q[D], o[D];
  if (i < T) load_row<D>(window + i * 3 * C + h * D, q);
#pragma unroll
  for (int e = 0; e < D; ++e) o[e] = 0.0f;
  float running_max = -INFINITY, running_sum = 0.0f;
  const int64_t last_key = min64(first_query + kTile, T);  // exclusive: the tile's last query + 1
  for (int64_t key0 = 0; key0 < last_key; key0 += kTile) {
    const int limit = load_key_value_tiles<D>(window, key0, i, T, C, h, keys, values);
    for (int j = 0; j < limit; ++j) {
      const float s = dot_shared<D>(q, keys + j * D) * scale;
      if (s > running_max) {
        const float correction = expf(running_max - s);
        running_sum *= correction;
#pragma unroll
        for (int e = 0; e < D; ++e) o[e] *= correction;
        running_max = s;
      }
      const float p = expf(s - running_max);
      running_sum += p;
      add_shared<D>(p, values + j * D, o);
    }
  }
  if (i >= T) return;
  const float inverse = 1.0f / running_sum;
  float* out = y + (b * T + i) * C + h * D;
#pragma unroll
  for (int e = 0; e < D; ++e) out[e] = o[e] * inverse;
  lse[bh * T + i] = running_max + logf(running_sum);
}

template <int D>
__global__ void fused_backward_dq_kernel(const float* qkv, const float* y, const float* lse, const float* dy,
                                         float* dqkv, int64_t T, int64_t H, float scale) {
  __shared__ __align__(16) float keys[kTile * D];
  __shared__ __align__(16) float values[kTile * D];
  const int64_t C = H * D, bh = blockIdx.y, b = bh / H, h = bh % H;
  const int64_t first_query = int64_t{blockIdx.x} * kTile, i = first_query + threadIdx.x;
  const float* window = qkv + b * T * 3 * C;
  float q[D], d_out[D], dq[D];
  float row_lse = 0.0f, delta = 0.0f;
  if (i < T) {
    load_row<D>(window + i * 3 * C + h * D, q);
    load_row<D>(dy + (b * T + i) * C + h * D, d_out);
    const float* out = y + (b * T + i) * C + h * D;
#pragma unroll
    for (int e = 0; e < D; ++e) delta += d_out[e] * out[e];
    row_lse = lse[bh * T + i];
  }
#pragma unroll
  for (int e = 0; e < D; ++e) dq[e] = 0.0f;
  const int64_t last_key = min64(first_query + kTile, T);
  for (int64_t key0 = 0; key0 < last_key; key0 += kTile) {
    const int limit = load_key_value_tiles<D>(window, key0, i, T, C, h, keys, values);
    for (int j = 0; j < limit; ++j) {
      const float s = dot_shared<D>(q, keys + j * D), dp = dot_shared<D>(d_out, values + j * D);
      const float ds = expf(s * scale - row_lse) * (dp - delta);
      add_shared<D>(ds, keys + j * D, dq);
    }
  }
  if (i >= T) return;
  float* grad = dqkv + (b * T + i) * 3 * C + h * D;
#pragma unroll
  for (int e = 0; e < D; ++e) grad[e] = dq[e] * scale;
}

template <int D>
__global__ void fused_backward_dkv_kernel(const float* qkv, const float* y, const float* lse, const float* dy,
                                          float* dqkv, int64_t T, int64_t H, float scale) {
  __shared__ __align__(16) float queries[kTile * D];
  __shared__ __align__(16) float grads[kTile * D];
  __shared__ float tile_lse[kTile];
  __shared__ float tile_delta[kTile];
  const int64_t C = H * D, bh = blockIdx.y, b = bh / H, h = bh % H;
  const int64_t first_key = int64_t{blockIdx.x} * kTile, j = first_key + threadIdx.x;
  const float* window = qkv + b * T * 3 * C;
  float k[D], v[D], dk[D], dv[D];
  if (j < T) {
    load_row<D>(window + j * 3 * C + C + h * D, k);
    load_row<D>(window + j * 3 * C + 2 * C + h * D, v);
  }
#pragma unroll
  for (int e = 0; e < D; ++e) dk[e] = dv[e] = 0.0f;
  for (int64_t query0 = first_key; query0 < T; query0 += kTile) {
    const int count = static_cast<int>(min64(kTile, T - query0));
    __syncthreads();
    load_tile<D>(window + query0 * 3 * C + h * D, 3 * C, count, queries);
    load_tile<D>(dy + (b * T + query0) * C + h * D, C, count, grads);
    if (threadIdx.x < count) {
      const int64_t i = query0 + threadIdx.x;
      const float* out = y + (b * T + i) * C + h * D;
      const float* d_out = dy + (b * T + i) * C + h * D;
      float delta = 0.0f;
      for (int e = 0; e < D; ++e) delta += d_out[e] * out[e];
      tile_delta[threadIdx.x] = delta;
      tile_lse[threadIdx.x] = lse[bh * T + i];
    }
    __syncthreads();
    if (j >= T) continue;
    // Queries i >= j only (causal).
    const int start = static_cast<int>(max64(0, j - query0));
    for (int r = start; r < count; ++r) {
      const float s = dot_shared<D>(k, queries + r * D), dp = dot_shared<D>(v, grads + r * D);
      const float p = expf(s * scale - tile_lse[r]);
      const float ds = p * (dp - tile_delta[r]);
      add_shared<D>(p, grads + r * D, dv);
      add_shared<D>(ds, queries + r * D, dk);
    }
  }
  if (j >= T) return;
  float* grad = dqkv + (b * T + j) * 3 * C + h * D;
#pragma unroll
  for (int e = 0; e < D; ++e) {
    grad[C + e] = dk[e] * scale;
    grad[2 * C + e] = dv[e];
  }
}

bool fused_supported(int64_t head_dim) { return head_dim == 16 || head_dim == 32 || head_dim == 64; }

template <int D>
void launch_fused_forward(const AttentionShape& s, const float* qkv, float* y, float* lse, float scale) {
  dim3 grid(static_cast<unsigned>((s.context + kTile - 1) / kTile), static_cast<unsigned>(s.rows * s.heads));
  fused_forward_kernel<D><<<grid, kTile, 0, current_stream()>>>(qkv, y, lse, s.context, s.heads, scale);
  RT_CHECK_LAUNCH(fused_forward_kernel);
}

template <int D>
void launch_fused_backward(const AttentionShape& s, const float* qkv, const float* y, const float* lse,
                           const float* dy, float* dqkv, float scale) {
  dim3 grid(static_cast<unsigned>((s.context + kTile - 1) / kTile), static_cast<unsigned>(s.rows * s.heads));
  fused_backward_dq_kernel<D><<<grid, kTile, 0, current_stream()>>>(qkv, y, lse, dy, dqkv, s.context, s.heads, scale);
  RT_CHECK_LAUNCH(fused_backward_dq_kernel);
  fused_backward_dkv_kernel<D><<<grid, kTile, 0, current_stream()>>>(qkv, y, lse, dy, dqkv, s.context, s.heads, scale);
  RT_CHECK_LAUNCH(fused_backward_dkv_kernel);
}

bool use_fused(AttentionAlgorithm algorithm, const AttentionShape& shape) {
  return algorithm == AttentionAlgorithm::kFused && fused_supported(shape.head_dim());
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
    if (d == 16) return launch_fused_forward<16>(s, qkv, y, lse, scale);
    if (d == 32) return launch_fused_forward<32>(s, qkv, y, lse, scale);
    return launch_fused_forward<64>(s, qkv, y, lse, scale);
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
    if (d == 16) return launch_fused_backward<16>(s, qkv, y, lse, dy, dqkv, scale);
    if (d == 32) return launch_fused_backward<32>(s, qkv, y, lse, dy, dqkv, scale);
    return launch_fused_backward<64>(s, qkv, y, lse, dy, dqkv, scale);
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
