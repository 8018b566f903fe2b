// The kernels of AttentionAlgorithm::kTensorCore (attention_tensor_core.cu launches them), in a
// header of their own so that a test can also run them on the CPU under a host emulation of the
// CUDA they use (tests/kernels/cuda_emulation.h, which defines RT_EMULATED_CUDA).
#pragma once

#ifndef RT_EMULATED_CUDA
#include <cuda_bf16.h>
#include <mma.h>
// The block's dynamic shared memory.
#define RT_DYNAMIC_SHARED_MEMORY(name) extern __shared__ __align__(128) unsigned char name[]
#endif

#include <cstdint>

namespace rt::kernels::cuda::tensor_core_attention {


using namespace nvcuda;
using Bf16 = __nv_bfloat16;

constexpr int kRows = 64;       // queries (or keys) per block: 4 warps of 16
constexpr int kWarps = 4;
constexpr int kKeys = 64;       // keys (or queries) per tile the block loops over
constexpr int kPadBf16 = 8;     // row padding of bf16 tiles (WMMA needs a multiple of 8 elements)
constexpr int kPadFloat = 4;    // of fp32 tiles (a multiple of 4)
constexpr int kScoreLd = kKeys + kPadFloat;  // a warp's 16 x 64 fp32 score tile
constexpr int kProbLd = kKeys + kPadBf16;    // a warp's 16 x 64 bf16 probability tile

template <int D>
struct Layout {
  static constexpr int kTileLd = D + kPadBf16;                 // a 64 x D bf16 tile's row stride
  static constexpr int kTileBytes = kRows * kTileLd * 2;
  static constexpr int kWarpScoreBytes = 16 * kScoreLd * 4;    // per warp
  static constexpr int kWarpProbBytes = 16 * kProbLd * 2;
  static constexpr int kWarpOutLd = D + kPadFloat;
  static constexpr int kWarpOutBytes = 16 * kWarpOutLd * 4;
  // Each kernel's shared memory: its tiles (and the dk-dv kernel's log-sum-exps and row sums of
  // 64 queries), then an area per warp; the kernels and their launches both read these.
  static constexpr int kForwardWarpsAt = 3 * kTileBytes;  // q, k, v
  static constexpr int kForwardWarpBytes = kWarpScoreBytes + kWarpProbBytes + kWarpOutBytes;
  static constexpr int kDqWarpsAt = 4 * kTileBytes;  // q, dO, k, v
  static constexpr int kDqWarpBytes = 2 * kWarpScoreBytes + kWarpProbBytes;
  static constexpr int kDkvWarpsAt = 4 * kTileBytes + 2 * kKeys * 4;
  static constexpr int kDkvWarpBytes = 2 * kWarpScoreBytes + 2 * kWarpProbBytes;
};

// The device code below needs bf16 WMMA (sm_80 on); the sm_75 pass compiles only the kernels'
// traps.
#if !defined(__CUDA_ARCH__) || __CUDA_ARCH__ >= 800
using FragA = wmma::fragment<wmma::matrix_a, 16, 16, 16, Bf16, wmma::row_major>;
using FragB = wmma::fragment<wmma::matrix_b, 16, 16, 16, Bf16, wmma::row_major>;
using FragBt = wmma::fragment<wmma::matrix_b, 16, 16, 16, Bf16, wmma::col_major>;  // a transposed row-major tile
using FragC = wmma::fragment<wmma::accumulator, 16, 16, 16, float>;

// Rows first .. first + 64 (those < T; the rest zero) of one head's D columns, from rows of
// `stride` floats, into a bf16 tile; all threads of the block help. Four floats per load where the
// rows are 16-byte aligned (as GPT's qkv and dy are), one otherwise.
template <int D>
__device__ void load_bf16_tile(const float* source, int64_t stride, int64_t first, int64_t T, Bf16* tile) {
  static_assert(D % 4 == 0, "whole groups of four columns");
  const bool aligned = stride % 4 == 0 && reinterpret_cast<uintptr_t>(source) % 16 == 0;
  if (aligned) {
    for (int index = threadIdx.x; index < kRows * D / 4; index += blockDim.x) {
      const int row = index / (D / 4), e = index % (D / 4) * 4;
      float4 value = make_float4(0.0f, 0.0f, 0.0f, 0.0f);
      if (first + row < T) value = *reinterpret_cast<const float4*>(source + (first + row) * stride + e);
      Bf16* out = tile + row * Layout<D>::kTileLd + e;
      out[0] = __float2bfloat16(value.x);
      out[1] = __float2bfloat16(value.y);
      out[2] = __float2bfloat16(value.z);
      out[3] = __float2bfloat16(value.w);
    }
    return;
  }
  for (int index = threadIdx.x; index < kRows * D; index += blockDim.x) {
    const int row = index / D, e = index % D;
    const float value = first + row < T ? source[(first + row) * stride + e] : 0.0f;
    tile[row * Layout<D>::kTileLd + e] = __float2bfloat16(value);
  }
}

// out (16 x 64, fp32, row stride kScoreLd) = a (16 x D rows of a tile) times b^T, where b is 64
// rows of a tile (so out[r][c] = dot(a row r, b row c)).
template <int D>
__device__ void product_abt(const Bf16* a, const Bf16* b, float* out) {
#pragma unroll
  for (int n = 0; n < kKeys / 16; ++n) {
    FragC accumulator;
    wmma::fill_fragment(accumulator, 0.0f);
#pragma unroll
    for (int k = 0; k < D / 16; ++k) {
      FragA fa;
      FragBt fb;
      wmma::load_matrix_sync(fa, a + k * 16, Layout<D>::kTileLd);
      wmma::load_matrix_sync(fb, b + n * 16 * Layout<D>::kTileLd + k * 16, Layout<D>::kTileLd);
      wmma::mma_sync(accumulator, fa, fb, accumulator);
    }
    wmma::store_matrix_sync(out + n * 16, accumulator, kScoreLd, wmma::mem_row_major);
  }
}

// accumulators[n] (16 x 16 column block n of a 16 x D result) += p (16 x 64 bf16, row stride
// kProbLd) times rows of a 64 x D tile.
template <int D>
__device__ void accumulate_pb(const Bf16* p, const Bf16* b, FragC (&accumulators)[D / 16]) {
#pragma unroll
  for (int k = 0; k < kKeys / 16; ++k) {
    FragA fa;
    wmma::load_matrix_sync(fa, p + k * 16, kProbLd);
#pragma unroll
    for (int n = 0; n < D / 16; ++n) {
      FragB fb;
      wmma::load_matrix_sync(fb, b + k * 16 * Layout<D>::kTileLd + n * 16, Layout<D>::kTileLd);
      wmma::mma_sync(accumulators[n], fa, fb, accumulators[n]);
    }
  }
}

// A warp's lane works on row lane / 2 of its 16 and on half (lane % 2) of the columns: the even
// or the odd ones (the two lanes of a row then fall in different shared memory banks).
__device__ inline int lane_row() { return (threadIdx.x % 32) / 2; }
__device__ inline int lane_half() { return threadIdx.x % 2; }

// The D-long dot product of a row of dO and of O (fp32, global), by a pair of lanes (each half of
// the columns), summed over the pair; 0 where `valid` is false. Every lane of the warp must call it.
template <int D>
__device__ float pair_row_dot(bool valid, const float* d_out, const float* out) {
  float sum = 0.0f;
  if (valid) {
    const int first = lane_half() * (D / 2);
#pragma unroll 8
    for (int e = first; e < first + D / 2; ++e) sum += d_out[e] * out[e];
  }
  return sum + __shfl_xor_sync(0xffffffff, sum, 1);
}

// The tiles both backward kernels stage, from the start of their shared memory: q, dO, k, v.
struct BackwardTiles {
  Bf16 *queries, *grads, *keys, *values;
};
template <int D>
__device__ BackwardTiles backward_tiles(unsigned char* shared) {
  auto tile = [&](int index) { return reinterpret_cast<Bf16*>(shared + index * Layout<D>::kTileBytes); };
  return {tile(0), tile(1), tile(2), tile(3)};
}

#endif

template <int D>
__global__ void __launch_bounds__(kWarps * 32) tc_forward_kernel(const float* qkv, float* y, float* lse, int64_t T,
                                                                 int64_t H, float scale) {
#if !defined(__CUDA_ARCH__) || __CUDA_ARCH__ >= 800
  using L = Layout<D>;
  RT_DYNAMIC_SHARED_MEMORY(shared);
  Bf16* queries = reinterpret_cast<Bf16*>(shared);
  Bf16* keys = reinterpret_cast<Bf16*>(shared + L::kTileBytes);
  Bf16* values = reinterpret_cast<Bf16*>(shared + 2 * L::kTileBytes);
  const int warp = threadIdx.x / 32;
  unsigned char* warp_area = shared + L::kForwardWarpsAt + warp * L::kForwardWarpBytes;
  float* scores = reinterpret_cast<float*>(warp_area);
  Bf16* probabilities = reinterpret_cast<Bf16*>(warp_area + L::kWarpScoreBytes);
  float* out = reinterpret_cast<float*>(warp_area + L::kWarpScoreBytes + L::kWarpProbBytes);

  const int64_t C = H * D, bh = blockIdx.y, b = bh / H, h = bh % H;
  const int64_t first_query = int64_t{blockIdx.x} * kRows;
  const float* window = qkv + b * T * 3 * C;
  load_bf16_tile<D>(window + h * D, 3 * C, first_query, T, queries);
  const int r = lane_row(), half = lane_half();
  const int64_t i = first_query + warp * 16 + r;
  for (int e = half; e < D; e += 2) out[r * L::kWarpOutLd + e] = 0.0f;
  float running_max = -INFINITY, running_sum = 0.0f;
  const int64_t last_key = first_query + kRows < T ? first_query + kRows : T;  // exclusive
  for (int64_t key0 = 0; key0 < last_key; key0 += kKeys) {
    __syncthreads();  // the previous key and value tiles are used up (and the queries are in)
    load_bf16_tile<D>(window + C + h * D, 3 * C, key0, T, keys);
    load_bf16_tile<D>(window + 2 * C + h * D, 3 * C, key0, T, values);
    __syncthreads();
    product_abt<D>(queries + warp * 16 * L::kTileLd, keys, scores);
    __syncwarp();
    // The online softmax of this lane's 32 columns of the row, the pair of lanes combined.
    float* row = scores + r * kScoreLd;
    float tile_max = -INFINITY;
    for (int c = half; c < kKeys; c += 2) {
      const int64_t j = key0 + c;
      const float s = (i < T && j <= i) ? row[c] * scale : -INFINITY;
      row[c] = s;
      tile_max = fmaxf(tile_max, s);
    }
    tile_max = fmaxf(tile_max, __shfl_xor_sync(0xffffffff, tile_max, 1));
    const float new_max = fmaxf(running_max, tile_max);
    // A row with nothing visible yet (only rows past T, which are never written) keeps zeros.
    const float correction = new_max == -INFINITY ? 1.0f : __expf(running_max - new_max);
    float tile_sum = 0.0f;
    for (int c = half; c < kKeys; c += 2) {
      const float p = row[c] == -INFINITY ? 0.0f : __expf(row[c] - new_max);
      probabilities[r * kProbLd + c] = __float2bfloat16(p);
      tile_sum += p;
    }
    tile_sum += __shfl_xor_sync(0xffffffff, tile_sum, 1);
    running_sum = running_sum * correction + tile_sum;
    running_max = new_max;
    for (int e = half; e < D; e += 2) out[r * L::kWarpOutLd + e] *= correction;
    __syncwarp();
    FragC accumulators[D / 16];
#pragma unroll
    for (int n = 0; n < D / 16; ++n) {
      wmma::load_matrix_sync(accumulators[n], out + n * 16, L::kWarpOutLd, wmma::mem_row_major);
    }
    accumulate_pb<D>(probabilities, values, accumulators);
#pragma unroll
    for (int n = 0; n < D / 16; ++n) {
      wmma::store_matrix_sync(out + n * 16, accumulators[n], L::kWarpOutLd, wmma::mem_row_major);
    }
    __syncwarp();
  }
  if (i >= T) return;
  const float inverse = 1.0f / running_sum;
  float* result = y + (b * T + i) * C + h * D;
  for (int e = half; e < D; e += 2) result[e] = out[r * L::kWarpOutLd + e] * inverse;
  if (half == 0) lse[bh * T + i] = running_max + logf(running_sum);
#else
  __trap();  // not launched: the host checks the compute capability
#endif
}

// delta[bh * T + i] = rowsum(dO O) of query i of head bh, for both backward kernels (each would
// otherwise recompute it for every tile it visits): 64 rows a block, a pair of lanes per row.
template <int D>
__global__ void __launch_bounds__(kWarps * 32) tc_delta_kernel(const float* y, const float* dy, float* delta,
                                                              int64_t T, int64_t H, int64_t rows) {
#if !defined(__CUDA_ARCH__) || __CUDA_ARCH__ >= 800
  const int64_t row = int64_t{blockIdx.x} * kRows + threadIdx.x / 2;  // (bh, i) flattened
  const int64_t bh = row / T, i = row % T, b = bh / H, h = bh % H, C = H * D;
  const int64_t at = (b * T + i) * C + h * D;
  const float sum = pair_row_dot<D>(row < rows, dy + at, y + at);
  if (row < rows && lane_half() == 0) delta[row] = sum;
#else
  __trap();
#endif
}

template <int D>
__global__ void __launch_bounds__(kWarps * 32) tc_backward_dq_kernel(const float* qkv, const float* deltas,
                                                                     const float* lse, const float* dy, float* dqkv,
                                                                     int64_t T, int64_t H, float scale) {
#if !defined(__CUDA_ARCH__) || __CUDA_ARCH__ >= 800
  using L = Layout<D>;
  RT_DYNAMIC_SHARED_MEMORY(shared);
  const auto [queries, grads, keys, values] = backward_tiles<D>(shared);
  const int warp = threadIdx.x / 32;
  unsigned char* warp_area = shared + L::kDqWarpsAt + warp * L::kDqWarpBytes;
  float* scores = reinterpret_cast<float*>(warp_area);
  float* score_grads = reinterpret_cast<float*>(warp_area + L::kWarpScoreBytes);  // dP
  Bf16* ds_tile = reinterpret_cast<Bf16*>(warp_area + 2 * L::kWarpScoreBytes);

  const int64_t C = H * D, bh = blockIdx.y, b = bh / H, h = bh % H;
  const int64_t first_query = int64_t{blockIdx.x} * kRows;
  const float* window = qkv + b * T * 3 * C;
  load_bf16_tile<D>(window + h * D, 3 * C, first_query, T, queries);
  load_bf16_tile<D>(dy + b * T * C + h * D, C, first_query, T, grads);
  const int r = lane_row(), half = lane_half();
  const int64_t i = first_query + warp * 16 + r;
  const float row_lse = i < T ? lse[bh * T + i] : 0.0f;
  const float delta = i < T ? deltas[bh * T + i] : 0.0f;
  FragC dq[D / 16];
#pragma unroll
  for (int n = 0; n < D / 16; ++n) wmma::fill_fragment(dq[n], 0.0f);
  const int64_t last_key = first_query + kRows < T ? first_query + kRows : T;
  for (int64_t key0 = 0; key0 < last_key; key0 += kKeys) {
    __syncthreads();
    load_bf16_tile<D>(window + C + h * D, 3 * C, key0, T, keys);
    load_bf16_tile<D>(window + 2 * C + h * D, 3 * C, key0, T, values);
    __syncthreads();
    product_abt<D>(queries + warp * 16 * L::kTileLd, keys, scores);        // S
    product_abt<D>(grads + warp * 16 * L::kTileLd, values, score_grads);   // dP = dO V^T
    __syncwarp();
    for (int c = half; c < kKeys; c += 2) {
      const int64_t j = key0 + c;
      float ds = 0.0f;
      if (i < T && j <= i) {
        const float p = __expf(scores[r * kScoreLd + c] * scale - row_lse);
        ds = p * (score_grads[r * kScoreLd + c] - delta);
      }
      ds_tile[r * kProbLd + c] = __float2bfloat16(ds);
    }
    __syncwarp();
    accumulate_pb<D>(ds_tile, keys, dq);  // dQ += dS K
    __syncwarp();
  }
  // Through the score tile (free now) to the rows of dqkv, times the score scale.
  constexpr int kOutLd = L::kWarpOutLd;
  static_assert(16 * kOutLd * 4 <= 2 * L::kWarpScoreBytes, "dq fits where the scores were");
#pragma unroll
  for (int n = 0; n < D / 16; ++n) wmma::store_matrix_sync(scores + n * 16, dq[n], kOutLd, wmma::mem_row_major);
  __syncwarp();
  if (i >= T) return;
  float* grad = dqkv + (b * T + i) * 3 * C + h * D;
  for (int e = half; e < D; e += 2) grad[e] = scores[r * kOutLd + e] * scale;
#else
  __trap();
#endif
}

template <int D>
__global__ void __launch_bounds__(kWarps * 32) tc_backward_dkv_kernel(const float* qkv, const float* deltas,
                                                                      const float* lse, const float* dy, float* dqkv,
                                                                      int64_t T, int64_t H, float scale) {
#if !defined(__CUDA_ARCH__) || __CUDA_ARCH__ >= 800
  using L = Layout<D>;
  RT_DYNAMIC_SHARED_MEMORY(shared);
  const auto [queries, grads, keys, values] = backward_tiles<D>(shared);
  float* tile_lse = reinterpret_cast<float*>(shared + 4 * L::kTileBytes);
  float* tile_delta = tile_lse + kKeys;
  const int warp = threadIdx.x / 32;
  unsigned char* warp_area = shared + L::kDkvWarpsAt + warp * L::kDkvWarpBytes;
  float* scores = reinterpret_cast<float*>(warp_area);                              // S^T: keys x queries
  float* score_grads = reinterpret_cast<float*>(warp_area + L::kWarpScoreBytes);    // dP^T
  Bf16* p_tile = reinterpret_cast<Bf16*>(warp_area + 2 * L::kWarpScoreBytes);       // P^T
  Bf16* ds_tile = reinterpret_cast<Bf16*>(warp_area + 2 * L::kWarpScoreBytes + L::kWarpProbBytes);  // dS^T

  const int64_t C = H * D, bh = blockIdx.y, b = bh / H, h = bh % H;
  const int64_t first_key = int64_t{blockIdx.x} * kRows;
  const float* window = qkv + b * T * 3 * C;
  load_bf16_tile<D>(window + C + h * D, 3 * C, first_key, T, keys);
  load_bf16_tile<D>(window + 2 * C + h * D, 3 * C, first_key, T, values);
  const int r = lane_row(), half = lane_half();
  const int64_t j = first_key + warp * 16 + r;
  FragC dk[D / 16], dv[D / 16];
#pragma unroll
  for (int n = 0; n < D / 16; ++n) {
    wmma::fill_fragment(dk[n], 0.0f);
    wmma::fill_fragment(dv[n], 0.0f);
  }
  for (int64_t query0 = first_key; query0 < T; query0 += kKeys) {
    __syncthreads();  // the previous query tiles are used up
    load_bf16_tile<D>(window + h * D, 3 * C, query0, T, queries);
    load_bf16_tile<D>(dy + b * T * C + h * D, C, query0, T, grads);
    // The log-sum-exp and rowsum(dO O) of the tile's 64 queries.
    if (threadIdx.x < kKeys) {
      const int64_t i = query0 + threadIdx.x;
      tile_lse[threadIdx.x] = i < T ? lse[bh * T + i] : 0.0f;
      tile_delta[threadIdx.x] = i < T ? deltas[bh * T + i] : 0.0f;
    }
    __syncthreads();
    product_abt<D>(keys + warp * 16 * L::kTileLd, queries, scores);       // S^T = K Q^T
    product_abt<D>(values + warp * 16 * L::kTileLd, grads, score_grads);  // dP^T = V dO^T
    __syncwarp();
    for (int c = half; c < kKeys; c += 2) {
      const int64_t i = query0 + c;
      float p = 0.0f, ds = 0.0f;
      if (j < T && i < T && i >= j) {
        p = __expf(scores[r * kScoreLd + c] * scale - tile_lse[c]);
        ds = p * (score_grads[r * kScoreLd + c] - tile_delta[c]);
      }
      p_tile[r * kProbLd + c] = __float2bfloat16(p);
      ds_tile[r * kProbLd + c] = __float2bfloat16(ds);
    }
    __syncwarp();
    accumulate_pb<D>(p_tile, grads, dv);     // dV += P^T dO
    accumulate_pb<D>(ds_tile, queries, dk);  // dK += dS^T Q
  }
  constexpr int kOutLd = L::kWarpOutLd;
  static_assert(16 * kOutLd * 4 <= L::kWarpScoreBytes, "dk (dv) fits where the scores (their gradients) were");
  __syncwarp();
#pragma unroll
  for (int n = 0; n < D / 16; ++n) {
    wmma::store_matrix_sync(scores + n * 16, dk[n], kOutLd, wmma::mem_row_major);
    wmma::store_matrix_sync(score_grads + n * 16, dv[n], kOutLd, wmma::mem_row_major);
  }
  __syncwarp();
  if (j >= T) return;
  float* grad = dqkv + (b * T + j) * 3 * C + h * D;
  for (int e = half; e < D; e += 2) {
    grad[C + e] = scores[r * kOutLd + e] * scale;
    grad[2 * C + e] = score_grads[r * kOutLd + e];
  }
#else
  __trap();
#endif
}

template <int D>
constexpr int forward_shared_bytes() {
  return Layout<D>::kForwardWarpsAt + kWarps * Layout<D>::kForwardWarpBytes;
}
template <int D>
constexpr int dq_shared_bytes() {
  return Layout<D>::kDqWarpsAt + kWarps * Layout<D>::kDqWarpBytes;
}
template <int D>
constexpr int dkv_shared_bytes() {
  return Layout<D>::kDkvWarpsAt + kWarps * Layout<D>::kDkvWarpBytes;
}

}  // namespace rt::kernels::cuda::tensor_core_attention
