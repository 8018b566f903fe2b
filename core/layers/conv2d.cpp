#include "core/layers/conv2d.h"

namespace rt {

Conv2d::Conv2d(kernels::ConvGeometry geometry, int64_t out_channels, Device device)
    : g_(geometry), out_channels_(out_channels), device_(device) {
  RT_CHECK(g_.channels > 0 && g_.height > 0 && g_.width > 0 && out_channels > 0 && g_.kernel > 0 && g_.stride > 0 &&
               g_.padding >= 0,
           "Conv2d needs positive sizes, not {}x{}x{} -> {} channels, kernel {}, stride {}, padding {}", g_.channels,
           g_.height, g_.width, out_channels, g_.kernel, g_.stride, g_.padding);
  RT_CHECK(g_.out_height() > 0 && g_.out_width() > 0, "Conv2d kernel {} does not fit a {}x{} image with padding {}",
           g_.kernel, g_.height, g_.width, g_.padding);
  out_plane_ = g_.out_height() * g_.out_width();
}

std::string Conv2d::name() const {
  return fmt::format("conv{}x{}_{}to{}", g_.kernel, g_.kernel, g_.channels, out_channels_);
}

std::vector<ParameterSpec> Conv2d::parameter_specs() const {
  return {{"weight", {out_channels_, g_.patch()}, g_.patch()}, {"bias", {out_channels_}, g_.patch()}};
}

void Conv2d::bind_parameters(const std::vector<Tensor>& parameters, const std::vector<Tensor>& gradients) {
  weight_ = parameters.at(0);
  bias_ = parameters.at(1);
  weight_grad_ = gradients.at(0);
  bias_grad_ = gradients.at(1);
}

int64_t Conv2d::output_features(int64_t input_features) const {
  RT_CHECK(input_features == g_.channels * g_.height * g_.width, "{} expects {}x{}x{} = {} input features, gets {}",
           name(), g_.channels, g_.height, g_.width, g_.channels * g_.height * g_.width, input_features);
  return out_channels_ * out_plane_;
}

const Tensor& Conv2d::forward(const Tensor& input) {
  const int64_t in_features = g_.channels * g_.height * g_.width;
  RT_CHECK(input.shape().size() == 2 && input.dim(1) == in_features, "{} expects input [rows, {}], gets {}", name(),
           in_features, shape_text(input.shape()));
  input_ = input;
  rows_ = input.dim(0);
  float* columns = nullptr;
  if (const int64_t workspace = kernels::conv2d_workspace(device_, g_, rows_); workspace > 0) {
    columns = columns_.ensure(rows_, workspace / rows_, device_).data<float>();
  }
  const Tensor& output = output_.ensure(rows_, out_channels_ * out_plane_, device_);
  kernels::conv2d_forward(device_, g_, input.data<float>(), rows_, weight_.data<float>(), bias_.data<float>(),
                          out_channels_, output.data<float>(), columns);
  return output;
}

const Tensor& Conv2d::backward(const Tensor& grad_output, InputGradient input_gradient, GradientWrite write) {
  RT_CHECK(grad_output.shape() == Shape({rows_, out_channels_ * out_plane_}), "{} backward expects gradient [{}, {}], gets {}",
           name(), rows_, out_channels_ * out_plane_, shape_text(grad_output.shape()));
  const float beta = write == GradientWrite::kAccumulate ? 1.0f : 0.0f;
  float* dx = nullptr;
  if (input_gradient == InputGradient::kCompute) {
    dx = input_grad_.ensure(rows_, g_.channels * g_.height * g_.width, device_).data<float>();
  }
  float* columns = columns_.tensor().defined() ? columns_.tensor().data<float>() : nullptr;
  kernels::conv2d_backward(device_, g_, input_.data<float>(), rows_, weight_.data<float>(), out_channels_,
                           grad_output.data<float>(), beta, weight_grad_.data<float>(), bias_grad_.data<float>(), dx,
                           columns);
  return input_grad_.tensor();
}

}  // namespace rt
