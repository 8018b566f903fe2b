#include "swish_mlp.h"

#include "swish.h"

std::unique_ptr<rt::Model> build_swish_mlp(rt::ModelSpec& spec) {
  RT_CHECK(spec.device == rt::Device::kCpu, "swish_mlp runs on the CPU: set runtime.device = \"cpu\"");
  // Read with a range: a bad value is an error naming the key and the file.
  const std::vector<int64_t> hidden = spec.config.get_int_list("model.hidden", {256, 128}, 1, 1 << 16);
  std::vector<std::unique_ptr<rt::Layer>> layers;
  int64_t width = spec.input.size();
  for (int64_t next : hidden) {
    layers.push_back(std::make_unique<rt::Linear>(width, next, spec.device));
    layers.push_back(std::make_unique<Swish>(next));
    width = next;
  }
  layers.push_back(std::make_unique<rt::Linear>(width, spec.classes, spec.device));
  return std::make_unique<rt::Model>(std::move(layers), spec.input.size(), spec.device);
}
