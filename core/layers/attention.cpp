#include "core/layers/attention.h"

namespace rt {

CausalSelfAttention::CausalSelfAttention(int64_t context, int64_t width, int64_t heads, Device device,
                                         kernels::AttentionAlgorithm algorithm)
    : context_(context), width_(width), heads_(heads), device_(device), algorithm_(algorithm) {
  RT_CHECK(context > 0 && heads > 0 && width > 0 && width % heads == 0,
           "attention needs a width divisible by its heads, not width {} with {} heads", width, heads);
}

int64_t CausalSelfAttention::output_features(int64_t input_features) const {
  RT_CHECK(input_features == 3 * width_, "{} expects query, key and value: {} features, gets {}", name(), 3 * width_,
           input_features);
  return width_;
}

float* CausalSelfAttention::workspace(int64_t rows) {
  const int64_t floats = kernels::attention_workspace(device_, algorithm_, shape(rows));
  if (floats == 0) return nullptr;
  thread_local ActivationBuffer shared;  // grows to the largest asked for on this thread
  return shared.ensure(floats, 1, device_).data<float>();
}

const Tensor& CausalSelfAttention::forward(const Tensor& input) {
  RT_CHECK(input.shape().size() == 2 && input.dim(1) == 3 * width_ && input.dim(0) % context_ == 0,
           "{} expects input [windows * {}, {}], gets {}", name(), context_, 3 * width_, shape_text(input.shape()));
  input_ = input;
  const int64_t rows = input.dim(0) / context_;
  const Tensor& output = output_.ensure(input.dim(0), width_, device_, input.dtype());
  const Tensor& lse = lse_.ensure(rows * heads_, context_, device_);
  if (input.dtype() == DType::kBFloat16) {
    kernels::attention_forward(device_, algorithm_, shape(rows), input.data<bfloat16>(), output.data<bfloat16>(),
                               lse.data<float>(), workspace(rows));
  } else {
    kernels::attention_forward(device_, algorithm_, shape(rows), input.data<float>(), output.data<float>(),
                               lse.data<float>(), workspace(rows));
  }
  return output;
}

const Tensor& CausalSelfAttention::backward(const Tensor& grad_output, InputGradient, GradientWrite) {
  RT_CHECK(grad_output.shape() == output_.tensor().shape(), "{} backward expects gradient {}, gets {}", name(),
           shape_text(output_.tensor().shape()), shape_text(grad_output.shape()));
  const int64_t rows = input_.dim(0) / context_;
  // bf16 q, k, v get a bf16 gradient (rounded as it is stored), as under bf16 autocast.
  const Tensor& grad_input = input_grad_.ensure(input_.dim(0), 3 * width_, device_, input_.dtype());
  const Tensor& output = output_.tensor();
  if (input_.dtype() == DType::kBFloat16) {
    kernels::attention_backward(device_, algorithm_, shape(rows), input_.data<bfloat16>(), output.data<bfloat16>(),
                                lse_.tensor().data<float>(), grad_output.data<float>(), grad_input.data<bfloat16>(),
                                workspace(rows));
  } else {
    kernels::attention_backward(device_, algorithm_, shape(rows), input_.data<float>(), output.data<float>(),
                                lse_.tensor().data<float>(), grad_output.data<float>(), grad_input.data<float>(),
                                workspace(rows));
  }
  return grad_input;
}

}  // namespace rt
