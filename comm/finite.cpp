#include "comm/finite.h"

namespace rt {

bool all_finite(Span<const float> values) {
  uint32_t any = 0;  // an OR over the whole span, without an early exit, vectorises
  for (size_t i = 0; i < values.size(); ++i) any |= static_cast<uint32_t>(is_nonfinite(values[i]));
  return any == 0;
}

}  // namespace rt
