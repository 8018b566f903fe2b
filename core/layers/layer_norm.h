// Layer normalisation over each row's features: y = gamma * (x - mean) / sqrt(var + eps) + beta,
// with gamma (initialised to ones) and beta (zeros) [features], as PyTorch's LayerNorm. Its output
// may be stored in bf16 (output = kBFloat16) where only bf16 matrix products read it.
#pragma once

#include "core/layer.h"

namespace rt {

constexpr float kLayerNormEps = 1e-5f;  // PyTorch's default

class LayerNorm final : public Layer {
 public:
  explicit LayerNorm(int64_t features, Device device = Device::kCpu, float eps = kLayerNormEps,
                     DType output = DType::kFloat32);
  std::string name() const override { return fmt::format("layernorm{}", features_); }
  float eps() const { return eps_; }
  std::vector<ParameterSpec> parameter_specs() const override;
  void bind_parameters(const std::vector<Tensor>& parameters, const std::vector<Tensor>& gradients) override;
  int64_t output_features(int64_t input_features) const override;
  const Tensor& forward(const Tensor& input) override;
  const Tensor& backward(const Tensor& grad_output, InputGradient input_gradient, GradientWrite write) override;

 private:
  int64_t features_;
  Device device_;
  float eps_;
  DType output_dtype_;
  Tensor gamma_, beta_, gamma_grad_, beta_grad_;
  Tensor input_;
  ActivationBuffer output_, mean_, rstd_;
};

}  // namespace rt
