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
#include "core/layer.h"

namespace rt {

struct ParameterSlot {
  std::string name;  // "layer3.linear512x256.weight"
  Shape shape;
  int64_t offset = 0;  // in elements, into both arenas
  int64_t layer = 0;
  int64_t fan_in = 1;
};

class Model {
 public:
  Model(std::vector<std::unique_ptr<Layer>> layers, int64_t input_features, Device device = Device::kCpu);

  // Deterministic from the seed alone: parameter i draws from its own random stream.
  void initialize(uint64_t seed);
  // input [rows, input_features] -> output [rows, output_features].
  const Tensor& forward(const Tensor& input);
  // Writes every parameter's gradient; `on_layer_done(layer)` is called as each layer finishes.
  void backward(const Tensor& grad_output);
  void set_layer_done_callback(std::function<void(int64_t layer)> callback) { on_layer_done_ = std::move(callback); }

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
  std::vector<std::unique_ptr<Layer>> layers_;
  int64_t input_features_;
  int64_t output_features_;
  Device device_;
  std::vector<ParameterSlot> slots_;  // in arena order
  int64_t arena_elements_ = 0;
  Tensor parameters_;
  Tensor gradients_;
  std::function<void(int64_t)> on_layer_done_;
};

// FNV-1a over the bytes of the parameters: equal on two ranks if and only if (barring collisions)
// their parameters are bitwise identical.
uint64_t parameter_fingerprint(Span<const float> parameters);

}  // namespace rt
