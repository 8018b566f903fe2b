#include "core/layers/relu.h"

#include "kernels/kernels.h"

namespace rt {

const Tensor& Relu::forward(const Tensor& input) {
  RT_CHECK(input.shape().size() == 2, "relu expects input [rows, features], gets {}", shape_text(input.shape()));
  const Tensor& output = output_.ensure(input.dim(0), input.dim(1), device_);
  kernels::relu_forward(device_, input.data<float>(), output.data<float>(), input.elements());
  return output;
}

const Tensor& Relu::backward(const Tensor& grad_output, InputGradient input_gradient, GradientWrite) {
  const Tensor& output = output_.tensor();
  RT_CHECK(grad_output.shape() == output.shape(), "relu backward expects gradient {}, gets {}",
           shape_text(output.shape()), shape_text(grad_output.shape()));
  if (input_gradient == InputGradient::kSkip) return input_grad_.tensor();
  const Tensor& grad_input = input_grad_.ensure(output.dim(0), output.dim(1), device_);
  kernels::relu_backward(device_, output.data<float>(), grad_output.data<float>(), grad_input.data<float>(),
                         output.elements());
  return grad_input;
}

}  // namespace rt
