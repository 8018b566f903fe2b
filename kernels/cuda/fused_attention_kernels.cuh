// The fused attention kernels of attention.cu (AttentionAlgorithm::kFused) and their launches, in
// a header of their own so that a test can also run them on the CPU under the host emulation of
// tests/kernels/cuda_emulation.h: a thread per query (or key) row of one head, D = head_dim.
#pragma once

#include <cmath>
#include <cstdint>

#include "kernels/cuda/launch.h"

namespace RT_KERNELS_NAMESPACE::fused_attention {

constexpr int kTile = 64;  // queries per block and keys per shared tile

inline bool supported(int64_t head_dim) { return head_dim == 16 || head_dim == 32 || head_dim == 64; }

__device__ inline int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }
__device__ inline int64_t max64(int64_t a, int64_t b) { return a > b ? a : b; }

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
    if (static_cast<int>(threadIdx.x) < count) {
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

// The launches (attention.cu passes its StreamLaunch, the emulated test its own): a block of kTile
// threads per kTile queries (or keys) of each of `heads_of_rows` = batch rows x heads.
inline Grid grid_for(int64_t heads_of_rows, int64_t T) {
  return {static_cast<unsigned>((T + kTile - 1) / kTile), static_cast<unsigned>(heads_of_rows)};
}

template <int D, typename Launch>
void launch_forward(const Launch& launch, int64_t heads_of_rows, int64_t T, int64_t H, const float* qkv, float* y,
                    float* lse, float scale) {
  launch(fused_forward_kernel<D>, grid_for(heads_of_rows, T), kTile, 0, qkv, y, lse, T, H, scale);
}

template <int D, typename Launch>
void launch_backward(const Launch& launch, int64_t heads_of_rows, int64_t T, int64_t H, const float* qkv,
                     const float* y, const float* lse, const float* dy, float* dqkv, float scale) {
  const Grid grid = grid_for(heads_of_rows, T);
  launch(fused_backward_dq_kernel<D>, grid, kTile, 0, qkv, y, lse, dy, dqkv, T, H, scale);
  launch(fused_backward_dkv_kernel<D>, grid, kTile, 0, qkv, y, lse, dy, dqkv, T, H, scale);
}

}  // namespace RT_KERNELS_NAMESPACE::fused_attention
