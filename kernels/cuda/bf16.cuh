// Storing fp32 results as bf16 in kernels (kernel headers, also compiled under the host
// emulation of tests/kernels/cuda_emulation.h, which defines the bf16 type and conversions).
#pragma once

#ifndef RT_EMULATED_CUDA
#include <cuda_bf16.h>
#endif

#include <cstdint>
#include <type_traits>

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

// Two values rounded to bf16 (to nearest even) in one word, `low` in the low half.
__device__ inline uint32_t bf16_pair(float low, float high) {
  return uint32_t{__bfloat16_as_ushort(__float2bfloat16_rn(low))} |
         (uint32_t{__bfloat16_as_ushort(__float2bfloat16_rn(high))} << 16);
}

// Four values at a time: fp32 as a float4, bf16 as one 8-byte word (uint2). FourOf<T> is the
// type; four_aligned whether a buffer can be read or written that way (16- or 8-byte aligned);
// widened reads four as fp32, store4 writes four (bf16: rounded to nearest even).
template <typename T>
using FourOf = std::conditional_t<sizeof(T) == 2, uint2, float4>;
template <typename T>
inline bool four_aligned(const T* values) {
  return reinterpret_cast<uintptr_t>(values) % sizeof(FourOf<T>) == 0;
}
__device__ inline float4 widened(float4 v) { return v; }
__device__ inline float4 widened(uint2 v) { return bf16x4_to_float4(v); }
__device__ inline void store4(float4* to, float4 v) { *to = v; }
__device__ inline void store4(uint2* to, float4 v) { *to = make_uint2(bf16_pair(v.x, v.y), bf16_pair(v.z, v.w)); }

}  // namespace RT_KERNELS_NAMESPACE
