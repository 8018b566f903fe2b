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
  rows_ = input.dim(0);
  const Tensor& columns = columns_.ensure(rows_, g_.patch() * out_plane_, device_);
  kernels::im2col(device_, g_, input.data<float>(), rows_, columns.data<float>());
  const Tensor& output = output_.ensure(rows_, out_channels_ * out_plane_, device_);
  kernels::gemm(device_, kernels::Transpose::kNo, kernels::Transpose::kNo, out_channels_, rows_ * out_plane_,
                g_.patch(), 1.0f, weight_.data<float>(), columns.data<float>(), 0.0f, output.data<float>());
  kernels::add_channel_bias(device_, output.data<float>(), bias_.data<float>(), out_channels_, rows_ * out_plane_);
  return output;
}

const Tensor& Conv2d::backward(const Tensor& grad_output, InputGradient input_gradient, GradientWrite write) {
  RT_CHECK(grad_output.shape() == Shape({rows_, out_channels_ * out_plane_}), "{} backward expects gradient [{}, {}], gets {}",
           name(), rows_, out_channels_ * out_plane_, shape_text(grad_output.shape()));
  const float beta = write == GradientWrite::kAccumulate ? 1.0f : 0.0f;
  const float* dy = grad_output.data<float>();  // channel-major [out, rows*plane], as the output
  const Tensor& columns = columns_.tensor();
  // dW [out, patch] = beta dW + dy x columns^T.
  kernels::gemm(device_, kernels::Transpose::kNo, kernels::Transpose::kYes, out_channels_, g_.patch(),
                rows_ * out_plane_, 1.0f, dy, columns.data<float>(), beta, weight_grad_.data<float>());
  kernels::channel_bias_grad(device_, dy, out_channels_, rows_ * out_plane_, beta, bias_grad_.data<float>());
  if (input_gradient == InputGradient::kSkip) return input_grad_.tensor();
  // The columns are spent: they take the input's gradient columns, W^T dy, then fold back.
  kernels::gemm(device_, kernels::Transpose::kYes, kernels::Transpose::kNo, g_.patch(), rows_ * out_plane_,
                out_channels_, 1.0f, weight_.data<float>(), dy, 0.0f, columns.data<float>());
  const Tensor& grad_input = input_grad_.ensure(rows_, g_.channels * g_.height * g_.width, device_);
  kernels::col2im(device_, g_, columns.data<float>(), rows_, grad_input.data<float>());
  return grad_input;
}

}  // namespace rt
