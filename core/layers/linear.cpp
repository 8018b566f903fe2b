#include "core/layers/linear.h"

#include "kernels/kernels.h"

namespace rt {

Linear::Linear(int64_t in, int64_t out, Device device, float init_std, DType output)
    : in_(in), out_(out), device_(device), init_std_(init_std), output_dtype_(output) {
  RT_CHECK(in > 0 && out > 0, "Linear layer needs positive sizes, not {} -> {}", in, out);
  RT_CHECK(output == DType::kFloat32 || output == DType::kBFloat16, "a linear layer stores float32 or bfloat16, not {}",
           dtype_name(output));
}

std::string Linear::name() const { return fmt::format("linear{}x{}", in_, out_); }

std::vector<ParameterSpec> Linear::parameter_specs() const {
  if (init_std_ > 0) {
    return {{"weight", {out_, in_}, in_, ParameterInit::kNormal, init_std_}, {"bias", {out_}, in_, ParameterInit::kZeros}};
  }
  return {{"weight", {out_, in_}, in_}, {"bias", {out_}, in_}};
}

void Linear::bind_parameters(const std::vector<Tensor>& parameters, const std::vector<Tensor>& gradients) {
  weight_ = parameters.at(0);
  bias_ = parameters.at(1);
  weight_grad_ = gradients.at(0);
  bias_grad_ = gradients.at(1);
}

int64_t Linear::output_features(int64_t input_features) const {
  RT_CHECK(input_features == in_, "{} expects {} input features, gets {}", name(), in_, input_features);
  return out_;
}

const Tensor& Linear::forward(const Tensor& input) {
  RT_CHECK(input.shape().size() == 2 && input.dim(1) == in_, "{} expects input [rows, {}], gets {}", name(), in_,
           shape_text(input.shape()));
  input_ = input;
  int64_t rows = input.dim(0);
  const Tensor& output = output_.ensure(rows, out_, device_, output_dtype_);
  if (output_dtype_ == DType::kBFloat16) {
    kernels::linear_forward(device_, as_operand(input), weight_.data<float>(), bias_.data<float>(), rows, in_, out_,
                            output.data<bfloat16>());
  } else {
    kernels::linear_forward(device_, as_operand(input), weight_.data<float>(), bias_.data<float>(), rows, in_, out_,
                            output.data<float>());
  }
  return output;
}

const Tensor& Linear::backward(const Tensor& grad_output, InputGradient input_gradient, GradientWrite write) {
  int64_t rows = input_.dim(0);
  RT_CHECK(grad_output.shape() == Shape({rows, out_}), "{} backward expects gradient [{}, {}], gets {}", name(), rows,
           out_, shape_text(grad_output.shape()));
  const kernels::SameOperands same(device_);  // both products round an fp32 output gradient once
  const kernels::Operand dy = as_operand(grad_output);  // bf16: the gradient of a bf16 output
  kernels::linear_backward_params(device_, dy, as_operand(input_), rows, in_, out_,
                                  write == GradientWrite::kAccumulate ? 1.0f : 0.0f,
                                  weight_grad_.data<float>(), bias_grad_.data<float>());
  parameter_gradients_written();
  if (input_gradient == InputGradient::kSkip) return input_grad_.tensor();
  const Tensor& grad_input = input_grad_.ensure(rows, in_, device_);
  kernels::linear_backward_input(device_, dy, weight_.data<float>(), rows, in_, out_, grad_input.data<float>());
  return grad_input;
}

}  // namespace rt
