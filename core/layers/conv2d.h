// 2-D convolution: y = W * im2col(x) + b with W [out_channels, C*k*k] (PyTorch's weight layout,
// flattened) and b [out_channels], as matrix products (kernels.h, conv2d_forward). The input is
// NCHW or channel-major (as geometry.channel_major says); the output is channel-major
// [out_channels, rows, out_h, out_w], the product's own layout, so no transpose is needed here (a
// Flatten makes rows of it). Tensors keep the shape [rows, features] whatever the layout inside.
#pragma once

#include "core/layer.h"
#include "kernels/kernels.h"

namespace rt {

class Conv2d final : public Layer {
 public:
  Conv2d(kernels::ConvGeometry geometry, int64_t out_channels, Device device = Device::kCpu);
  std::string name() const override;
  const kernels::ConvGeometry& geometry() const { return g_; }
  int64_t out_channels() const { return out_channels_; }
  std::vector<ParameterSpec> parameter_specs() const override;
  void bind_parameters(const std::vector<Tensor>& parameters, const std::vector<Tensor>& gradients) override;
  int64_t output_features(int64_t input_features) const override;
  const Tensor& forward(const Tensor& input) override;
  const Tensor& backward(const Tensor& grad_output, InputGradient input_gradient, GradientWrite write) override;

 private:
  kernels::ConvGeometry g_;
  int64_t out_channels_;
  int64_t out_plane_;  // out_height * out_width
  Device device_;
  Tensor weight_, bias_, weight_grad_, bias_grad_;
  int64_t rows_ = 0;
  Tensor input_;  // forward's input, for the weight gradient
  // The device's workspace (kernels::conv2d_workspace): on the GPU the input's columns, kept from
  // forward for the weight gradient, then reused for the input's gradient columns; none on the CPU.
  ActivationBuffer columns_;
  ActivationBuffer output_;
};

}  // namespace rt
