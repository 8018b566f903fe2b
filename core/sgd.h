// SGD with momentum and weight decay over the whole flat arena: one kernel call per step.
#pragma once

#include <string>

#include "core/base/device.h"
#include "core/base/span.h"
#include "core/optimizer.h"
#include "core/tensor.h"

namespace rt {

struct SgdOptions {
  float lr = 0.05f;
  float momentum = 0.9f;
  float weight_decay = 0.0f;
};

class Sgd final : public Optimizer {
 public:
  Sgd(Span<float> parameters, Span<float> gradients, SgdOptions options, Device device = Device::kCpu);
  void step(int64_t number = 0, const uint32_t* skip_if_set = nullptr) override;  // SGD ignores the number
  void set_lr(float lr) override { options_.lr = lr; }
  Span<float> state() override { return velocity(); }
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
