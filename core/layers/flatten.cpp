#include "core/layers/flatten.h"

#include "kernels/kernels.h"

namespace rt {

int64_t Flatten::output_features(int64_t input_features) const {
  RT_CHECK(input_features == channels_ * spatial_, "flatten expects {} x {} input features, gets {}", channels_,
           spatial_, input_features);
  return input_features;
}

const Tensor& Flatten::forward(const Tensor& input) {
  RT_CHECK(input.shape().size() == 2 && input.dim(1) == channels_ * spatial_, "flatten expects input [rows, {}], gets {}",
           channels_ * spatial_, shape_text(input.shape()));
  rows_ = input.dim(0);
  const Tensor& output = output_.ensure(rows_, channels_ * spatial_, device_);
  kernels::swap_leading_axes(device_, input.data<float>(), channels_, rows_, spatial_, output.data<float>());
  return output;
}

const Tensor& Flatten::backward(const Tensor& grad_output, InputGradient input_gradient, GradientWrite) {
  RT_CHECK(grad_output.shape() == Shape({rows_, channels_ * spatial_}), "flatten backward expects gradient [{}, {}], gets {}",
           rows_, channels_ * spatial_, shape_text(grad_output.shape()));
  if (input_gradient == InputGradient::kSkip) return input_grad_.tensor();
  const Tensor& grad_input = input_grad_.ensure(rows_, channels_ * spatial_, device_);
  kernels::swap_leading_axes(device_, grad_output.data<float>(), rows_, channels_, spatial_, grad_input.data<float>());
  return grad_input;
}

}  // namespace rt
