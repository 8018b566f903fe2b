// The kernels of AttentionAlgorithm::kTensorCore (attention_tensor_core.cu launches them), in a
// header of their own so that a test can also run them on the CPU under a host emulation of the
// CUDA they use (tests/kernels/cuda_emulation.h, which defines RT_EMULATED_CUDA).
//
// Every product is PTX's mma.m16n8k16 (bf16 inputs, fp32 sums) on fragments held in registers, as
// in flash attention 2: a warp owns 16 rows, its 16 x 64 score tile stays in registers as eight
// 16 x 8 accumulators, the online softmax runs on them there (a row's values are spread over the
// four lanes of a quad, combined with two shuffles), and the probabilities become the next
// product's A operand without leaving the registers, because an accumulator's layout is an A
// fragment's. Shared memory holds only the bf16 tiles the block shares (rows, or rows transposed
// where a product needs them as its B operand).
#pragma once

#ifndef RT_EMULATED_CUDA
#include <cuda_bf16.h>
// The block's dynamic shared memory.
#define RT_DYNAMIC_SHARED_MEMORY(name) extern __shared__ __align__(128) unsigned char name[]
#endif

#include <cstdint>

#include "kernels/cuda/bf16.cuh"
#include "kernels/cuda/launch.h"

namespace RT_KERNELS_NAMESPACE::tensor_core_attention {

using Bf16 = __nv_bfloat16;

constexpr int kRows = 64;  // queries (or keys) per block: 4 warps of 16
constexpr int kWarps = 4;
constexpr int kBlockThreads = kWarps * 32;
constexpr int kKeys = 64;  // keys (or queries) per tile the block loops over
constexpr int kPad = 8;    // bf16 row padding: a fragment's 8 rows x 4 words then fall in 32 different banks

template <int D>
struct Layout {
  static constexpr int kLd = D + kPad;         // a 64 x D tile (rows) in bf16
  static constexpr int kLdT = kKeys + kPad;    // a D x 64 tile (rows transposed)
  static constexpr int kTileBytes = kRows * kLd * 2;
  static constexpr int kTileTBytes = D * kLdT * 2;
  // Each kernel's shared memory, the kernels and their launches both reading these:
  // forward: q, k, v^T
  static constexpr int kForwardBytes = 2 * kTileBytes + kTileTBytes;
  // dq: q, dO (each read once into registers), k, v, k^T
  static constexpr int kDqBytes = 4 * kTileBytes + kTileTBytes;
  // dk-dv: q, dO, q^T, dO^T, the log-sum-exps and row sums of 64 queries (k and v pass through
  // the q and dO areas into registers first)
  static constexpr int kDkvLseAt = 2 * kTileBytes + 2 * kTileTBytes;
  static constexpr int kDkvBytes = kDkvLseAt + 2 * kKeys * 4;
};

// The blocks of the forward and both backward kernels: x over (batch row, head), y over the tiles
// of 64 rows. Blocks are started x first, so each kernel takes y in the order that starts the
// longest blocks first (the forward and dq: the last queries, which see the most keys; dk-dv:
// the first keys, which the most queries see) and the short ones fill the end.
inline Grid grid_for(int64_t rows_times_heads, int64_t T) {
  return {static_cast<unsigned>(rows_times_heads), static_cast<unsigned>((T + kRows - 1) / kRows)};
}

template <int D>
constexpr int forward_shared_bytes() {
  return Layout<D>::kForwardBytes;
}
template <int D>
constexpr int dq_shared_bytes() {
  return Layout<D>::kDqBytes;
}
template <int D>
constexpr int dkv_shared_bytes() {
  return Layout<D>::kDkvBytes;
}

// The device code below needs bf16 mma (sm_80 on); the sm_75 pass compiles only the kernels' traps.
#if !defined(__CUDA_ARCH__) || __CUDA_ARCH__ >= 800

#ifndef RT_EMULATED_CUDA
// c (16 x 8, fp32) += a (16 x 16, bf16) b (16 x 8, bf16). With g = lane / 4 and t = lane % 4, a
// lane holds (two bf16 a register, the lower column in the low half):
//   a[0]: row g, columns 2t, 2t+1;  a[1]: row g+8, same;  a[2]: row g, 2t+8, 2t+9;  a[3]: row g+8, same
//   b[0]: rows (k) 2t, 2t+1 of column g;  b[1]: rows 2t+8, 2t+9 of column g
//   c[0], c[1]: row g, columns 2t, 2t+1;  c[2], c[3]: row g+8, same
__device__ inline void mma_16816(float (&c)[4], const uint32_t (&a)[4], const uint32_t (&b)[2]) {
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
      "{%0,%1,%2,%3};\n"
      : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
}
#endif

// Two values rounded to bf16 in one register, `low` in the low half.
__device__ inline uint32_t pack_bf16(float low, float high) {
  return uint32_t{__bfloat16_as_ushort(__float2bfloat16(low))} |
         (uint32_t{__bfloat16_as_ushort(__float2bfloat16(high))} << 16);
}
// The two bf16 at `pair` (an even column of a tile) as one register.
__device__ inline uint32_t load_pair(const Bf16* pair) { return *reinterpret_cast<const uint32_t*>(pair); }


// Rows first .. first + 63 of one head's D columns (those < T; the rest zero), from fp32 or bf16
// rows of `stride` values (a GPT's bf16 activations: q, k and v already bf16, read at half the
// bytes and stored as they are), fetched into the block's registers and then stored in shared memory as bf16:
// as rows (tile[row][e], row stride Layout::kLd), as columns (tile[e][row], Layout::kLdT), or
// both from one fetch. Each thread holds two neighbouring rows (so that a column store writes
// whole registers) and four columns, D / 16 times over; all its loads are issued before any is
// used, so they are in flight together, and a kernel can fetch the next tile while it multiplies
// the current one. Four lanes read 16 contiguous values of a row; four values per load where the
// rows allow (fp32 16-byte, bf16 8-byte aligned, as GPT's qkv and dy are), one otherwise.
// Four neighbouring values, 16-byte (fp32) or 8-byte (bf16) aligned, as fp32.
__device__ inline float4 load4(const float* at) { return *reinterpret_cast<const float4*>(at); }
__device__ inline float4 load4(const Bf16* at) { return bf16x4_to_float4(*reinterpret_cast<const uint2*>(at)); }

template <int D>
struct TileInFlight {
  static_assert(D % 16 == 0, "whole steps of four lanes times four columns");
  static constexpr int kSteps = D / 16;
  float4 values[kSteps][2];

  __device__ static int pair() { return threadIdx.x / 4; }  // rows 2 pair and 2 pair + 1
  __device__ static int column(int step) { return (threadIdx.x % 4 + 4 * step) * 4; }

  template <typename T_>
  __device__ void fetch(const T_* source, int64_t stride, int64_t first, int64_t T) {
    const bool aligned = stride % 4 == 0 && reinterpret_cast<uintptr_t>(source) % (4 * sizeof(T_)) == 0;
#pragma unroll
    for (int step = 0; step < kSteps; ++step) {
#pragma unroll
      for (int k = 0; k < 2; ++k) {
        const int64_t row = first + 2 * pair() + k;
        values[step][k] = make_float4(0.0f, 0.0f, 0.0f, 0.0f);
        if (row < T) {
          const T_* at = source + row * stride + column(step);
          values[step][k] = aligned ? load4(at) : make_float4(load(at), load(at + 1), load(at + 2), load(at + 3));
        }
      }
    }
  }
  __device__ void store_rows(Bf16* tile) const {
#pragma unroll
    for (int step = 0; step < kSteps; ++step) {
#pragma unroll
      for (int k = 0; k < 2; ++k) {
        uint32_t* out = reinterpret_cast<uint32_t*>(tile + (2 * pair() + k) * Layout<D>::kLd + column(step));
        out[0] = pack_bf16(values[step][k].x, values[step][k].y);
        out[1] = pack_bf16(values[step][k].z, values[step][k].w);
      }
    }
  }
  __device__ void store_columns(Bf16* tile) const {
    constexpr int kWordsPerRow = Layout<D>::kLdT / 2;
#pragma unroll
    for (int step = 0; step < kSteps; ++step) {
      uint32_t* out = reinterpret_cast<uint32_t*>(tile + column(step) * Layout<D>::kLdT + 2 * pair());
      const float4 &even = values[step][0], &odd = values[step][1];
      out[0 * kWordsPerRow] = pack_bf16(even.x, odd.x);
      out[1 * kWordsPerRow] = pack_bf16(even.y, odd.y);
      out[2 * kWordsPerRow] = pack_bf16(even.z, odd.z);
      out[3 * kWordsPerRow] = pack_bf16(even.w, odd.w);
    }
  }
};

__device__ inline int lane_group() { return (threadIdx.x % 32) / 4; }  // g: the fragment row
__device__ inline int lane_in_group() { return threadIdx.x % 4; }      // t: the fragment column pair

// The A fragments of 16 rows of a row-major bf16 tile (row stride ld), all D columns.
template <int D>
__device__ void load_a(const Bf16* rows, int ld, uint32_t (&a)[D / 16][4]) {
  const int g = lane_group(), t = lane_in_group();
#pragma unroll
  for (int k = 0; k < D / 16; ++k) {
    const Bf16* at = rows + g * ld + k * 16 + 2 * t;
    a[k][0] = load_pair(at);
    a[k][1] = load_pair(at + 8 * ld);
    a[k][2] = load_pair(at + 8);
    a[k][3] = load_pair(at + 8 * ld + 8);
  }
}

// out (16 x N, as N / 8 accumulators) = a (16 x K, K / 16 fragments) times b^T, where b is a
// row-major bf16 tile of N rows and K columns (row stride ld): out[r][c] = dot(a row r, b row c).
template <int N, int K>
__device__ void product_abt(const uint32_t (&a)[K / 16][4], const Bf16* b, int ld, float (&out)[N / 8][4]) {
  const int g = lane_group(), t = lane_in_group();
#pragma unroll
  for (int n = 0; n < N / 8; ++n) {
    out[n][0] = out[n][1] = out[n][2] = out[n][3] = 0.0f;
#pragma unroll
    for (int k = 0; k < K / 16; ++k) {
      const Bf16* at = b + (n * 8 + g) * ld + k * 16 + 2 * t;
      const uint32_t fragment[2] = {load_pair(at), load_pair(at + 8)};
      mma_16816(out[n], a[k], fragment);
    }
  }
}

// The 16 x 64 tile p (eight accumulators) rounded to bf16 as four A fragments (keys 16k .. 16k+15
// in the k-th): an accumulator pair's layout is an A fragment's.
__device__ inline void to_a_fragments(const float (&p)[kKeys / 8][4], uint32_t (&a)[kKeys / 16][4]) {
#pragma unroll
  for (int k = 0; k < kKeys / 16; ++k) {
    a[k][0] = pack_bf16(p[2 * k][0], p[2 * k][1]);
    a[k][1] = pack_bf16(p[2 * k][2], p[2 * k][3]);
    a[k][2] = pack_bf16(p[2 * k + 1][0], p[2 * k + 1][1]);
    a[k][3] = pack_bf16(p[2 * k + 1][2], p[2 * k + 1][3]);
  }
}

// accumulators (16 x D) += p (16 x 64, four A fragments) times a 64 x D matrix given transposed:
// bt is a D x 64 bf16 tile (row stride Layout::kLdT).
template <int D>
__device__ void accumulate_pb(const uint32_t (&p)[kKeys / 16][4], const Bf16* bt, float (&accumulators)[D / 8][4]) {
  const int g = lane_group(), t = lane_in_group();
#pragma unroll
  for (int k = 0; k < kKeys / 16; ++k) {
#pragma unroll
    for (int n = 0; n < D / 8; ++n) {
      const Bf16* at = bt + (n * 8 + g) * Layout<D>::kLdT + k * 16 + 2 * t;
      const uint32_t fragment[2] = {load_pair(at), load_pair(at + 8)};
      mma_16816(accumulators[n], p[k], fragment);
    }
  }
}

// Reductions over the four lanes of a quad (the lanes that share a fragment row).
__device__ inline float quad_max(float value) {
  value = fmaxf(value, __shfl_xor_sync(0xffffffff, value, 1));
  return fmaxf(value, __shfl_xor_sync(0xffffffff, value, 2));
}
__device__ inline float quad_sum(float value) {
  value += __shfl_xor_sync(0xffffffff, value, 1);
  return value + __shfl_xor_sync(0xffffffff, value, 2);
}

// Where element e (0..3) of accumulator n lies in a 16 x 64 tile: its row (0..15) and column.
__device__ inline int element_row(int e) { return lane_group() + (e >= 2 ? 8 : 0); }
__device__ inline int element_column(int n, int e) { return n * 8 + 2 * lane_in_group() + (e & 1); }

// Writes a warp's 16 x D accumulators, times `factor` (per fragment row: rows g and g+8), into
// rows first .. first + 15 (those < T) of rows of `stride` values, fp32 or rounded to bf16.
template <int D, typename Out>
__device__ void store_rows(const float (&accumulators)[D / 8][4], const float (&factor)[2], int64_t first, int64_t T,
                           Out* destination, int64_t stride) {
#pragma unroll
  for (int half = 0; half < 2; ++half) {
    const int64_t row = first + lane_group() + 8 * half;
    if (row >= T) continue;
    Out* out = destination + row * stride + 2 * lane_in_group();
#pragma unroll
    for (int n = 0; n < D / 8; ++n) {
      store(out + n * 8, accumulators[n][2 * half] * factor[half]);
      store(out + n * 8 + 1, accumulators[n][2 * half + 1] * factor[half]);
    }
  }
}

#endif

// A: the activations' type, fp32 or bf16 (qkv and y).
template <int D, typename A>
__global__ void __launch_bounds__(kBlockThreads) tc_forward_kernel(const A* qkv, A* y, float* lse, int64_t T,
                                                                 int64_t H, float scale) {
#if !defined(__CUDA_ARCH__) || __CUDA_ARCH__ >= 800
  using L = Layout<D>;
  RT_DYNAMIC_SHARED_MEMORY(shared);
  Bf16* queries = reinterpret_cast<Bf16*>(shared);
  Bf16* keys = reinterpret_cast<Bf16*>(shared + L::kTileBytes);
  Bf16* values_t = reinterpret_cast<Bf16*>(shared + 2 * L::kTileBytes);
  const int warp = threadIdx.x / 32;
  const int64_t C = H * D, bh = blockIdx.x, b = bh / H, h = bh % H;
  const int64_t first_query = int64_t{gridDim.y - 1 - blockIdx.y} * kRows, warp_first = first_query + warp * 16;
  const A* window = qkv + b * T * 3 * C;
  TileInFlight<D> staged_keys, staged_values;  // the next key tile's keys and values
  {
    TileInFlight<D> staged_queries;
    staged_queries.fetch(window + h * D, 3 * C, first_query, T);
    staged_keys.fetch(window + C + h * D, 3 * C, 0, T);
    staged_values.fetch(window + 2 * C + h * D, 3 * C, 0, T);
    staged_queries.store_rows(queries);
  }
  __syncthreads();
  uint32_t q[D / 16][4];
  load_a<D>(queries + warp * 16 * L::kLd, L::kLd, q);

  float out[D / 8][4] = {};
  float running_max[2] = {-INFINITY, -INFINITY}, running_sum[2] = {0.0f, 0.0f};  // rows g, g+8 (sum: this lane's part)
  const int64_t last_key = first_query + kRows < T ? first_query + kRows : T;    // exclusive
  for (int64_t key0 = 0; key0 < last_key; key0 += kKeys) {
    __syncthreads();  // the previous key and value tiles are used up
    staged_keys.store_rows(keys);
    staged_values.store_columns(values_t);
    __syncthreads();
    if (key0 + kKeys < last_key) {  // the next tile's loads, in flight while this one is multiplied
      staged_keys.fetch(window + C + h * D, 3 * C, key0 + kKeys, T);
      staged_values.fetch(window + 2 * C + h * D, 3 * C, key0 + kKeys, T);
    }
    float s[kKeys / 8][4];
    product_abt<kKeys, D>(q, keys, L::kLd, s);
    // The keys after the query (and rows past T) masked, where the tile reaches them; scaled.
    if (key0 + kKeys - 1 > warp_first || warp_first + 15 >= T) {
#pragma unroll
      for (int n = 0; n < kKeys / 8; ++n) {
#pragma unroll
        for (int e = 0; e < 4; ++e) {
          const int64_t i = warp_first + element_row(e), j = key0 + element_column(n, e);
          if (i >= T || j > i) s[n][e] = -INFINITY;
        }
      }
    }
    float tile_max[2] = {-INFINITY, -INFINITY};
#pragma unroll
    for (int n = 0; n < kKeys / 8; ++n) {
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        s[n][e] *= scale;
        tile_max[e / 2] = fmaxf(tile_max[e / 2], s[n][e]);
      }
    }
    float correction[2];
#pragma unroll
    for (int half = 0; half < 2; ++half) {
      const float new_max = fmaxf(running_max[half], quad_max(tile_max[half]));
      // A row with nothing visible yet (only rows past T, which are never written) keeps zeros.
      correction[half] = new_max == -INFINITY ? 1.0f : __expf(running_max[half] - new_max);
      running_max[half] = new_max;
      running_sum[half] *= correction[half];
    }
#pragma unroll
    for (int n = 0; n < kKeys / 8; ++n) {
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        const float p = s[n][e] == -INFINITY ? 0.0f : __expf(s[n][e] - running_max[e / 2]);
        s[n][e] = p;
        running_sum[e / 2] += p;
      }
    }
#pragma unroll
    for (int n = 0; n < D / 8; ++n) {
#pragma unroll
      for (int e = 0; e < 4; ++e) out[n][e] *= correction[e / 2];
    }
    uint32_t p[kKeys / 16][4];
    to_a_fragments(s, p);
    accumulate_pb<D>(p, values_t, out);
  }
  float inverse[2];
#pragma unroll
  for (int half = 0; half < 2; ++half) {
    const float sum = quad_sum(running_sum[half]);
    inverse[half] = 1.0f / sum;
    const int64_t i = warp_first + lane_group() + 8 * half;
    if (i < T && lane_in_group() == 0) lse[bh * T + i] = running_max[half] + logf(sum);
  }
  store_rows<D>(out, inverse, warp_first, T, y + b * T * C + h * D, C);
#else
  __trap();  // not launched: the host checks the compute capability
#endif
}

// delta[bh * T + i] = rowsum(dO O) of query i of head bh, for both backward kernels (each would
// otherwise recompute it for every tile it visits): D / 4 lanes per row, each reading four
// neighbouring columns (one float4 where the rows are 16-byte aligned), their sums combined by
// shuffles; delta_rows_per_block<D>() rows a block.
template <int D>
constexpr int delta_rows_per_block() {
  return kBlockThreads / (D / 4);
}
template <int D, typename A>
__global__ void __launch_bounds__(kBlockThreads) tc_delta_kernel(const A* y, const float* dy, float* delta,
                                                                 int64_t T, int64_t H, int64_t rows) {
#if !defined(__CUDA_ARCH__) || __CUDA_ARCH__ >= 800
  constexpr int kLanesPerRow = D / 4;
  static_assert(32 % kLanesPerRow == 0, "a row's lanes within one warp");
  const int64_t row = int64_t{blockIdx.x} * delta_rows_per_block<D>() + threadIdx.x / kLanesPerRow;  // (bh, i)
  const int e = threadIdx.x % kLanesPerRow * 4;
  const int64_t C = H * D;
  float sum = 0.0f;
  if (row < rows) {
    const int64_t bh = row / T, i = row % T, b = bh / H, h = bh % H;
    const A* out = y + (b * T + i) * C + h * D + e;
    const float* grad = dy + (b * T + i) * C + h * D + e;
    const bool aligned = C % 4 == 0 && reinterpret_cast<uintptr_t>(y) % (4 * sizeof(A)) == 0 &&
                         reinterpret_cast<uintptr_t>(dy) % 16 == 0;
    const float4 o = aligned ? load4(out) : make_float4(load(out), load(out + 1), load(out + 2), load(out + 3));
    const float4 g = aligned ? load4(grad) : make_float4(grad[0], grad[1], grad[2], grad[3]);
    sum = o.x * g.x + o.y * g.y + o.z * g.z + o.w * g.w;
  }
#pragma unroll
  for (int offset = kLanesPerRow / 2; offset > 0; offset /= 2) sum += __shfl_xor_sync(0xffffffff, sum, offset);
  if (row < rows && e == 0) delta[row] = sum;
#else
  __trap();
#endif
}

template <int D, typename A>
__global__ void __launch_bounds__(kBlockThreads) tc_backward_dq_kernel(const A* qkv, const float* deltas,
                                                                     const float* lse, const float* dy, A* dqkv,
                                                                     int64_t T, int64_t H, float scale) {
#if !defined(__CUDA_ARCH__) || __CUDA_ARCH__ >= 800
  using L = Layout<D>;
  RT_DYNAMIC_SHARED_MEMORY(shared);
  auto tile = [&](int index) { return reinterpret_cast<Bf16*>(shared + index * L::kTileBytes); };
  Bf16 *queries = tile(0), *grads = tile(1), *keys = tile(2), *values = tile(3), *keys_t = tile(4);
  const int warp = threadIdx.x / 32;
  const int64_t C = H * D, bh = blockIdx.x, b = bh / H, h = bh % H;
  const int64_t first_query = int64_t{gridDim.y - 1 - blockIdx.y} * kRows, warp_first = first_query + warp * 16;
  const A* window = qkv + b * T * 3 * C;
  TileInFlight<D> staged_keys, staged_values;  // the next key tile's keys and values
  {
    TileInFlight<D> staged_queries, staged_grads;
    staged_queries.fetch(window + h * D, 3 * C, first_query, T);
    staged_grads.fetch(dy + b * T * C + h * D, C, first_query, T);
    staged_keys.fetch(window + C + h * D, 3 * C, 0, T);
    staged_values.fetch(window + 2 * C + h * D, 3 * C, 0, T);
    staged_queries.store_rows(queries);
    staged_grads.store_rows(grads);
  }
  __syncthreads();
  uint32_t q[D / 16][4], d_out[D / 16][4];
  load_a<D>(queries + warp * 16 * L::kLd, L::kLd, q);
  load_a<D>(grads + warp * 16 * L::kLd, L::kLd, d_out);
  float row_lse[2], delta[2];
#pragma unroll
  for (int half = 0; half < 2; ++half) {
    const int64_t i = warp_first + lane_group() + 8 * half;
    row_lse[half] = i < T ? lse[bh * T + i] : 0.0f;
    delta[half] = i < T ? deltas[bh * T + i] : 0.0f;
  }
  float dq[D / 8][4] = {};
  const int64_t last_key = first_query + kRows < T ? first_query + kRows : T;
  for (int64_t key0 = 0; key0 < last_key; key0 += kKeys) {
    __syncthreads();
    staged_keys.store_rows(keys);
    staged_keys.store_columns(keys_t);
    staged_values.store_rows(values);
    __syncthreads();
    if (key0 + kKeys < last_key) {  // the next tile's loads, in flight while this one is multiplied
      staged_keys.fetch(window + C + h * D, 3 * C, key0 + kKeys, T);
      staged_values.fetch(window + 2 * C + h * D, 3 * C, key0 + kKeys, T);
    }
    float s[kKeys / 8][4], dp[kKeys / 8][4];
    product_abt<kKeys, D>(q, keys, L::kLd, s);         // S = Q K^T
    product_abt<kKeys, D>(d_out, values, L::kLd, dp);  // dP = dO V^T
    const bool masked = key0 + kKeys - 1 > warp_first || warp_first + 15 >= T;
#pragma unroll
    for (int n = 0; n < kKeys / 8; ++n) {
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        const int64_t i = warp_first + element_row(e), j = key0 + element_column(n, e);
        float ds = 0.0f;
        if (!masked || (i < T && j <= i)) {
          const float p = __expf(s[n][e] * scale - row_lse[e / 2]);
          ds = p * (dp[n][e] - delta[e / 2]);
        }
        s[n][e] = ds;
      }
    }
    uint32_t ds[kKeys / 16][4];
    to_a_fragments(s, ds);
    accumulate_pb<D>(ds, keys_t, dq);  // dQ += dS K
  }
  const float factor[2] = {scale, scale};
  store_rows<D>(dq, factor, warp_first, T, dqkv + b * T * 3 * C + h * D, 3 * C);
#else
  __trap();
#endif
}

template <int D, typename A>
__global__ void __launch_bounds__(kBlockThreads) tc_backward_dkv_kernel(const A* qkv, const float* deltas,
                                                                      const float* lse, const float* dy, A* dqkv,
                                                                      int64_t T, int64_t H, float scale) {
#if !defined(__CUDA_ARCH__) || __CUDA_ARCH__ >= 800
  using L = Layout<D>;
  RT_DYNAMIC_SHARED_MEMORY(shared);
  Bf16* queries = reinterpret_cast<Bf16*>(shared);
  Bf16* grads = reinterpret_cast<Bf16*>(shared + L::kTileBytes);
  Bf16* queries_t = reinterpret_cast<Bf16*>(shared + 2 * L::kTileBytes);
  Bf16* grads_t = reinterpret_cast<Bf16*>(shared + 2 * L::kTileBytes + L::kTileTBytes);
  float* tile_lse = reinterpret_cast<float*>(shared + L::kDkvLseAt);
  float* tile_delta = tile_lse + kKeys;
  const int warp = threadIdx.x / 32;
  const int64_t C = H * D, bh = blockIdx.x, b = bh / H, h = bh % H;
  const int64_t first_key = int64_t{blockIdx.y} * kRows, warp_first = first_key + warp * 16;
  const A* window = qkv + b * T * 3 * C;
  // The block's keys and values, through the query tiles' areas, into registers.
  {
    TileInFlight<D> staged_keys, staged_values;
    staged_keys.fetch(window + C + h * D, 3 * C, first_key, T);
    staged_values.fetch(window + 2 * C + h * D, 3 * C, first_key, T);
    staged_keys.store_rows(queries);
    staged_values.store_rows(grads);
  }
  __syncthreads();
  uint32_t k[D / 16][4], v[D / 16][4];
  load_a<D>(queries + warp * 16 * L::kLd, L::kLd, k);
  load_a<D>(grads + warp * 16 * L::kLd, L::kLd, v);
  float dk[D / 8][4] = {}, dv[D / 8][4] = {};
  for (int64_t query0 = first_key; query0 < T; query0 += kKeys) {
    TileInFlight<D> staged_queries, staged_grads;
    staged_queries.fetch(window + h * D, 3 * C, query0, T);
    staged_grads.fetch(dy + b * T * C + h * D, C, query0, T);
    __syncthreads();  // the previous query tiles (the first time: the keys and values) are used up
    staged_queries.store_rows(queries);
    staged_queries.store_columns(queries_t);
    staged_grads.store_rows(grads);
    staged_grads.store_columns(grads_t);
    // The log-sum-exp and rowsum(dO O) of the tile's 64 queries.
    if (threadIdx.x < kKeys) {
      const int64_t i = query0 + threadIdx.x;
      tile_lse[threadIdx.x] = i < T ? lse[bh * T + i] : 0.0f;
      tile_delta[threadIdx.x] = i < T ? deltas[bh * T + i] : 0.0f;
    }
    __syncthreads();
    float s[kKeys / 8][4], dp[kKeys / 8][4];
    product_abt<kKeys, D>(k, queries, L::kLd, s);  // S^T = K Q^T: keys x queries
    product_abt<kKeys, D>(v, grads, L::kLd, dp);   // dP^T = V dO^T
    const bool masked = query0 < warp_first + 15 || query0 + kKeys > T || warp_first + 15 >= T;
#pragma unroll
    for (int n = 0; n < kKeys / 8; ++n) {
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        const int c = element_column(n, e);
        const int64_t j = warp_first + element_row(e), i = query0 + c;
        float p = 0.0f, ds = 0.0f;
        if (!masked || (j < T && i < T && i >= j)) {
          p = __expf(s[n][e] * scale - tile_lse[c]);
          ds = p * (dp[n][e] - tile_delta[c]);
        }
        s[n][e] = p;
        dp[n][e] = ds;
      }
    }
    uint32_t fragments[kKeys / 16][4];
    to_a_fragments(s, fragments);
    accumulate_pb<D>(fragments, grads_t, dv);  // dV += P^T dO
    to_a_fragments(dp, fragments);
    accumulate_pb<D>(fragments, queries_t, dk);  // dK += dS^T Q
  }
  A* grad = dqkv + b * T * 3 * C + h * D;
  const float dk_factor[2] = {scale, scale}, dv_factor[2] = {1.0f, 1.0f};
  store_rows<D>(dk, dk_factor, warp_first, T, grad + C, 3 * C);
  store_rows<D>(dv, dv_factor, warp_first, T, grad + 2 * C, 3 * C);
#else
  __trap();
#endif
}

// The launches (attention_tensor_core.cu passes its StreamLaunch, the emulated test its own), for
// `heads_of_rows` = batch rows x heads; backward uses `deltas`, a float per query of each of them.
// A: the activations' type (qkv, y, and the gradient dqkv), float or Bf16; dy is fp32.
template <int D, typename Launch, typename A>
void launch_forward(const Launch& launch, int64_t heads_of_rows, int64_t T, int64_t H, const A* qkv, A* y, float* lse,
                    float scale) {
  launch(tc_forward_kernel<D, A>, grid_for(heads_of_rows, T), kBlockThreads, forward_shared_bytes<D>(), qkv, y, lse, T,
         H, scale);
}

template <int D, typename Launch, typename A>
void launch_backward(const Launch& launch, int64_t heads_of_rows, int64_t T, int64_t H, const A* qkv, const A* y,
                     const float* lse, const float* dy, float* deltas, A* dqkv, float scale) {
  const int64_t queries = heads_of_rows * T;
  constexpr int kDeltaRows = delta_rows_per_block<D>();
  launch(tc_delta_kernel<D, A>, Grid{static_cast<unsigned>((queries + kDeltaRows - 1) / kDeltaRows)}, kBlockThreads, 0,
         y, dy, deltas, T, H, queries);
  const Grid grid = grid_for(heads_of_rows, T);
  const float* row_sums = deltas;
  launch(tc_backward_dq_kernel<D, A>, grid, kBlockThreads, dq_shared_bytes<D>(), qkv, row_sums, lse, dy, dqkv, T, H,
         scale);
  launch(tc_backward_dkv_kernel<D, A>, grid, kBlockThreads, dkv_shared_bytes<D>(), qkv, row_sums, lse, dy, dqkv, T, H,
         scale);
}

}  // namespace RT_KERNELS_NAMESPACE::tensor_core_attention
