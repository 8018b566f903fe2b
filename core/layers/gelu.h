// y = GELU(x), the tanh form (kernels.h). Its output may be stored in bf16 (output = kBFloat16)
// where only bf16 matrix products read it; its input may be bf16 (a GPT's bf16 activations), read
// as its exact fp32 value, and its gradient is then bf16 too. Backward reads the input, not the
// output.
#pragma once

#include "core/layer.h"

namespace rt {

class Gelu final : public Layer {
 public:
  explicit Gelu(Device device = Device::kCpu, DType output = DType::kFloat32);
  std::string name() const override { return "gelu"; }
  int64_t output_features(int64_t input_features) const override { return input_features; }
  const Tensor& forward(const Tensor& input) override;
  const Tensor& backward(const Tensor& grad_output, InputGradient input_gradient, GradientWrite write) override;

 private:
  Device device_;
  DType output_dtype_;
  Tensor input_;
  ActivationBuffer output_;
};

}  // namespace rt
