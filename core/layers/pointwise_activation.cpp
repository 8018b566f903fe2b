#include "core/layers/pointwise_activation.h"

#include "kernels/kernels.h"

namespace rt {

const Tensor& PointwiseActivationLayer::forward(const Tensor& input) {
  RT_CHECK(input.shape().size() == 2 && input.dtype() == DType::kFloat32, "{} expects float input [rows, features], gets {}",
           name(), shape_text(input.shape()));
  input_ = input;
  const Tensor& output = output_.ensure(input.dim(0), input.dim(1), device_);
  kernels::pointwise_activation_forward(device_, activation_, input.data<float>(), output.data<float>(),
                                        input.elements());
  return output;
}

const Tensor& PointwiseActivationLayer::backward(const Tensor& grad_output, InputGradient input_gradient,
                                                 GradientWrite) {
  RT_CHECK(grad_output.shape() == input_.shape(), "{} backward expects gradient {}, gets {}", name(),
           shape_text(input_.shape()), shape_text(grad_output.shape()));
  if (input_gradient == InputGradient::kSkip) return input_grad_.tensor();
  const Tensor& grad_input = input_grad_.ensure(input_.dim(0), input_.dim(1), device_);
  kernels::pointwise_activation_backward(device_, activation_, input_.data<float>(), grad_output.data<float>(),
                                         grad_input.data<float>(), input_.elements());
  return grad_input;
}

}  // namespace rt
