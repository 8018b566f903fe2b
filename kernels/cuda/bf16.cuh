// Storing fp32 results as bf16 in kernels (kernel headers, also compiled under the host
// emulation of tests/kernels/cuda_emulation.h, which defines the bf16 type and conversions).
#pragma once

#ifndef RT_EMULATED_CUDA
#include <cuda_bf16.h>
#endif

#include <cstdint>

#include "kernels/cuda/launch.h"

namespace RT_KERNELS_NAMESPACE {

// A result stored as it is, or rounded to bf16 (to nearest even).
__device__ inline void store(float* to, float value) { *to = value; }
__device__ inline void store(__nv_bfloat16* to, float value) { *to = __float2bfloat16_rn(value); }

// An input read as it is, or a bf16 input widened to its exact fp32 value.
__device__ inline float load(const float* from) { return *from; }
__device__ inline float load(const __nv_bfloat16* from) { return __bfloat162float(*from); }

// Four bf16 values read as one 8-byte word (the first in the low half of x), widened.
__device__ inline float4 bf16x4_to_float4(uint2 word) {
  return make_float4(__uint_as_float(word.x << 16), __uint_as_float(word.x & 0xffff0000u),
                     __uint_as_float(word.y << 16), __uint_as_float(word.y & 0xffff0000u));
}

// Whether bf16 values at `in` can be read four at a time as 8-byte words.
inline bool bf16x4_aligned(const void* in) { return reinterpret_cast<uintptr_t>(in) % 8 == 0; }

// Two values rounded to bf16 (to nearest even) in one word, `low` in the low half.
__device__ inline uint32_t bf16_pair(float low, float high) {
  return uint32_t{__bfloat16_as_ushort(__float2bfloat16_rn(low))} |
         (uint32_t{__bfloat16_as_ushort(__float2bfloat16_rn(high))} << 16);
}

// Whether four fp32 inputs at `in` can be read as a float4 and their four bf16 results written
// at `out` as one 8-byte word.
inline bool float4_to_bf16x4(const void* in, const void* out) {
  return aligned16(in) && reinterpret_cast<uintptr_t>(out) % 8 == 0;
}

}  // namespace RT_KERNELS_NAMESPACE
