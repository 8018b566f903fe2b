// What a checkpoint says about its model, so that the checkpoint alone can rebuild and use it
// (`ringtrain evaluate`, `predict`, `serve`, `generate`): the kind and shape, the input a sample
// is (its shape, how it is stored and scaled), the classes, the ringtrain that wrote it and the
// training configuration. Kept as JSON in the checkpoint's state.json ("model").
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/base/device.h"
#include "core/base/dtype.h"
#include "core/model.h"
#include "core/models.h"

namespace rt {

// A sample as the model reads it: `shape` values stored as `dtype` (uint8 or float32, as in the
// shards), each multiplied by `scale` (uint8 images: 1/255, widened to [0, 1]).
struct InputDescription {
  std::vector<int64_t> shape;
  DType dtype = DType::kFloat32;
  double scale = 1.0;
  int64_t size() const;
};

struct ModelDescription {
  std::string kind;  // "mlp", "cnn" or "gpt"
  InputDescription input;
  int64_t classes = 0;                   // outputs per sample (a gpt: its vocabulary, per token)
  bool regression = false;               // one output, a predicted value (model.task = "regression")
  std::vector<std::string> class_names;  // empty where the shards name none
  // mlp
  std::vector<int64_t> hidden;
  MlpOptions mlp;
  // cnn (and its fully connected widths in `hidden`)
  std::vector<int64_t> channels;
  // gpt
  GptOptions gpt;
  std::string ringtrain_version;
  std::string config;  // the training configuration as resolved (TOML)

  // The class's name, or its id as text.
  std::string class_name(int64_t id) const;
};

// The ringtrain version that writes descriptions.
const char* ringtrain_version();

std::string model_description_json(const ModelDescription& description);
// Parses and validates the description kept in `source` (a checkpoint's path); throws rt::Error
// naming it and the key at fault. Empty `json`: a checkpoint from before ringtrain described its
// models, refused with a message that says so. A gpt's description from before the input was
// described gets its input from its context.
ModelDescription parse_model_description(const std::string& json, const std::string& source);

// The model the description describes, uninitialised.
std::unique_ptr<Model> build_described_model(const ModelDescription& description, Device device = Device::kCpu);

}  // namespace rt
