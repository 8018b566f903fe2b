// A layer of our own: y = x * sigmoid(beta * x), with a learned beta per feature (Swish, as in
// "Searching for Activation Functions", Ramachandran et al. 2017), forward and backward written
// out on the CPU.
#pragma once

#include <ringtrain/ringtrain.h>

class Swish final : public rt::Layer {
 public:
  explicit Swish(int64_t features) : features_(features) {}
  std::string name() const override { return "swish" + std::to_string(features_); }
  // beta starts at 1 for every feature.
  std::vector<rt::ParameterSpec> parameter_specs() const override {
    return {{"beta", {features_}, 1, rt::ParameterInit::kOnes}};
  }
  void bind_parameters(const std::vector<rt::Tensor>& parameters, const std::vector<rt::Tensor>& gradients) override {
    beta_ = parameters.at(0);
    beta_gradient_ = gradients.at(0);
  }
  int64_t output_features(int64_t input_features) const override { return input_features; }
  const rt::Tensor& forward(const rt::Tensor& input) override;
  const rt::Tensor& backward(const rt::Tensor& grad_output, rt::InputGradient input_gradient,
                             rt::GradientWrite write) override;

 private:
  int64_t features_;
  rt::Tensor beta_, beta_gradient_;
  rt::Tensor input_;  // this forward's input, kept for backward
  rt::ActivationBuffer output_;
};
