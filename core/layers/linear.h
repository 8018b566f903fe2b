// y = x W^T + b, with W [out, in] (PyTorch's layout) and b [out]. Initialised as PyTorch's Linear,
// or with init_std > 0 as GPT-2's: W normal with that deviation, b zeros. Its output may be stored
// in bf16 (output = kBFloat16: the fp32 sums plus the bias, rounded once), for a GPT's bf16
// activations; backward reads only the input and the output gradient (fp32, or bf16: the gradient
// of a bf16 output).
#pragma once

#include "core/layer.h"

namespace rt {

class Linear final : public Layer {
 public:
  Linear(int64_t in, int64_t out, Device device = Device::kCpu, float init_std = 0.0f,
         DType output = DType::kFloat32);
  std::string name() const override;
  std::vector<ParameterSpec> parameter_specs() const override;
  void bind_parameters(const std::vector<Tensor>& parameters, const std::vector<Tensor>& gradients) override;
  int64_t output_features(int64_t input_features) const override;
  const Tensor& forward(const Tensor& input) override;
  const Tensor& backward(const Tensor& grad_output, InputGradient input_gradient, GradientWrite write) override;

 private:
  int64_t in_, out_;
  Device device_;
  float init_std_;
  DType output_dtype_;
  Tensor weight_, bias_, weight_grad_, bias_grad_;
  Tensor input_;
  ActivationBuffer output_;
};

}  // namespace rt
