#include "core/layers/layer_norm.h"

#include "kernels/kernels.h"

namespace rt {

LayerNorm::LayerNorm(int64_t features, Device device, float eps, DType output)
    : features_(features), device_(device), eps_(eps), output_dtype_(output) {
  RT_CHECK(features > 0 && eps > 0, "LayerNorm needs features > 0 and eps > 0, not {} and {}", features, eps);
  RT_CHECK(output == DType::kFloat32 || output == DType::kBFloat16, "LayerNorm stores float32 or bfloat16, not {}",
           dtype_name(output));
}

std::vector<ParameterSpec> LayerNorm::parameter_specs() const {
  return {{"gamma", {features_}, 1, ParameterInit::kOnes}, {"beta", {features_}, 1, ParameterInit::kZeros}};
}

void LayerNorm::bind_parameters(const std::vector<Tensor>& parameters, const std::vector<Tensor>& gradients) {
  gamma_ = parameters.at(0);
  beta_ = parameters.at(1);
  gamma_grad_ = gradients.at(0);
  beta_grad_ = gradients.at(1);
}

int64_t LayerNorm::output_features(int64_t input_features) const {
  RT_CHECK(input_features == features_, "{} expects {} input features, gets {}", name(), features_, input_features);
  return features_;
}

const Tensor& LayerNorm::forward(const Tensor& input) {
  RT_CHECK(input.shape().size() == 2 && input.dim(1) == features_, "{} expects input [rows, {}], gets {}", name(),
           features_, shape_text(input.shape()));
  input_ = input;
  const int64_t rows = input.dim(0);
  const Tensor& output = output_.ensure(rows, features_, device_, output_dtype_);
  const Tensor& mean = mean_.ensure(rows, 1, device_);
  const Tensor& rstd = rstd_.ensure(rows, 1, device_);
  if (output_dtype_ == DType::kBFloat16) {
    kernels::layer_norm_forward(device_, input.data<float>(), gamma_.data<float>(), beta_.data<float>(), rows,
                                features_, eps_, output.data<bfloat16>(), mean.data<float>(), rstd.data<float>());
  } else {
    kernels::layer_norm_forward(device_, input.data<float>(), gamma_.data<float>(), beta_.data<float>(), rows,
                                features_, eps_, output.data<float>(), mean.data<float>(), rstd.data<float>());
  }
  return output;
}

const Tensor& LayerNorm::backward(const Tensor& grad_output, InputGradient input_gradient, GradientWrite write) {
  RT_CHECK(grad_output.shape() == input_.shape(), "{} backward expects gradient {}, gets {}", name(),
           shape_text(input_.shape()), shape_text(grad_output.shape()));
  const int64_t rows = input_.dim(0);
  float* dx = nullptr;
  if (input_gradient == InputGradient::kCompute) dx = input_grad_.ensure(rows, features_, device_).data<float>();
  kernels::layer_norm_backward(device_, grad_output.data<float>(), input_.data<float>(), gamma_.data<float>(),
                               mean_.tensor().data<float>(), rstd_.tensor().data<float>(), rows, features_,
                               write == GradientWrite::kAccumulate ? 1.0f : 0.0f, dx, gamma_grad_.data<float>(),
                               beta_grad_.data<float>());
  return input_grad_.tensor();
}

}  // namespace rt
