// Models by name: `model.kind` in a configuration names a registered model. ringtrain registers
// mlp, cnn and gpt; a program of its own registers its models with register_model() before it
// trains, evaluates or serves (examples/custom_model), and then `model.kind = "its name"` finds
// them in `train`, and its checkpoints rebuild them in `evaluate`, `predict` and `serve`.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/base/config.h"
#include "core/base/device.h"
#include "core/model.h"
#include "core/model_description.h"
#include "core/train_config.h"

namespace rt {

// What a model factory is given, and what a language model's factory tells the trainer.
struct ModelSpec {
  ModelSpec(Config& config, const TrainConfig& train, InputDescription input, int64_t classes, Device device)
      : config(config), train(train), input(std::move(input)), classes(classes), device(device) {}

  // The run's configuration: a model of a program's own reads its [model] keys here (get_int,
  // get_double, ...: each checked, and a key no factory reads is an error naming it).
  Config& config;
  // The settings ringtrain reads itself (the built-in models' keys among them).
  const TrainConfig& train;
  InputDescription input;  // one sample as the shards hold it: shape, dtype, scale
  int64_t classes = 0;     // outputs per sample (the shards' classes)
  Device device = Device::kCpu;
  std::string shards;      // the shard the input was read from, for messages
  // Set by a language model's factory: the model reads windows of next_token_context + 1 token
  // ids and learns each next token (0: a classifier of whole samples).
  int64_t next_token_context = 0;
  // Set by the gpt: its cross-entropy writes the logits' gradient in bf16 (models.h).
  bool bf16_logit_gradient = false;
  // The built-in models add their options here (what their checkpoints keep).
  ModelDescription* description = nullptr;
};

// Builds the model, uninitialised (the trainer initialises it from train.seed).
using ModelFactory = std::function<std::unique_ptr<Model>(ModelSpec& spec)>;

// Adds `kind` (letters, digits, '_' and '-'); a kind registered twice is an error.
void register_model(const std::string& kind, ModelFactory factory);
bool model_registered(const std::string& kind);
// Whether ringtrain's own configuration keys describe the kind (mlp, cnn, gpt), rather than
// keys its factory reads from ModelSpec::config.
bool model_is_built_in(const std::string& kind);
std::vector<std::string> registered_models();
// The kind's model; an unregistered kind is an error naming the registered ones.
std::unique_ptr<Model> build_model(const std::string& kind, ModelSpec& spec);

}  // namespace rt
