#include "core/model_registry.h"

#include "core/base/logging.h"
#include "core/models.h"
#include "core/registry.h"
#include "kernels/cuda/cuda_kernels.h"
#include "kernels/kernels.h"

namespace rt {

namespace {

std::unique_ptr<Model> build_configured_mlp(ModelSpec& spec) {
  const TrainConfig& c = spec.train;
  MlpOptions options{c.activation, c.layer_norm, static_cast<float>(c.dropout)};
  if (spec.description) {
    spec.description->hidden = c.hidden;
    spec.description->mlp = options;
  }
  return build_mlp(spec.input.size(), c.hidden, spec.classes, spec.device, options);
}

std::unique_ptr<Model> build_configured_cnn(ModelSpec& spec) {
  const TrainConfig& c = spec.train;
  if (spec.description) {
    spec.description->hidden = c.hidden;
    spec.description->channels = c.channels;
  }
  return build_cnn(spec.input.shape, c.channels, c.hidden, spec.classes, spec.device);
}

// The GPT's options: its context and vocabulary from the token shards, bf16 and the attention
// algorithm from the GPU it runs on.
std::unique_ptr<Model> build_configured_gpt(ModelSpec& spec) {
  const TrainConfig& c = spec.train;
  RT_CHECK(spec.input.shape.size() == 1 && spec.input.size() >= 2 && spec.input.scale == 1.0,
           "model.kind = \"gpt\" needs token shards (`ringtrain shard --text`: windows of context + 1 token ids), "
           "but {} holds samples of shape {} with scale {}",
           spec.shards, shape_text(spec.input.shape), spec.input.scale);
  GptOptions gpt;
  gpt.vocab = spec.classes;
  gpt.context = spec.input.size() - 1;
  gpt.layers = c.layers;
  gpt.heads = c.heads;
  gpt.width = c.width;
  gpt.tie_embeddings = c.tie_embeddings;
  const bool gpu = spec.device == Device::kCuda;
  const int compute_capability = gpu ? kernels::cuda::compute_capability_major() : 0;
  const bool bf16 = c.precision == kernels::cuda::MatmulPrecision::kBf16;
  gpt.bf16_product_inputs = gpu && bf16 && compute_capability >= 8;
  gpt.bf16_activations = gpt.bf16_product_inputs;
  gpt.attention = c.attention ? *c.attention
                              : kernels::automatic_attention(spec.device, bf16, compute_capability, c.width / c.heads);
  if (gpu) {
    log_info("attention: {}{}", kernels::attention_algorithm_name(gpt.attention),
             c.attention ? "" : " (model.attention = \"auto\")");
  }
  spec.next_token_context = gpt.context;
  spec.bf16_logit_gradient = gpt.bf16_product_inputs;
  if (spec.description) spec.description->gpt = gpt;
  return build_gpt(gpt, spec.device);
}

Registry<ModelFactory>& models() {
  static Registry<ModelFactory>* registry = [] {
    auto* r = new Registry<ModelFactory>("model.kind");
    r->add("mlp", build_configured_mlp, true);
    r->add("cnn", build_configured_cnn, true);
    r->add("gpt", build_configured_gpt, true);
    return r;
  }();
  return *registry;
}

}  // namespace

void register_model(const std::string& kind, ModelFactory factory) { models().add(kind, std::move(factory), false); }
bool model_registered(const std::string& kind) { return models().contains(kind); }
bool model_is_built_in(const std::string& kind) { return models().built_in(kind); }
std::vector<std::string> registered_models() { return models().kinds(); }

std::unique_ptr<Model> build_model(const std::string& kind, ModelSpec& spec) {
  std::unique_ptr<Model> model = models().find(kind)(spec);
  RT_CHECK(model != nullptr, "model.kind '{}': its factory built no model", kind);
  RT_CHECK(model->input_features() == spec.input.size(),
           "model.kind '{}' reads {} features per sample, but the samples of {} have {} (shape {})", kind,
           model->input_features(), spec.shards, spec.input.size(), shape_text(spec.input.shape));
  RT_CHECK(spec.next_token_context > 0 || model->output_features() == spec.classes,
           "model.kind '{}' gives {} outputs per sample, but {} has {} classes", kind,
           model->output_features(), spec.shards, spec.classes);
  return model;
}

}  // namespace rt
