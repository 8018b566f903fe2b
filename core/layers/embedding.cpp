#include "core/layers/embedding.h"

#include "kernels/kernels.h"

namespace rt {

namespace {
constexpr float kInitStd = 0.02f;
}

Embedding::Embedding(int64_t vocab, int64_t context, int64_t width, Device device)
    : vocab_(vocab), context_(context), width_(width), device_(device) {
  RT_CHECK(vocab > 0 && context > 0 && width > 0, "Embedding needs positive vocabulary, context and width, not {}, {}, {}",
           vocab, context, width);
}

std::vector<ParameterSpec> Embedding::parameter_specs() const {
  return {{"wte", {vocab_, width_}, 1, ParameterInit::kNormal, kInitStd},
          {"wpe", {context_, width_}, 1, ParameterInit::kNormal, kInitStd}};
}

void Embedding::bind_parameters(const std::vector<Tensor>& parameters, const std::vector<Tensor>& gradients) {
  wte_ = parameters.at(0);
  wpe_ = parameters.at(1);
  wte_grad_ = gradients.at(0);
  wpe_grad_ = gradients.at(1);
}

int64_t Embedding::output_features(int64_t input_features) const {
  RT_CHECK(input_features == context_ + 1,
           "{} expects windows of context + 1 = {} tokens, gets samples of {} features (shard with --context {})",
           name(), context_ + 1, input_features, input_features - 1);
  return width_;
}

const Tensor& Embedding::forward(const Tensor& input) {
  RT_CHECK(input.shape().size() == 2 && input.dim(1) == context_ + 1, "{} expects input [rows, {}], gets {}", name(),
           context_ + 1, shape_text(input.shape()));
  input_ = input;
  const int64_t rows = input.dim(0);
  const Tensor& output = output_.ensure(rows * context_, width_, device_);
  kernels::embedding_forward(device_, input.data<float>(), rows, context_, vocab_, width_, wte_.data<float>(),
                             wpe_.data<float>(), output.data<float>());
  return output;
}

const Tensor& Embedding::backward(const Tensor& grad_output, InputGradient, GradientWrite write) {
  const int64_t rows = input_.dim(0);
  RT_CHECK(grad_output.shape() == Shape({rows * context_, width_}), "{} backward expects gradient [{}, {}], gets {}",
           name(), rows * context_, width_, shape_text(grad_output.shape()));
  const float beta = write == GradientWrite::kAccumulate ? 1.0f : 0.0f;
  // A shared wte already holds the head's part of this backward.
  kernels::embedding_backward(device_, input_.data<float>(), grad_output.data<float>(), rows, context_, vocab_, width_,
                              shared_ ? 1.0f : beta, wte_grad_.data<float>(), beta, wpe_grad_.data<float>());
  return no_input_grad_;  // token ids have no gradient
}

}  // namespace rt
