#include "core/layers/max_pool2d.h"

#include "kernels/kernels.h"

namespace rt {

MaxPool2d::MaxPool2d(int64_t channels, int64_t height, int64_t width, int64_t window, Device device)
    : channels_(channels), height_(height), width_(width), window_(window), device_(device) {
  RT_CHECK(channels > 0 && window > 0 && height >= window && width >= window,
           "MaxPool2d window {} does not fit {} channels of {}x{}", window, channels, height, width);
}

int64_t MaxPool2d::output_features(int64_t input_features) const {
  RT_CHECK(input_features == channels_ * height_ * width_, "{} expects {}x{}x{} input features, gets {}", name(),
           channels_, height_, width_, input_features);
  return channels_ * (height_ / window_) * (width_ / window_);
}

const Tensor& MaxPool2d::forward(const Tensor& input) {
  RT_CHECK(input.shape().size() == 2 && input.dim(1) == channels_ * height_ * width_,
           "{} expects input [rows, {}], gets {}", name(), channels_ * height_ * width_, shape_text(input.shape()));
  rows_ = input.dim(0);
  const int64_t out_features = channels_ * (height_ / window_) * (width_ / window_);
  const Tensor& output = output_.ensure(rows_, out_features, device_);
  const Tensor& argmax = argmax_.ensure(rows_, out_features, device_, DType::kInt32);
  kernels::max_pool_forward(device_, input.data<float>(), rows_, channels_, height_, width_, window_,
                            output.data<float>(), argmax.data<int32_t>());
  return output;
}

const Tensor& MaxPool2d::backward(const Tensor& grad_output, InputGradient input_gradient, GradientWrite) {
  RT_CHECK(grad_output.shape() == output_.tensor().shape(), "{} backward expects gradient {}, gets {}", name(),
           shape_text(output_.tensor().shape()), shape_text(grad_output.shape()));
  if (input_gradient == InputGradient::kSkip) return input_grad_.tensor();
  const Tensor& grad_input = input_grad_.ensure(rows_, channels_ * height_ * width_, device_);
  kernels::max_pool_backward(device_, grad_output.data<float>(), argmax_.tensor().data<int32_t>(), rows_, channels_,
                             height_, width_, window_, grad_input.data<float>());
  return grad_input;
}

}  // namespace rt
