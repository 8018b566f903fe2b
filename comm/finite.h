// Whether float values are all finite (no NaN, no infinity): the check every rank makes of the
// summed gradients, so that all skip a step with a non-finite gradient together.
#pragma once

#include "core/base/span.h"

namespace rt {

bool all_finite(Span<const float> values);

}  // namespace rt
