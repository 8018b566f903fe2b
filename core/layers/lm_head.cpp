#include "core/layers/lm_head.h"

#include "kernels/kernels.h"

namespace rt {

LmHead::LmHead(int64_t width, int64_t vocab, Embedding* embedding, Device device, DType output)
    : width_(width), vocab_(vocab), tied_(embedding), device_(device), output_dtype_(output) {
  RT_CHECK(width > 0 && vocab > 0, "an output head needs positive width and vocabulary, not {} and {}", width, vocab);
  RT_CHECK(output == DType::kFloat32 || output == DType::kBFloat16, "an output head stores float32 or bfloat16, not {}",
           dtype_name(output));
  if (tied_) {
    RT_CHECK(tied_->vocab() == vocab && tied_->width() == width,
             "a tied head [{} x {}] must match its embedding [{} x {}]", vocab, width, tied_->vocab(), tied_->width());
    tied_->share_token_weight();
  }
}

std::vector<ParameterSpec> LmHead::parameter_specs() const {
  if (tied_) return {};
  return {{"weight", {vocab_, width_}, 1, ParameterInit::kNormal, 0.02f}};
}

void LmHead::bind_parameters(const std::vector<Tensor>& parameters, const std::vector<Tensor>& gradients) {
  weight_ = parameters.at(0);
  weight_grad_ = gradients.at(0);
}

int64_t LmHead::output_features(int64_t input_features) const {
  RT_CHECK(input_features == width_, "{} expects {} input features, gets {}", name(), width_, input_features);
  return vocab_;
}

const Tensor& LmHead::forward(const Tensor& input) {
  RT_CHECK(input.shape().size() == 2 && input.dim(1) == width_, "{} expects input [rows, {}], gets {}", name(), width_,
           shape_text(input.shape()));
  input_ = input;
  const int64_t rows = input.dim(0);
  const Tensor& output = output_.ensure(rows, vocab_, device_, output_dtype_);
  if (output_dtype_ == DType::kBFloat16) {
    kernels::gemm(device_, kernels::Transpose::kNo, kernels::Transpose::kYes, rows, vocab_, width_, 1.0f,
                  as_operand(input), weight().data<float>(), 0.0f, output.data<bfloat16>());
  } else {
    kernels::gemm(device_, kernels::Transpose::kNo, kernels::Transpose::kYes, rows, vocab_, width_, 1.0f,
                  as_operand(input), weight().data<float>(), 0.0f, output.data<float>());
  }
  return output;
}

const Tensor& LmHead::backward(const Tensor& grad_output, InputGradient input_gradient, GradientWrite write) {
  const int64_t rows = input_.dim(0);
  RT_CHECK(grad_output.shape() == Shape({rows, vocab_}), "{} backward expects gradient [{}, {}], gets {}", name(), rows,
           vocab_, shape_text(grad_output.shape()));
  const kernels::SameOperands same(device_);  // both products round fp32 dlogits once
  const kernels::Operand dlogits = as_operand(grad_output);  // or take bf16 ones as they are
  // dW [vocab, width] = dlogits^T x. Tied: written before the embedding's backward adds its part.
  kernels::gemm(device_, kernels::Transpose::kYes, kernels::Transpose::kNo, vocab_, width_, rows, 1.0f,
                dlogits, as_operand(input_), write == GradientWrite::kAccumulate ? 1.0f : 0.0f,
                weight_grad().data<float>());
  if (input_gradient == InputGradient::kSkip) return input_grad_.tensor();
  const Tensor& grad_input = input_grad_.ensure(rows, width_, device_);
  kernels::gemm(device_, kernels::Transpose::kNo, kernels::Transpose::kNo, rows, width_, vocab_, 1.0f,
                dlogits, weight().data<float>(), 0.0f, grad_input.data<float>());
  return grad_input;
}

}  // namespace rt
