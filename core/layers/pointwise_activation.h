// y = f(x) for a pointwise activation of kernels/pointwise_activations.h (SiLU, ...); backward
// reads the input it kept.
#pragma once

#include "core/layer.h"
#include "kernels/pointwise_activations.h"

namespace rt {

class PointwiseActivationLayer final : public Layer {
 public:
  explicit PointwiseActivationLayer(kernels::PointwiseActivation activation, Device device = Device::kCpu)
      : activation_(activation), device_(device) {}
  std::string name() const override { return kernels::pointwise_activation_name(activation_); }
  int64_t output_features(int64_t input_features) const override { return input_features; }
  const Tensor& forward(const Tensor& input) override;
  const Tensor& backward(const Tensor& grad_output, InputGradient input_gradient, GradientWrite write) override;

 private:
  kernels::PointwiseActivation activation_;
  Device device_;
  Tensor input_;  // this forward's input (valid until backward, as layer.h promises)
  ActivationBuffer output_;
};

}  // namespace rt
