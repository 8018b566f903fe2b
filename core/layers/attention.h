// Causal multi-head self-attention (no parameters; the projections around it are Linear layers):
// input [rows * context, 3 * width], each token's query, key and value; output [rows * context,
// width]. kernels.h describes the layout and the two algorithms; on the GPU the fused one is the
// fast path and the plain one its reference (also used for head sizes the fused kernels lack).
// A bf16 input (a GPT's bf16 activations) gives a bf16 output, and a bf16 input gradient; on a
// GPU only the tensor-core kernels take one.
#pragma once

#include "core/layer.h"
#include "kernels/kernels.h"

namespace rt {

class CausalSelfAttention final : public Layer {
 public:
  CausalSelfAttention(int64_t context, int64_t width, int64_t heads, Device device = Device::kCpu,
                      kernels::AttentionAlgorithm algorithm = kernels::AttentionAlgorithm::kFused);
  std::string name() const override { return fmt::format("attention{}x{}h", width_, heads_); }
  int64_t output_features(int64_t input_features) const override;
  const Tensor& forward(const Tensor& input) override;
  const Tensor& backward(const Tensor& grad_output, InputGradient input_gradient, GradientWrite write) override;

 private:
  kernels::AttentionShape shape(int64_t rows) const { return {rows, context_, width_, heads_}; }
  // The plain algorithm's scratch space: one buffer shared by every attention layer of the thread
  // (each uses it only within one forward or backward call), so a model's workspace is one
  // layer's, not one per layer.
  float* workspace(int64_t rows);

  int64_t context_, width_, heads_;
  Device device_;
  kernels::AttentionAlgorithm algorithm_;
  Tensor input_;
  ActivationBuffer output_, lse_;
};

}  // namespace rt
