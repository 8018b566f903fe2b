#include <cmath>

#include "core/base/check.h"
#include "core/optimizer.h"

namespace rt {

float scheduled_lr(LrSchedule schedule, float lr, int64_t step, int64_t steps, int64_t warmup) {
  RT_CHECK(steps > 0 && step >= 0 && step < steps, "step {} outside a schedule of {} steps", step, steps);
  RT_CHECK(warmup >= 0, "warmup steps must not be negative, not {}", warmup);
  if (step < warmup) return lr * static_cast<float>(step + 1) / static_cast<float>(warmup);
  if (schedule == LrSchedule::kConstant) return lr;
  const double progress = static_cast<double>(step - warmup) / static_cast<double>(std::max<int64_t>(steps - warmup, 1));
  if (schedule == LrSchedule::kLinear) return static_cast<float>(lr * (1.0 - progress));
  const double pi = 3.14159265358979323846;
  return static_cast<float>(lr * 0.5 * (1.0 + std::cos(pi * progress)));
}

}  // namespace rt
