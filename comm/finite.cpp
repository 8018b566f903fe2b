#include "comm/finite.h"

#include <cstdint>
#include <cstring>

namespace rt {

bool all_finite(Span<const float> values) {
  // NaN and infinity are the values whose exponent bits are all ones; an integer OR over the
  // whole span vectorises (a float sum would not, without -ffast-math).
  uint32_t any = 0;
  for (size_t i = 0; i < values.size(); ++i) {
    uint32_t bits;
    std::memcpy(&bits, &values[i], sizeof bits);
    any |= static_cast<uint32_t>((bits & 0x7f800000u) == 0x7f800000u);
  }
  return any == 0;
}

}  // namespace rt
