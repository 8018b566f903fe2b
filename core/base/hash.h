// FNV-1a, 64-bit: a fast, portable hash for fingerprints (parameters, configurations), the same
// on every machine. Not for security.
#pragma once

#include <cstddef>
#include <cstdint>

namespace rt {

constexpr uint64_t kFnvOffset = 0xcbf29ce484222325ULL;
constexpr uint64_t kFnvPrime = 0x100000001b3ULL;

// Continues `hash` over `bytes` bytes at `data`.
inline uint64_t fnv1a(const void* data, size_t bytes, uint64_t hash = kFnvOffset) {
  const auto* cursor = static_cast<const unsigned char*>(data);
  for (size_t i = 0; i < bytes; ++i) hash = (hash ^ cursor[i]) * kFnvPrime;
  return hash;
}

}  // namespace rt
