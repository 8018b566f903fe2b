// A language model's output head: logits [rows, vocab] = x [rows, width] W^T, no bias. W is the
// token embedding's wte (weight tying, as GPT-2) or, untied, a [vocab, width] weight of its own
// (normal, deviation 0.02). The logits may be stored in bf16 (output = kBFloat16: the fp32 sums
// rounded once), as bf16 autocast stores them. Backward takes an fp32 or a bf16 dlogits (only its
// products read it).
#pragma once

#include "core/layer.h"
#include "core/layers/embedding.h"

namespace rt {

class LmHead final : public Layer {
 public:
  // Tied to `embedding` (which must outlive this layer), or untied when it is null.
  LmHead(int64_t width, int64_t vocab, Embedding* embedding, Device device = Device::kCpu,
         DType output = DType::kFloat32);
  std::string name() const override { return fmt::format("{}head{}x{}", tied_ ? "tied" : "", width_, vocab_); }
  std::vector<ParameterSpec> parameter_specs() const override;
  void bind_parameters(const std::vector<Tensor>& parameters, const std::vector<Tensor>& gradients) override;
  int64_t output_features(int64_t input_features) const override;
  const Tensor& forward(const Tensor& input) override;
  const Tensor& backward(const Tensor& grad_output, InputGradient input_gradient, GradientWrite write) override;

 private:
  const Tensor& weight() const { return tied_ ? tied_->token_weight() : weight_; }
  const Tensor& weight_grad() const { return tied_ ? tied_->token_weight_grad() : weight_grad_; }

  int64_t width_, vocab_;
  Embedding* tied_;
  Device device_;
  DType output_dtype_;
  Tensor weight_, weight_grad_;
  Tensor input_;
  ActivationBuffer output_;
};

}  // namespace rt
