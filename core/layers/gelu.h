// y = GELU(x), the tanh form (kernels.h).
#pragma once

#include "core/layer.h"

namespace rt {

class Gelu final : public Layer {
 public:
  explicit Gelu(Device device = Device::kCpu) : device_(device) {}
  std::string name() const override { return "gelu"; }
  int64_t output_features(int64_t input_features) const override { return input_features; }
  const Tensor& forward(const Tensor& input) override;
  const Tensor& backward(const Tensor& grad_output, InputGradient input_gradient, GradientWrite write) override;

 private:
  Device device_;
  Tensor input_;
  ActivationBuffer output_, input_grad_;
};

}  // namespace rt
