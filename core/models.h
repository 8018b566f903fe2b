// Models built from the configuration's [model] section.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "core/model.h"
#include "kernels/kernels.h"

namespace rt {

struct MlpOptions {
  std::string activation = "relu";  // or "gelu", or a pointwise activation (kernels/pointwise_activations.h)
  bool layer_norm = false;          // a LayerNorm after each hidden Linear, before the activation
  float dropout = 0.0f;             // above 0: a Dropout with this probability after each hidden activation
};

// The activations an mlp takes: relu, gelu and the pointwise ones (silu, ...).
std::vector<std::string> mlp_activations();

// Linear(input, hidden[0]) [LayerNorm] activation [Dropout] ... Linear(hidden[-1], classes).
std::unique_ptr<Model> build_mlp(int64_t input_features, const std::vector<int64_t>& hidden, int64_t classes,
                                 Device device = Device::kCpu, const MlpOptions& options = {});

// For images [channels, height, width]: per entry of `conv_channels` a 3x3 convolution (padding 1)
// to that many channels, 2x2 max pooling and ReLU (the same function as ReLU then pooling); then Linear+ReLU layers of `hidden` widths and
// a Linear layer to `classes`. The default cnn: conv32-pool-conv64-pool-fc128-fc10. Between the
// convolutions the activations are channel-major; a Flatten makes rows of them (conv2d.h).
std::unique_ptr<Model> build_cnn(const std::vector<int64_t>& image_shape, const std::vector<int64_t>& conv_channels,
                                 const std::vector<int64_t>& hidden, int64_t classes, Device device = Device::kCpu);

struct GptOptions {
  int64_t vocab = 256;
  int64_t context = 128;  // tokens per window
  int64_t layers = 4;
  int64_t heads = 4;
  int64_t width = 128;
  bool tie_embeddings = true;  // the output head shares the token embedding
  kernels::AttentionAlgorithm attention = kernels::AttentionAlgorithm::kFused;
  // The layer norms' and GELUs' outputs stored in bf16: only matrix products read them, and bf16
  // products round their operands to bf16 anyway (the same results, fewer bytes). For bf16
  // products on a GPU that multiplies bf16 operands (compute capability 8.0 on). The trainer then
  // also writes the logits' gradient (read only by the output head's products) in bf16.
  bool bf16_product_inputs = false;
  // bf16 activations where PyTorch's bf16 autocast keeps them: every Linear's output (the
  // projections', added to the residual stream, too) and the output head's logits in bf16, the
  // fp32 sums (plus the bias) rounded once; the GELUs read theirs as they are; where the attention
  // kernels take bf16 (the tensor-core ones on a GPU; kernels::attention_takes_bf16) q, k, v and
  // attention's output too, else the q/k/v Linear stores fp32. The cross-entropy (in fp32) writes
  // the logits' bf16 gradient over them; the GELUs and attention give their bf16 inputs bf16
  // gradients, as autocast does. The residual stream (its sums in fp32) and the other gradients
  // stay fp32. Unlike bf16_product_inputs this rounds values fp32 training would not, so results
  // differ from fp32's within bf16's precision. For the same GPUs as bf16_product_inputs.
  bool bf16_activations = false;
};

// A GPT-2-style decoder: token + position embedding; per layer a pre-norm residual attention
// block (LayerNorm, Linear to q/k/v, causal self-attention, Linear) and a pre-norm residual MLP
// (LayerNorm, Linear to 4x width, GELU, Linear); a final LayerNorm; an output head to the
// vocabulary. Initialised as GPT-2 (normal 0.02, the residual projections 0.02/sqrt(2 layers)).
// Input: windows [rows, context + 1] of token ids; output: logits [rows * context, vocab].
std::unique_ptr<Model> build_gpt(const GptOptions& options, Device device = Device::kCpu);
// A gpt's next-token cross-entropy on its `logits` [tokens, vocab] against `targets`: adds the
// summed loss to *loss_sum and returns the logits' gradient (times grad_scale) for its backward,
// written over the logits (the largest activation; in bf16 where the logits are bf16), or, for
// bf16_product_inputs with fp32 logits, rounded to bf16 into `bf16_gradient`, half their size,
// which the output head's bf16 products read as it is.
const Tensor& gpt_cross_entropy(bool bf16_product_inputs, Device device, const Tensor& logits,
                                const int32_t* targets, float grad_scale, ActivationBuffer& bf16_gradient,
                                double* loss_sum);
// The options as JSON ({"kind": "gpt", "vocab": ...}), as checkpoints keep them, and back.
std::string gpt_description(const GptOptions& options);
GptOptions parse_gpt_description(const std::string& json, const std::string& source);

}  // namespace rt
