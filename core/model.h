// A sequential model: ordered layers and two flat arenas, one for the parameters and one for
// their gradients. The arenas are laid out in reverse order of execution (the last layer's
// parameters first), so the gradients that backward finishes first are contiguous and a gradient
// bucket is a slice; each tensor starts on a 64-byte boundary.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/base/span.h"
#include "core/base/timeline.h"
#include "core/layer.h"

namespace rt {

struct ParameterSlot {
  std::string name;  // "layer3.linear512x256.weight"
  Shape shape;
  int64_t offset = 0;  // in elements, into both arenas
  int64_t layer = 0;
  int64_t fan_in = 1;
  ParameterInit init = ParameterInit::kUniformFanIn;
  float std = 0.0f;
};

class Model {
 public:
  Model(std::vector<std::unique_ptr<Layer>> layers, int64_t input_features, Device device = Device::kCpu);
  // The layers call back into this model (parameter gradients written), so it stays where it is.
  Model(const Model&) = delete;
  Model& operator=(const Model&) = delete;

  // Deterministic from the seed alone: parameter i draws from its own random stream.
  void initialize(uint64_t seed);
  // input [rows, input_features] -> output [rows, output_features].
  const Tensor& forward(const Tensor& input);
  // Writes (or, with kAccumulate, adds to) every parameter's gradient. As each layer's parameter
  // gradients are written (before its input gradient, where the layer says so), `on_gradients_final(n)`
  // (if set) is told that arena elements [0, n) are final; each n is larger than the one before.
  void backward(const Tensor& grad_output, GradientWrite write = GradientWrite::kOverwrite);
  void set_gradients_final_callback(std::function<void(size_t elements)> callback) {
    on_gradients_final_ = std::move(callback);
  }
  // Training or evaluation for the next forward and backward; `key` seeds their random draws
  // (each layer gets its own stream of it), so the same key draws the same dropout masks.
  void set_mode(bool training, uint64_t key);
  // Records each layer's forward and backward on this timeline (null: none).
  void set_timeline(Timeline* timeline) { timeline_ = timeline; }

  Span<float> parameters() { return Span<float>(parameters_.data<float>(), arena_elements_); }
  Span<float> gradients() { return Span<float>(gradients_.data<float>(), arena_elements_); }
  const std::vector<ParameterSlot>& slots() const { return slots_; }
  int64_t parameter_count() const;  // without alignment padding
  int64_t input_features() const { return input_features_; }
  int64_t output_features() const { return output_features_; }
  const std::vector<std::unique_ptr<Layer>>& layers() const { return layers_; }
  Device device() const { return device_; }
  std::string summary() const;

 private:
  // Tells on_gradients_final_ that [0, elements) are final, unless it has heard so already.
  void announce_final(size_t elements);

  std::vector<std::unique_ptr<Layer>> layers_;
  int64_t input_features_;
  int64_t output_features_;
  Device device_;
  std::vector<ParameterSlot> slots_;  // in arena order
  int64_t arena_elements_ = 0;
  Tensor parameters_;
  Tensor gradients_;
  std::vector<size_t> final_after_layer_;
  std::vector<std::string> layer_names_;  // stable storage for timeline event names
  Timeline* timeline_ = nullptr;
  std::function<void(size_t)> on_gradients_final_;
  size_t announced_final_ = 0;  // the largest prefix told to on_gradients_final_ in this backward
};

}  // namespace rt
