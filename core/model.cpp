#include "core/model.h"

#include <cmath>
#include <cstring>

#include "core/base/random.h"

namespace rt {

namespace {
constexpr int64_t kAlignElements = 16;  // 64 bytes of float
int64_t align_up(int64_t value) { return (value + kAlignElements - 1) / kAlignElements * kAlignElements; }
}  // namespace

Model::Model(std::vector<std::unique_ptr<Layer>> layers, int64_t input_features, Device device)
    : layers_(std::move(layers)), input_features_(input_features), device_(device) {
  RT_CHECK(!layers_.empty(), "a model needs at least one layer");
  int64_t features = input_features;
  for (const auto& layer : layers_) {
    features = layer->output_features(features);
    layer_names_.push_back(layer->name());
  }
  output_features_ = features;

  // Arena order: last layer first; within a layer, its declaration order.
  std::vector<std::vector<int64_t>> layer_slots(layers_.size());
  for (int64_t l = static_cast<int64_t>(layers_.size()) - 1; l >= 0; --l) {
    for (const ParameterSpec& spec : layers_[l]->parameter_specs()) {
      ParameterSlot slot{fmt::format("layer{}.{}.{}", l, layers_[l]->name(), spec.name), spec.shape, arena_elements_,
                         l, spec.fan_in, spec.init, spec.std};
      arena_elements_ = align_up(arena_elements_ + shape_elements(spec.shape));
      layer_slots[l].push_back(static_cast<int64_t>(slots_.size()));
      slots_.push_back(std::move(slot));
    }
  }
  // Backward of layer l finishes the slots of layers l..end, which come first in the arena: the
  // final prefix ends where the next earlier layer with parameters starts (or at the arena's end).
  final_after_layer_.assign(layers_.size(), static_cast<size_t>(arena_elements_));
  for (size_t l = 0; l < layers_.size(); ++l) {
    for (int64_t earlier = static_cast<int64_t>(l) - 1; earlier >= 0; --earlier) {
      if (!layer_slots[earlier].empty()) {
        final_after_layer_[l] = static_cast<size_t>(slots_[layer_slots[earlier].front()].offset);
        break;
      }
    }
    layers_[l]->set_parameter_gradients_written_callback([this, l] { announce_final(final_after_layer_[l]); });
  }
  parameters_ = Tensor::zeros({std::max<int64_t>(arena_elements_, 1)}, DType::kFloat32, device_);
  gradients_ = Tensor::zeros({std::max<int64_t>(arena_elements_, 1)}, DType::kFloat32, device_);
  for (size_t l = 0; l < layers_.size(); ++l) {
    std::vector<Tensor> params, grads;
    for (int64_t index : layer_slots[l]) {
      const ParameterSlot& slot = slots_[index];
      params.push_back(Tensor::view(parameters_.data<float>() + slot.offset, slot.shape, DType::kFloat32, device_));
      grads.push_back(Tensor::view(gradients_.data<float>() + slot.offset, slot.shape, DType::kFloat32, device_));
    }
    if (!params.empty()) layers_[l]->bind_parameters(params, grads);
  }
}

void Model::initialize(uint64_t seed) {
  // Drawn on the host (the same values on every device), then placed on the model's device.
  std::vector<float> values(static_cast<size_t>(std::max<int64_t>(arena_elements_, 1)), 0.0f);
  // Streams follow execution order (slot order reversed) so they do not depend on the arena layout.
  for (size_t i = 0; i < slots_.size(); ++i) {
    const ParameterSlot& slot = slots_[slots_.size() - 1 - i];
    Rng rng(seed, i);
    float bound = 1.0f / std::sqrt(static_cast<float>(slot.fan_in));
    float* slot_values = values.data() + slot.offset;
    for (int64_t e = 0; e < shape_elements(slot.shape); ++e) {
      switch (slot.init) {
        case ParameterInit::kOnes: slot_values[e] = 1.0f; break;
        case ParameterInit::kZeros: slot_values[e] = 0.0f; break;
        case ParameterInit::kNormal: slot_values[e] = slot.std * rng.normal(); break;
        case ParameterInit::kUniformFanIn: slot_values[e] = rng.uniform(-bound, bound); break;
      }
    }
  }
  upload(device_, values.data(), parameters_.data<float>(), static_cast<size_t>(arena_elements_) * sizeof(float));
}

const Tensor& Model::forward(const Tensor& input) {
  RT_CHECK(input.shape().size() == 2 && input.dim(1) == input_features_, "model expects input [rows, {}], gets {}",
           input_features_, shape_text(input.shape()));
  const Tensor* activation = &input;
  for (size_t l = 0; l < layers_.size(); ++l) {
    TimelineScope scope(timeline_, TimelineLane::kCompute, layer_names_[l].c_str(), static_cast<int64_t>(l));
    activation = &layers_[l]->forward(*activation);
  }
  return *activation;
}

void Model::announce_final(size_t elements) {
  if (!on_gradients_final_ || elements <= announced_final_) return;
  announced_final_ = elements;
  on_gradients_final_(elements);
}

void Model::backward(const Tensor& grad_output, GradientWrite write) {
  announced_final_ = 0;
  const Tensor* gradient = &grad_output;
  for (int64_t l = static_cast<int64_t>(layers_.size()) - 1; l >= 0; --l) {
    InputGradient needed = l > 0 ? InputGradient::kCompute : InputGradient::kSkip;
    {
      TimelineScope scope(timeline_, TimelineLane::kCompute, layer_names_[static_cast<size_t>(l)].c_str(), l);
      gradient = &layers_[l]->backward(*gradient, needed, write);
    }
    // The gradient layer l has just read goes back to the pool, for the layers below to reuse.
    if (l + 1 < static_cast<int64_t>(layers_.size())) layers_[static_cast<size_t>(l) + 1]->release_input_gradient();
    announce_final(final_after_layer_[static_cast<size_t>(l)]);
  }
  if (!layers_.empty()) layers_.front()->release_input_gradient();
}

void Model::set_mode(bool training, uint64_t key) {
  for (size_t l = 0; l < layers_.size(); ++l) layers_[l]->set_mode(training, Rng(key, l).next_u64());
}

int64_t Model::parameter_count() const {
  int64_t count = 0;
  for (const ParameterSlot& slot : slots_) count += shape_elements(slot.shape);
  return count;
}

std::string Model::summary() const {
  std::string text = fmt::format("{}", input_features_);
  for (const auto& layer : layers_) text += " -> " + layer->name();
  return fmt::format("{} ({} parameters, arena {} floats)", text, parameter_count(), arena_elements_);
}

}  // namespace rt
