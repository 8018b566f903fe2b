#include "core/layers/residual.h"

#include "core/base/random.h"
#include "kernels/kernels.h"

namespace rt {

Residual::Residual(std::vector<std::unique_ptr<Layer>> layers, Device device)
    : layers_(std::move(layers)), device_(device) {
  RT_CHECK(!layers_.empty(), "a residual connection needs at least one layer inside");
}

std::string Residual::name() const {
  std::string text = "residual(";
  for (size_t l = 0; l < layers_.size(); ++l) text += (l ? "," : "") + layers_[l]->name();
  return text + ")";
}

std::vector<ParameterSpec> Residual::parameter_specs() const {
  std::vector<ParameterSpec> specs;
  for (size_t l = 0; l < layers_.size(); ++l) {
    for (ParameterSpec spec : layers_[l]->parameter_specs()) {
      spec.name = fmt::format("{}.{}.{}", l, layers_[l]->name(), spec.name);
      specs.push_back(std::move(spec));
    }
  }
  return specs;
}

void Residual::bind_parameters(const std::vector<Tensor>& parameters, const std::vector<Tensor>& gradients) {
  size_t next = 0;
  for (const auto& layer : layers_) {
    const size_t count = layer->parameter_specs().size();
    if (count == 0) continue;
    std::vector<Tensor> own(parameters.begin() + next, parameters.begin() + next + count);
    std::vector<Tensor> own_grads(gradients.begin() + next, gradients.begin() + next + count);
    layer->bind_parameters(own, own_grads);
    next += count;
  }
}

int64_t Residual::output_features(int64_t input_features) const {
  int64_t features = input_features;
  for (const auto& layer : layers_) features = layer->output_features(features);
  RT_CHECK(features == input_features, "{} maps {} features to {}: a residual needs them equal", name(), input_features,
           features);
  return features;
}

const Tensor& Residual::forward(const Tensor& input) {
  const Tensor* activation = &input;
  for (const auto& layer : layers_) activation = &layer->forward(*activation);
  const Tensor& output = output_.ensure(input.dim(0), input.dim(1), device_);
  // The branch's output may be bf16 (a GPT's bf16 activations); the sum, the residual stream, is fp32.
  kernels::add(device_, input.data<float>(), as_operand(*activation), output.data<float>(), input.elements());
  return output;
}

const Tensor& Residual::backward(const Tensor& grad_output, InputGradient input_gradient, GradientWrite write) {
  // As Model::backward, each inner gradient back to the pool once the layer below has read it.
  const Tensor* gradient = &grad_output;
  for (size_t l = layers_.size(); l-- > 0;) {
    gradient = &layers_[l]->backward(*gradient, InputGradient::kCompute, write);
    if (l + 1 < layers_.size()) layers_[l + 1]->release_input_gradient();
  }
  if (input_gradient == InputGradient::kCompute) {
    const Tensor& grad_input = input_grad_.ensure(grad_output.dim(0), grad_output.dim(1), device_);
    kernels::add(device_, grad_output.data<float>(), gradient->data<float>(), grad_input.data<float>(),
                 grad_output.elements());
  }
  if (!layers_.empty()) layers_.front()->release_input_gradient();
  return input_grad_.tensor();
}

void Residual::set_mode(bool training, uint64_t key) {
  for (size_t l = 0; l < layers_.size(); ++l) layers_[l]->set_mode(training, Rng(key, l).next_u64());
}

}  // namespace rt
