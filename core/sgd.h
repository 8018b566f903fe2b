// SGD with momentum and weight decay over the whole flat arena: one kernel call per step.
#pragma once

#include <string>

#include "core/base/device.h"
#include "core/base/span.h"
#include "core/tensor.h"

namespace rt {

struct SgdOptions {
  float lr = 0.05f;
  float momentum = 0.9f;
  float weight_decay = 0.0f;
};

// The learning rate of step `step` (0-based) of `steps` under a schedule: "constant" or
// "cosine" (from lr down to 0 along half a cosine).
float scheduled_lr(const std::string& schedule, float lr, int64_t step, int64_t steps);

class Sgd {
 public:
  Sgd(Span<float> parameters, Span<float> gradients, SgdOptions options, Device device = Device::kCpu);
  void step();
  // The learning rate of the following steps (a schedule sets it before each step).
  void set_lr(float lr) { options_.lr = lr; }
  const SgdOptions& options() const { return options_; }
  Span<float> velocity() { return Span<float>(velocity_.data<float>(), parameters_.size()); }

 private:
  Span<float> parameters_;
  Span<float> gradients_;
  SgdOptions options_;
  Device device_;
  Tensor velocity_;
};

}  // namespace rt
