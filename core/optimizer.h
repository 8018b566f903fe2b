// An optimizer: one update of the whole flat parameter arena from the gradient arena per step (a
// single kernel, not one per tensor), its own state in one flat arena on the same device, which
// checkpoints save and restore as it is. Sgd (sgd.h) and AdamW (adamw.h).
#pragma once

#include <cstdint>
#include <string>

#include "core/base/span.h"

namespace rt {

class Optimizer {
 public:
  virtual ~Optimizer() = default;
  // One update; `number` counts the updates applied so far, this one included, from 1 (AdamW's
  // bias correction depends on it). On CUDA, `skip_if_set` (device memory) drops the update when
  // non-zero (kernels.h).
  virtual void step(int64_t number, const uint32_t* skip_if_set = nullptr) = 0;
  // The learning rate of the following steps (a schedule sets it before each step).
  virtual void set_lr(float lr) = 0;
  // The state arena: SGD's momentum; AdamW's first moments, then its second moments.
  virtual Span<float> state() = 0;
};

// After the warmup: the learning rate as it is, from lr down to 0 along half a cosine, or linearly.
enum class LrSchedule { kConstant, kCosine, kLinear };

// The learning rate of step `step` (0-based) of `steps`: a linear warmup over the first
// `warmup` steps (lr * (step + 1) / warmup), then the schedule over the rest.
float scheduled_lr(LrSchedule schedule, float lr, int64_t step, int64_t steps, int64_t warmup = 0);

}  // namespace rt
