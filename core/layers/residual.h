// A residual connection around a chain of layers: y = x + f(x), with f's layers, parameters and
// modes carried inside (their parameters are this layer's, prefixed by their position). Backward
// hands the output gradient to f and adds it to what comes back: dx = dy + f'(x)^T dy.
#pragma once

#include <memory>
#include <vector>

#include "core/layer.h"

namespace rt {

class Residual final : public Layer {
 public:
  Residual(std::vector<std::unique_ptr<Layer>> layers, Device device = Device::kCpu);
  std::string name() const override;
  std::vector<ParameterSpec> parameter_specs() const override;
  void bind_parameters(const std::vector<Tensor>& parameters, const std::vector<Tensor>& gradients) override;
  int64_t output_features(int64_t input_features) const override;
  const Tensor& forward(const Tensor& input) override;
  const Tensor& backward(const Tensor& grad_output, InputGradient input_gradient, GradientWrite write) override;
  void set_mode(bool training, uint64_t key) override;

 private:
  std::vector<std::unique_ptr<Layer>> layers_;
  Device device_;
  ActivationBuffer output_;
};

}  // namespace rt
