// Token and position embedding for a language model: input windows [rows, context + 1] of token
// ids (as floats; the last token of each window is only a target), output one row per input
// token, [rows * context, width] = wte[token] + wpe[position]. wte [vocab, width] and wpe
// [context, width] start normal with deviation 0.02, as GPT-2's.
//
// An output head may share wte (LmHead): it then writes wte's gradient first in backward, and
// this layer adds to it.
#pragma once

#include "core/layer.h"

namespace rt {

class Embedding final : public Layer {
 public:
  Embedding(int64_t vocab, int64_t context, int64_t width, Device device = Device::kCpu);
  std::string name() const override { return fmt::format("embedding{}x{}+{}", vocab_, width_, context_); }
  std::vector<ParameterSpec> parameter_specs() const override;
  void bind_parameters(const std::vector<Tensor>& parameters, const std::vector<Tensor>& gradients) override;
  int64_t output_features(int64_t input_features) const override;
  const Tensor& forward(const Tensor& input) override;
  const Tensor& backward(const Tensor& grad_output, InputGradient input_gradient, GradientWrite write) override;

  // For a head that shares the token embedding.
  const Tensor& token_weight() const { return wte_; }
  const Tensor& token_weight_grad() const { return wte_grad_; }
  void share_token_weight() { shared_ = true; }
  int64_t vocab() const { return vocab_; }
  int64_t width() const { return width_; }

 private:
  int64_t vocab_, context_, width_;
  Device device_;
  bool shared_ = false;
  Tensor wte_, wpe_, wte_grad_, wpe_grad_;
  Tensor input_;
  ActivationBuffer output_;
  Tensor no_input_grad_;
};

}  // namespace rt
