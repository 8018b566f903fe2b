// AdamW (Loshchilov and Hutter; PyTorch's torch.optim.AdamW) over the whole flat arena: one
// fused kernel per step updates both moments and the parameters (kernels.h, adamw).
#pragma once

#include "core/optimizer.h"
#include "core/tensor.h"

namespace rt {

struct AdamWOptions {
  float lr = 1e-3f;
  float beta1 = 0.9f;
  float beta2 = 0.999f;
  float eps = 1e-8f;
  float weight_decay = 0.01f;
};

class AdamW final : public Optimizer {
 public:
  AdamW(Span<float> parameters, Span<float> gradients, AdamWOptions options, Device device = Device::kCpu);
  void step(int64_t number, const uint32_t* skip_if_set = nullptr) override;
  void set_lr(float lr) override { options_.lr = lr; }
  Span<float> state() override { return Span<float>(moments_.data<float>(), 2 * parameters_.size()); }

 private:
  Span<float> parameters_;
  Span<float> gradients_;
  AdamWOptions options_;
  Device device_;
  Tensor moments_;  // m then v, each the arena's size
};

}  // namespace rt
