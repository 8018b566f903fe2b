#include "core/layers/gelu.h"

#include "kernels/kernels.h"

namespace rt {

Gelu::Gelu(Device device, DType output) : device_(device), output_dtype_(output) {
  RT_CHECK(output == DType::kFloat32 || output == DType::kBFloat16, "gelu stores float32 or bfloat16, not {}",
           dtype_name(output));
}

const Tensor& Gelu::forward(const Tensor& input) {
  RT_CHECK(input.shape().size() == 2, "gelu expects input [rows, features], gets {}", shape_text(input.shape()));
  input_ = input;
  const Tensor& output = output_.ensure(input.dim(0), input.dim(1), device_, output_dtype_);
  if (output_dtype_ == DType::kBFloat16) {
    kernels::gelu_forward(device_, as_operand(input), output.data<bfloat16>(), input.elements());
  } else {
    kernels::gelu_forward(device_, as_operand(input), output.data<float>(), input.elements());
  }
  return output;
}

const Tensor& Gelu::backward(const Tensor& grad_output, InputGradient input_gradient, GradientWrite) {
  RT_CHECK(grad_output.shape() == input_.shape(), "gelu backward expects gradient {}, gets {}",
           shape_text(input_.shape()), shape_text(grad_output.shape()));
  if (input_gradient == InputGradient::kSkip) return input_grad_.tensor();
  // A bf16 input's gradient is bf16 too (rounded as it is stored), as bf16 autocast's.
  const Tensor& grad_input = input_grad_.ensure(input_.dim(0), input_.dim(1), device_, input_.dtype());
  if (input_.dtype() == DType::kBFloat16) {
    kernels::gelu_backward(device_, as_operand(input_), grad_output.data<float>(), grad_input.data<bfloat16>(),
                           input_.elements());
  } else {
    kernels::gelu_backward(device_, as_operand(input_), grad_output.data<float>(), grad_input.data<float>(),
                           input_.elements());
  }
  return grad_input;
}

}  // namespace rt
