#include "core/models.h"

#include "core/layers/linear.h"
#include "core/layers/relu.h"

namespace rt {

std::unique_ptr<Model> build_mlp(int64_t input_features, const std::vector<int64_t>& hidden, int64_t classes,
                                 Device device) {
  std::vector<std::unique_ptr<Layer>> layers;
  int64_t width = input_features;
  for (int64_t next : hidden) {
    layers.push_back(std::make_unique<Linear>(width, next, device));
    layers.push_back(std::make_unique<Relu>(device));
    width = next;
  }
  layers.push_back(std::make_unique<Linear>(width, classes, device));
  return std::make_unique<Model>(std::move(layers), input_features, device);
}

}  // namespace rt
