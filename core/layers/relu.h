// y = max(x, 0).
#pragma once

#include "core/layer.h"

namespace rt {

class Relu final : public Layer {
 public:
  explicit Relu(Device device = Device::kCpu) : device_(device) {}
  std::string name() const override { return "relu"; }
  int64_t output_features(int64_t input_features) const override { return input_features; }
  const Tensor& forward(const Tensor& input) override;
  const Tensor& backward(const Tensor& grad_output, InputGradient input_gradient, GradientWrite write) override;

 private:
  Device device_;
  ActivationBuffer output_;
};

}  // namespace rt
