// Layer normalisation over each row's features: y = gamma * (x - mean) / sqrt(var + eps) + beta,
// with gamma (initialised to ones) and beta (zeros) [features], as PyTorch's LayerNorm.
#pragma once

#include "core/layer.h"

namespace rt {

class LayerNorm final : public Layer {
 public:
  explicit LayerNorm(int64_t features, Device device = Device::kCpu, float eps = 1e-5f);
  std::string name() const override { return fmt::format("layernorm{}", features_); }
  std::vector<ParameterSpec> parameter_specs() const override;
  void bind_parameters(const std::vector<Tensor>& parameters, const std::vector<Tensor>& gradients) override;
  int64_t output_features(int64_t input_features) const override;
  const Tensor& forward(const Tensor& input) override;
  const Tensor& backward(const Tensor& grad_output, InputGradient input_gradient, GradientWrite write) override;

 private:
  int64_t features_;
  Device device_;
  float eps_;
  Tensor gamma_, beta_, gamma_grad_, beta_grad_;
  Tensor input_;
  ActivationBuffer output_, mean_, rstd_, input_grad_;
};

}  // namespace rt
