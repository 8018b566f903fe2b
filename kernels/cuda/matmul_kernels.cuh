// The kernels of matmul.cu and their launches, in a header of their own so that a test can also
// run them on the CPU under the host emulation of tests/kernels/cuda_emulation.h.
#pragma once

#include <algorithm>
#include <cstdint>

#include "kernels/cuda/bf16.cuh"
#include "kernels/cuda/launch.h"

namespace RT_KERNELS_NAMESPACE {

// y[r][c] += bias[c], an element a thread.
__global__ void add_bias_kernel(float* y, const float* bias, int64_t rows, int64_t cols) {
  int64_t total = rows * cols;
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < total; i += int64_t{gridDim.x} * blockDim.x) {
    y[i] += bias[i % cols];
  }
}

// The same where the rows are whole float4s: a thread owns four columns (their bias read once)
// down the rows blockIdx.y, blockIdx.y + gridDim.y, ... (no division per element).
__global__ void add_bias4_kernel(float4* y, const float4* bias, int64_t rows, int64_t cols4) {
  const int64_t c = blockIdx.x * int64_t{blockDim.x} + threadIdx.x;
  if (c >= cols4) return;
  const float4 b = bias[c];
  for (int64_t r = blockIdx.y; r < rows; r += gridDim.y) {
    float4 v = y[r * cols4 + c];
    y[r * cols4 + c] = make_float4(v.x + b.x, v.y + b.y, v.z + b.z, v.w + b.w);
  }
}

template <typename Launch>
void launch_add_bias(const Launch& launch, float* y, const float* bias, int64_t rows, int64_t cols) {
  if (rows == 0) return;
  if (cols % 4 == 0 && aligned16(y) && aligned16(bias)) {
    constexpr unsigned kColumnThreads = 64;
    const int64_t cols4 = cols / 4;
    const Grid grid{static_cast<unsigned>((cols4 + kColumnThreads - 1) / kColumnThreads),
                    static_cast<unsigned>(std::min<int64_t>(rows, 4096))};
    launch(add_bias4_kernel, grid, kColumnThreads, 0, reinterpret_cast<float4*>(y),
           reinterpret_cast<const float4*>(bias), rows, cols4);
    return;
  }
  launch(add_bias_kernel, Grid{blocks_for(rows * cols)}, kThreads, 0, y, bias, rows, cols);
}

// y[r][c] = bf16(sums[r][c] + bias[c]) (to nearest even), an element a thread: a bf16 output's
// bias where cuBLASLt's epilogue cannot add it.
__global__ void add_bias_to_bf16_kernel(const float* sums, const float* bias, __nv_bfloat16* y, int64_t rows,
                                        int64_t cols) {
  const int64_t total = rows * cols;
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < total; i += int64_t{gridDim.x} * blockDim.x) {
    y[i] = __float2bfloat16_rn(sums[i] + bias[i % cols]);
  }
}

template <typename Launch>
void launch_add_bias_to_bf16(const Launch& launch, const float* sums, const float* bias, __nv_bfloat16* y,
                             int64_t rows, int64_t cols) {
  if (rows == 0) return;
  launch(add_bias_to_bf16_kernel, Grid{blocks_for(rows * cols)}, kThreads, 0, sums, bias, y, rows, cols);
}

// out[i] = bf16(in[i]), to nearest even; four at a time where `in` is 16-byte and `out` 8-byte
// aligned, then the rest one at a time.
__global__ void round_to_bf16_kernel(const float* in, __nv_bfloat16* out, int64_t count) {
  const int64_t stride = int64_t{gridDim.x} * blockDim.x;
  int64_t first = blockIdx.x * int64_t{blockDim.x} + threadIdx.x;
  if (reinterpret_cast<uintptr_t>(in) % 16 == 0 && reinterpret_cast<uintptr_t>(out) % 8 == 0) {
    for (int64_t i = first; i < count / 4; i += stride) {
      const float4 v = reinterpret_cast<const float4*>(in)[i];
      reinterpret_cast<uint2*>(out)[i] = make_uint2(bf16_pair(v.x, v.y), bf16_pair(v.z, v.w));
    }
    first += count / 4 * 4;
  }
  for (int64_t i = first; i < count; i += stride) out[i] = __float2bfloat16_rn(in[i]);
}

template <typename Launch>
void launch_round_to_bf16(const Launch& launch, const float* in, __nv_bfloat16* out, int64_t count) {
  launch(round_to_bf16_kernel, Grid{blocks_for(count / 4 + 1)}, kThreads, 0, in, out, count);
}

}  // namespace RT_KERNELS_NAMESPACE
