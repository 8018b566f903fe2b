// Inverted dropout: in training, each element is zeroed with probability p and the rest scaled by
// 1/(1-p); in evaluation, the identity. The mask comes from the key the model sets for each forward
// (Model::set_mode: from the seed, the rank and the step), so a given seed and rank draw the same
// masks on the CPU and the GPU, and a resumed run draws what an uninterrupted one would.
#pragma once

#include "core/layer.h"

namespace rt {

class Dropout final : public Layer {
 public:
  Dropout(float p, Device device = Device::kCpu);
  std::string name() const override { return fmt::format("dropout{}", p_); }
  int64_t output_features(int64_t input_features) const override { return input_features; }
  const Tensor& forward(const Tensor& input) override;
  const Tensor& backward(const Tensor& grad_output, InputGradient input_gradient, GradientWrite write) override;
  void set_mode(bool training, uint64_t key) override {
    training_ = training;
    key_ = key;
  }

 private:
  float p_;
  Device device_;
  bool training_ = false;
  uint64_t key_ = 0;
  Tensor input_;
  ActivationBuffer output_;
};

}  // namespace rt
