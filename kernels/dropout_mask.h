// The dropout mask's draw, shared by the CPU and CUDA kernels so both keep the same elements:
// SplitMix64's finaliser of (key + i * golden ratio), its top 24 bits as a uniform in [0, 1).
#pragma once

#include <cstdint>

#ifdef __CUDACC__
#define RT_HOST_DEVICE __host__ __device__
#else
#define RT_HOST_DEVICE
#endif

namespace rt::kernels {

RT_HOST_DEVICE inline float dropout_uniform(uint64_t key, int64_t i) {
  uint64_t z = key + static_cast<uint64_t>(i) * 0x9E3779B97F4A7C15ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  z ^= z >> 31;
  return static_cast<float>(z >> 40) * (1.0f / 16777216.0f);
}

}  // namespace rt::kernels
