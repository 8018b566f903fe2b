// Whether float values are finite (no NaN, no infinity): the check every rank makes of the summed
// gradients, so that all skip a step with a non-finite gradient together.
#pragma once

#include <cstdint>
#include <cstring>

#include "core/base/span.h"

namespace rt {

// NaN and infinity are the values whose exponent bits are all ones; an integer test of them lets
// a loop over many values vectorise (a float comparison would not, without -ffast-math).
inline bool is_nonfinite(float value) {
  uint32_t bits;
  std::memcpy(&bits, &value, sizeof bits);
  return (bits & 0x7f800000u) == 0x7f800000u;
}

bool all_finite(Span<const float> values);

}  // namespace rt
