// Flatten: channel-major images [channels, rows, spatial] (a convolution stack's layout, see
// conv2d.h) to one row per sample, [rows, channels * spatial] in NCHW order, as PyTorch's
// Flatten after its convolutions; backward the reverse.
#pragma once

#include "core/layer.h"

namespace rt {

class Flatten final : public Layer {
 public:
  Flatten(int64_t channels, int64_t spatial, Device device = Device::kCpu)
      : channels_(channels), spatial_(spatial), device_(device) {}
  std::string name() const override { return "flatten"; }
  int64_t output_features(int64_t input_features) const override;
  const Tensor& forward(const Tensor& input) override;
  const Tensor& backward(const Tensor& grad_output, InputGradient input_gradient, GradientWrite write) override;

 private:
  int64_t channels_, spatial_;
  Device device_;
  int64_t rows_ = 0;
  ActivationBuffer output_;
};

}  // namespace rt
