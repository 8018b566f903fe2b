#include "core/layers/dropout.h"

#include "kernels/kernels.h"

namespace rt {

Dropout::Dropout(float p, Device device) : p_(p), device_(device) {
  RT_CHECK(p >= 0.0f && p < 1.0f, "dropout probability must be in [0, 1), not {}", p);
}

const Tensor& Dropout::forward(const Tensor& input) {
  RT_CHECK(input.shape().size() == 2, "dropout expects input [rows, features], gets {}", shape_text(input.shape()));
  input_ = input;
  if (!training_ || p_ == 0.0f) return input_;
  const Tensor& output = output_.ensure(input.dim(0), input.dim(1), device_);
  kernels::dropout_forward(device_, input.data<float>(), output.data<float>(), input.elements(), p_, key_);
  return output;
}

const Tensor& Dropout::backward(const Tensor& grad_output, InputGradient input_gradient, GradientWrite) {
  RT_CHECK(grad_output.shape() == input_.shape(), "dropout backward expects gradient {}, gets {}",
           shape_text(input_.shape()), shape_text(grad_output.shape()));
  RT_CHECK(training_, "dropout backward outside training mode");
  if (input_gradient == InputGradient::kSkip) return input_grad_.tensor();
  const Tensor& grad_input = input_grad_.ensure(input_.dim(0), input_.dim(1), device_);
  kernels::dropout_backward(device_, grad_output.data<float>(), grad_input.data<float>(), input_.elements(), p_, key_);
  return grad_input;
}

}  // namespace rt
