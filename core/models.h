// Models built from the configuration's [model] section.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "core/model.h"

namespace rt {

struct MlpOptions {
  std::string activation = "relu";  // or "gelu"
  bool layer_norm = false;          // a LayerNorm after each hidden Linear, before the activation
  float dropout = 0.0f;             // above 0: a Dropout with this probability after each hidden activation
};

// Linear(input, hidden[0]) [LayerNorm] activation [Dropout] ... Linear(hidden[-1], classes).
std::unique_ptr<Model> build_mlp(int64_t input_features, const std::vector<int64_t>& hidden, int64_t classes,
                                 Device device = Device::kCpu, const MlpOptions& options = {});

// For images [channels, height, width]: per entry of `conv_channels` a 3x3 convolution (padding 1)
// to that many channels, 2x2 max pooling and ReLU (the same function as ReLU then pooling); then Linear+ReLU layers of `hidden` widths and
// a Linear layer to `classes`. The default cnn: conv32-pool-conv64-pool-fc128-fc10. Between the
// convolutions the activations are channel-major; a Flatten makes rows of them (conv2d.h).
std::unique_ptr<Model> build_cnn(const std::vector<int64_t>& image_shape, const std::vector<int64_t>& conv_channels,
                                 const std::vector<int64_t>& hidden, int64_t classes, Device device = Device::kCpu);

}  // namespace rt
