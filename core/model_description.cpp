#include "core/model_description.h"

#include <nlohmann/json.hpp>

#include <algorithm>

#include <fmt/ranges.h>

#include "core/base/check.h"
#include "core/model_registry.h"

namespace rt {

namespace {
using nlohmann::json;

const json& member(const json& j, const char* key, const std::string& source) {
  auto found = j.find(key);
  RT_CHECK(found != j.end(), "{}: the model's description has no '{}'", source, key);
  return *found;
}

int64_t positive_int(const json& j, const char* key, const std::string& source) {
  const json& value = member(j, key, source);
  RT_CHECK(value.is_number_integer() && value.get<int64_t>() > 0 && value.get<int64_t>() <= (int64_t{1} << 40),
           "{}: the model's '{}' is {}, not a positive integer", source, key, value.dump());
  return value.get<int64_t>();
}

std::vector<int64_t> positive_ints(const json& j, const char* key, const std::string& source, bool may_be_empty) {
  const json& value = member(j, key, source);
  RT_CHECK(value.is_array() && (may_be_empty || !value.empty()), "{}: the model's '{}' is {}, not a list of sizes",
           source, key, value.dump());
  std::vector<int64_t> out;
  for (const json& entry : value) {
    RT_CHECK(entry.is_number_integer() && entry.get<int64_t>() > 0 && entry.get<int64_t>() <= (int64_t{1} << 30),
             "{}: the model's '{}' holds {}, not a positive size", source, key, entry.dump());
    out.push_back(entry.get<int64_t>());
  }
  return out;
}

std::string text(const json& j, const char* key, const std::string& source) {
  const json& value = member(j, key, source);
  RT_CHECK(value.is_string(), "{}: the model's '{}' is {}, not text", source, key, value.dump());
  return value.get<std::string>();
}

bool flag(const json& j, const char* key, const std::string& source) {
  const json& value = member(j, key, source);
  RT_CHECK(value.is_boolean(), "{}: the model's '{}' is {}, not true or false", source, key, value.dump());
  return value.get<bool>();
}

ModelDescription parse(const json& j, const std::string& source) {
  RT_CHECK(j.is_object(), "{}: the model's description is not a JSON object", source);
  ModelDescription d;
  d.kind = text(j, "kind", source);
  RT_CHECK(model_registered(d.kind),
           "{} holds a model of kind '{}', which this program does not register (it knows {}): a model of a "
           "program's own is evaluated, predicted and served by that program",
           source, d.kind, fmt::join(registered_models(), ", "));
  if (d.kind == "gpt") {
    d.gpt.vocab = positive_int(j, "vocab", source);
    d.gpt.context = positive_int(j, "context", source);
    d.gpt.layers = positive_int(j, "layers", source);
    d.gpt.heads = positive_int(j, "heads", source);
    d.gpt.width = positive_int(j, "width", source);
    d.gpt.tie_embeddings = flag(j, "tie_embeddings", source);
    RT_CHECK(d.gpt.width % d.gpt.heads == 0, "{}: the gpt's width {} is not a multiple of its {} heads", source,
             d.gpt.width, d.gpt.heads);
    d.classes = d.gpt.vocab;
    d.input = {{d.gpt.context + 1}, d.gpt.vocab <= 256 ? DType::kUInt8 : DType::kFloat32, 1.0};
  }
  if (!j.contains("input")) {
    // Only a gpt's descriptions came without the input (theirs follows from the context).
    RT_CHECK(d.kind == "gpt", "{}: the model's description has no 'input'", source);
    return d;
  }
  const json& input = member(j, "input", source);
  RT_CHECK(input.is_object(), "{}: the model's 'input' is {}, not an object", source, input.dump());
  d.input.shape = positive_ints(input, "shape", source, false);
  const std::string dtype = text(input, "dtype", source);
  RT_CHECK(dtype == "uint8" || dtype == "float32", "{}: the input's dtype '{}' is not uint8 or float32", source,
           dtype);
  d.input.dtype = dtype == "uint8" ? DType::kUInt8 : DType::kFloat32;
  const json& scale = member(input, "scale", source);
  RT_CHECK(scale.is_number() && std::isfinite(scale.get<double>()) && scale.get<double>() > 0,
           "{}: the input's scale is {}, not a positive number", source, scale.dump());
  d.input.scale = scale.get<double>();
  RT_CHECK(d.input.size() <= (int64_t{1} << 30), "{}: the input of shape {} is too large", source,
           input.at("shape").dump());
  d.classes = positive_int(j, "classes", source);
  if (j.contains("task")) {  // written since regression; before, every model classified
    const std::string task = text(j, "task", source);
    RT_CHECK(task == "classification" || task == "regression", "{}: the model's task '{}' is not classification or "
             "regression", source, task);
    d.regression = task == "regression";
    RT_CHECK(!d.regression || d.classes == 1, "{}: a regression model has one output, not {}", source, d.classes);
  }
  const json& names = member(j, "class_names", source);
  RT_CHECK(names.is_array() && (names.empty() || static_cast<int64_t>(names.size()) == d.classes),
           "{}: the model's class_names ({}) do not name its {} classes", source, names.dump(), d.classes);
  for (const json& name : names) {
    RT_CHECK(name.is_string(), "{}: the class name {} is not text", source, name.dump());
    d.class_names.push_back(name.get<std::string>());
  }
  d.ringtrain_version = text(j, "ringtrain_version", source);
  d.config = text(j, "config", source);
  if (d.kind == "mlp") {
    const json& mlp = member(j, "mlp", source);
    d.hidden = positive_ints(mlp, "hidden", source, true);
    d.mlp.activation = text(mlp, "activation", source);
    const std::vector<std::string> activations = mlp_activations();
    RT_CHECK(std::find(activations.begin(), activations.end(), d.mlp.activation) != activations.end(),
             "{}: the mlp's activation '{}' is not one of {}", source, d.mlp.activation, fmt::join(activations, ", "));
    d.mlp.layer_norm = flag(mlp, "layer_norm", source);
    const json& dropout = member(mlp, "dropout", source);
    RT_CHECK(dropout.is_number() && dropout.get<double>() >= 0 && dropout.get<double>() < 1,
             "{}: the mlp's dropout is {}, not in [0, 1)", source, dropout.dump());
    d.mlp.dropout = dropout.get<float>();
  } else if (d.kind == "cnn") {
    const json& cnn = member(j, "cnn", source);
    d.channels = positive_ints(cnn, "channels", source, false);
    d.hidden = positive_ints(cnn, "hidden", source, true);
    RT_CHECK(d.input.shape.size() == 2 || d.input.shape.size() == 3,
             "{}: a cnn reads images (height x width, or channels x height x width), not samples of shape {}", source,
             input.at("shape").dump());
  }
  return d;
}
}  // namespace

int64_t InputDescription::size() const {
  int64_t size = 1;
  for (int64_t extent : shape) size *= extent;
  return size;
}

std::string ModelDescription::class_name(int64_t id) const {
  if (id >= 0 && id < static_cast<int64_t>(class_names.size())) return class_names[static_cast<size_t>(id)];
  return std::to_string(id);
}

const char* ringtrain_version() { return RINGTRAIN_VERSION; }

std::string model_description_json(const ModelDescription& d) {
  json j = {{"kind", d.kind},
            {"input",
             {{"shape", d.input.shape},
              {"dtype", d.input.dtype == DType::kUInt8 ? "uint8" : "float32"},
              {"scale", d.input.scale}}},
            {"task", d.regression ? "regression" : "classification"},
            {"classes", d.classes},
            {"class_names", d.class_names},
            {"ringtrain_version", d.ringtrain_version.empty() ? ringtrain_version() : d.ringtrain_version},
            {"config", d.config}};
  if (d.kind == "mlp") {
    j["mlp"] = {{"hidden", d.hidden},
                {"activation", d.mlp.activation},
                {"layer_norm", d.mlp.layer_norm},
                {"dropout", d.mlp.dropout}};
  } else if (d.kind == "cnn") {
    j["cnn"] = {{"channels", d.channels}, {"hidden", d.hidden}};
  } else if (d.kind == "gpt") {
    const json gpt = json::parse(gpt_description(d.gpt));
    for (auto& [key, value] : gpt.items()) j[key] = value;
  }
  return j.dump();
}

ModelDescription parse_model_description(const std::string& text, const std::string& source) {
  RT_CHECK(!text.empty(),
           "{} does not describe its model: it was written by a ringtrain from before checkpoints did; train again "
           "(or resume it with `ringtrain train CONFIG --resume {}`, whose next checkpoint describes it)",
           source, source);
  json j;
  try {
    j = json::parse(text);
  } catch (const json::exception& error) {
    RT_FAIL("{}: the model's description is not JSON ({})", source, error.what());
  }
  return parse(j, source);
}

std::unique_ptr<Model> build_described_model(const ModelDescription& d, Device device) {
  // The built-in models from the options their checkpoints keep (as trained, whatever GPU they
  // run on now); a model of a program's own from its configuration, by its factory.
  if (d.kind == "gpt") return build_gpt(d.gpt, device);
  if (d.kind == "cnn") return build_cnn(d.input.shape, d.channels, d.hidden, d.classes, device);
  if (d.kind == "mlp") return build_mlp(d.input.size(), d.hidden, d.classes, device, d.mlp);
  Config config = Config::load_string(d.config, "the configuration kept with the checkpoint");
  TrainConfig train;
  train.model_kind = d.kind;
  train.device = device;
  ModelSpec spec{config, train, d.input, d.classes, device};
  spec.shards = "the checkpoint's description";
  return build_model(d.kind, spec);
}

}  // namespace rt
