#include "swish.h"

#include <cmath>

namespace {
float sigmoid(float z) { return 1.0f / (1.0f + std::exp(-z)); }
}  // namespace

const rt::Tensor& Swish::forward(const rt::Tensor& input) {
  RT_CHECK(input.device() == rt::Device::kCpu, "swish runs on the CPU (give it a CUDA kernel for the GPU)");
  RT_CHECK(input.shape().size() == 2 && input.dim(1) == features_, "{} expects input [rows, {}], gets {}", name(),
           features_, rt::shape_text(input.shape()));
  input_ = input;
  const int64_t rows = input.dim(0);
  const rt::Tensor& output = output_.ensure(rows, features_, rt::Device::kCpu);
  const float* x = input.data<float>();
  const float* beta = beta_.data<float>();
  float* y = output.data<float>();
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t j = 0; j < features_; ++j) {
      const int64_t i = r * features_ + j;
      y[i] = x[i] * sigmoid(beta[j] * x[i]);
    }
  }
  return output;
}

// With s = sigmoid(beta x): dy/dx = s + beta x s (1 - s), dy/dbeta = x^2 s (1 - s).
const rt::Tensor& Swish::backward(const rt::Tensor& grad_output, rt::InputGradient input_gradient,
                                  rt::GradientWrite write) {
  RT_CHECK(grad_output.shape() == input_.shape(), "{} backward expects gradient {}, gets {}", name(),
           rt::shape_text(input_.shape()), rt::shape_text(grad_output.shape()));
  const int64_t rows = input_.dim(0);
  const float* x = input_.data<float>();
  const float* g = grad_output.data<float>();
  const float* beta = beta_.data<float>();
  float* beta_gradient = beta_gradient_.data<float>();
  if (write == rt::GradientWrite::kOverwrite) std::fill(beta_gradient, beta_gradient + features_, 0.0f);
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t j = 0; j < features_; ++j) {
      const int64_t i = r * features_ + j;
      const float s = sigmoid(beta[j] * x[i]);
      beta_gradient[j] += g[i] * x[i] * x[i] * s * (1.0f - s);
    }
  }
  parameter_gradients_written();  // beta's gradient can be summed across ranks while we go on
  if (input_gradient == rt::InputGradient::kSkip) return input_grad_.tensor();
  const rt::Tensor& grad_input = input_grad_.ensure(rows, features_, rt::Device::kCpu);
  float* dx = grad_input.data<float>();
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t j = 0; j < features_; ++j) {
      const int64_t i = r * features_ + j;
      const float s = sigmoid(beta[j] * x[i]);
      dx[i] = g[i] * (s + beta[j] * x[i] * s * (1.0f - s));
    }
  }
  return grad_input;
}
