// Max pooling over images [rows, channels, height, width] held as [rows, C*H*W], with a square
// window and the same stride (a partial window at the edge is dropped, as PyTorch's default).
#pragma once

#include "core/layer.h"

namespace rt {

class MaxPool2d final : public Layer {
 public:
  MaxPool2d(int64_t channels, int64_t height, int64_t width, int64_t window, Device device = Device::kCpu);
  std::string name() const override { return fmt::format("maxpool{}", window_); }
  int64_t window() const { return window_; }
  int64_t output_features(int64_t input_features) const override;
  const Tensor& forward(const Tensor& input) override;
  const Tensor& backward(const Tensor& grad_output, InputGradient input_gradient, GradientWrite write) override;

 private:
  int64_t channels_, height_, width_, window_;
  Device device_;
  int64_t rows_ = 0;
  ActivationBuffer output_, argmax_;
};

}  // namespace rt
