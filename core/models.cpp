#include "core/models.h"

#include <cmath>

#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "core/layers/attention.h"
#include "core/layers/conv2d.h"
#include "core/layers/dropout.h"
#include "core/layers/embedding.h"
#include "core/layers/flatten.h"
#include "core/layers/gelu.h"
#include "core/layers/layer_norm.h"
#include "core/layers/linear.h"
#include "core/layers/lm_head.h"
#include "core/layers/max_pool2d.h"
#include "core/layers/pointwise_activation.h"
#include "core/layers/relu.h"
#include "core/layers/residual.h"

namespace rt {

std::vector<std::string> mlp_activations() {
  std::vector<std::string> names{"relu", "gelu"};
  for (kernels::PointwiseActivation activation : kernels::pointwise_activations()) {
    names.push_back(kernels::pointwise_activation_name(activation));
  }
  return names;
}

std::unique_ptr<Model> build_mlp(int64_t input_features, const std::vector<int64_t>& hidden, int64_t classes,
                                 Device device, const MlpOptions& options) {
  kernels::PointwiseActivation pointwise{};
  const bool is_pointwise = kernels::find_pointwise_activation(options.activation, &pointwise);
  RT_CHECK(options.activation == "relu" || options.activation == "gelu" || is_pointwise,
           "unknown activation \"{}\" (expected one of {})", options.activation, fmt::join(mlp_activations(), ", "));
  std::vector<std::unique_ptr<Layer>> layers;
  int64_t width = input_features;
  for (int64_t next : hidden) {
    layers.push_back(std::make_unique<Linear>(width, next, device));
    if (options.layer_norm) layers.push_back(std::make_unique<LayerNorm>(next, device));
    if (options.activation == "gelu") {
      layers.push_back(std::make_unique<Gelu>(device));
    } else if (is_pointwise) {
      layers.push_back(std::make_unique<PointwiseActivationLayer>(pointwise, device));
    } else {
      layers.push_back(std::make_unique<Relu>(device));
    }
    if (options.dropout > 0.0f) layers.push_back(std::make_unique<Dropout>(options.dropout, device));
    width = next;
  }
  layers.push_back(std::make_unique<Linear>(width, classes, device));
  return std::make_unique<Model>(std::move(layers), input_features, device);
}

std::unique_ptr<Model> build_cnn(const std::vector<int64_t>& image_shape, const std::vector<int64_t>& conv_channels,
                                 const std::vector<int64_t>& hidden, int64_t classes, Device device) {
  RT_CHECK(image_shape.size() == 2 || image_shape.size() == 3,
           "a cnn needs images: samples of shape [height, width] or [channels, height, width], not {}",
           shape_text(image_shape));
  int64_t channels = image_shape.size() == 3 ? image_shape[0] : 1;
  int64_t height = image_shape[image_shape.size() - 2], width = image_shape.back();
  const int64_t input_features = channels * height * width;
  std::vector<std::unique_ptr<Layer>> layers;
  for (int64_t next : conv_channels) {
    kernels::ConvGeometry geometry;
    geometry.channels = channels;
    geometry.height = height;
    geometry.width = width;
    geometry.kernel = 3;
    geometry.stride = 1;
    geometry.padding = 1;
    geometry.channel_major = !layers.empty();  // the image, then what the previous block made
    layers.push_back(std::make_unique<Conv2d>(geometry, next, device));
    // Pooling before ReLU computes the same as after it (both are monotone, and ReLU's gradient
    // at the window's maximum is the one that counts) on a quarter of the elements.
    layers.push_back(std::make_unique<MaxPool2d>(next, height, width, 2, device));
    layers.push_back(std::make_unique<Relu>(device));
    channels = next;
    height /= 2;
    width /= 2;
  }
  int64_t features = channels * height * width;
  if (!conv_channels.empty()) layers.push_back(std::make_unique<Flatten>(channels, height * width, device));
  for (int64_t next : hidden) {
    layers.push_back(std::make_unique<Linear>(features, next, device));
    layers.push_back(std::make_unique<Relu>(device));
    features = next;
  }
  layers.push_back(std::make_unique<Linear>(features, classes, device));
  return std::make_unique<Model>(std::move(layers), input_features, device);
}

std::unique_ptr<Model> build_gpt(const GptOptions& o, Device device) {
  RT_CHECK(o.layers > 0 && o.heads > 0 && o.width % o.heads == 0,
           "a gpt needs layers > 0 and a width divisible by its heads, not {} layers, width {}, {} heads", o.layers,
           o.width, o.heads);
  const int64_t C = o.width;
  constexpr float kStd = 0.02f;
  const float projection_std = kStd / std::sqrt(2.0f * static_cast<float>(o.layers));
  const DType product_input = o.bf16_product_inputs ? DType::kBFloat16 : DType::kFloat32;
  // The linears' outputs (the projections' too: added to the fp32 residual stream) and the logits.
  const DType linear_outputs = o.bf16_activations ? DType::kBFloat16 : DType::kFloat32;
  // q, k, v and attention's output in bf16 where the attention kernels take them.
  const DType attention_activations =
      o.bf16_activations && kernels::attention_takes_bf16(device, o.attention, C / o.heads) ? DType::kBFloat16
                                                                                             : DType::kFloat32;
  std::vector<std::unique_ptr<Layer>> layers;
  auto embedding = std::make_unique<Embedding>(o.vocab, o.context, C, device);
  Embedding* token_embedding = embedding.get();
  layers.push_back(std::move(embedding));
  for (int64_t l = 0; l < o.layers; ++l) {
    std::vector<std::unique_ptr<Layer>> attention;
    attention.push_back(std::make_unique<LayerNorm>(C, device, kLayerNormEps, product_input));
    attention.push_back(std::make_unique<Linear>(C, 3 * C, device, kStd, attention_activations));
    attention.push_back(std::make_unique<CausalSelfAttention>(o.context, C, o.heads, device, o.attention));
    attention.push_back(std::make_unique<Linear>(C, C, device, projection_std, linear_outputs));
    layers.push_back(std::make_unique<Residual>(std::move(attention), device));
    std::vector<std::unique_ptr<Layer>> mlp;
    mlp.push_back(std::make_unique<LayerNorm>(C, device, kLayerNormEps, product_input));
    mlp.push_back(std::make_unique<Linear>(C, 4 * C, device, kStd, linear_outputs));
    mlp.push_back(std::make_unique<Gelu>(device, product_input));
    mlp.push_back(std::make_unique<Linear>(4 * C, C, device, projection_std, linear_outputs));
    layers.push_back(std::make_unique<Residual>(std::move(mlp), device));
  }
  layers.push_back(std::make_unique<LayerNorm>(C, device, kLayerNormEps, product_input));
  layers.push_back(std::make_unique<LmHead>(C, o.vocab, o.tie_embeddings ? token_embedding : nullptr, device,
                                            linear_outputs));
  return std::make_unique<Model>(std::move(layers), o.context + 1, device);
}

const Tensor& gpt_cross_entropy(bool bf16_product_inputs, Device device, const Tensor& logits,
                                const int32_t* targets, float grad_scale, ActivationBuffer& bf16_gradient,
                                double* loss_sum) {
  const int64_t tokens = logits.dim(0), vocab = logits.dim(1);
  if (logits.dtype() == DType::kBFloat16) {  // bf16 activations: the bf16 gradient over the logits
    kernels::softmax_cross_entropy_bf16_gradient(device, logits.data<bfloat16>(), targets, tokens, vocab, grad_scale,
                                                 logits.data<bfloat16>(), loss_sum);
    return logits;
  }
  if (!bf16_product_inputs) {
    kernels::softmax_cross_entropy(device, logits.data<float>(), targets, tokens, vocab, grad_scale,
                                   logits.data<float>(), loss_sum);
    return logits;
  }
  const Tensor& gradient = bf16_gradient.ensure(tokens, vocab, device, DType::kBFloat16);
  kernels::softmax_cross_entropy_bf16_gradient(device, logits.data<float>(), targets, tokens, vocab, grad_scale,
                                               gradient.data<bfloat16>(), loss_sum);
  return gradient;
}

std::string gpt_description(const GptOptions& o) {
  return nlohmann::json{{"kind", "gpt"},     {"vocab", o.vocab},   {"context", o.context},
                        {"layers", o.layers}, {"heads", o.heads},   {"width", o.width},
                        {"tie_embeddings", o.tie_embeddings}}
      .dump();
}

GptOptions parse_gpt_description(const std::string& json, const std::string& source) {
  RT_CHECK(!json.empty(), "{} does not describe its model (written before checkpoints did, or not by a gpt)", source);
  try {
    nlohmann::json j = nlohmann::json::parse(json);
    RT_CHECK(j.at("kind").get<std::string>() == "gpt", "{} holds a {}, not a gpt", source, j.at("kind").get<std::string>());
    GptOptions o;
    o.vocab = j.at("vocab").get<int64_t>();
    o.context = j.at("context").get<int64_t>();
    o.layers = j.at("layers").get<int64_t>();
    o.heads = j.at("heads").get<int64_t>();
    o.width = j.at("width").get<int64_t>();
    o.tie_embeddings = j.at("tie_embeddings").get<bool>();
    return o;
  } catch (const nlohmann::json::exception& error) {
    RT_FAIL("{}: the model's description: {}", source, error.what());
  }
}

}  // namespace rt
