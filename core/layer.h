// A layer with explicit forward and backward (no autograd tape).
//
// A layer declares its parameters; the Model places them in its flat arenas and hands the layer
// views of its slices. forward() returns an output the layer owns (valid until its next forward);
// the layer may keep a reference to its input, which must stay valid until backward().
// backward() writes the gradients of the layer's parameters and, when asked, returns the gradient
// of its input, in a buffer (input_grad_) that whoever runs the layers gives back with
// release_input_gradient() once the layer before has read it.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace rt {

// kNormal: normal with mean 0 and standard deviation `std` (GPT-2's initialisation).
enum class ParameterInit { kUniformFanIn, kOnes, kZeros, kNormal };

struct ParameterSpec {
  std::string name;  // unique within the layer, e.g. "weight"
  Shape shape;
  int64_t fan_in = 1;  // kUniformFanIn: uniform in +-1/sqrt(fan_in), as PyTorch's Linear
  ParameterInit init = ParameterInit::kUniformFanIn;
  float std = 0.0f;    // kNormal
};

enum class InputGradient { kSkip, kCompute };
// Whether backward overwrites the parameter gradients or adds to them (gradient accumulation).
enum class GradientWrite { kOverwrite, kAccumulate };

class Layer {
 public:
  virtual ~Layer() = default;
  virtual std::string name() const = 0;
  virtual std::vector<ParameterSpec> parameter_specs() const { return {}; }
  // Views of this layer's slices of the parameter and gradient arenas, in parameter_specs() order.
  virtual void bind_parameters(const std::vector<Tensor>& parameters, const std::vector<Tensor>& gradients) {}
  // Features per sample of the output, given those of the input.
  virtual int64_t output_features(int64_t input_features) const = 0;
  virtual const Tensor& forward(const Tensor& input) = 0;
  virtual const Tensor& backward(const Tensor& grad_output, InputGradient input_gradient, GradientWrite write) = 0;
  // Training or evaluation, and the key of this forward's random draws (dropout); most layers
  // ignore both.
  virtual void set_mode(bool training, uint64_t key) {}
  // Gives the buffer of the input gradient that backward returned back to the pool.
  void release_input_gradient() { input_grad_.release(); }
  // Whoever runs the layers may ask to hear as soon as backward has written this layer's parameter
  // gradients, before it computes its input gradient (as PyTorch DDP's gradient hooks do), so
  // that their all-reduce can start while the input gradient is computed.
  void set_parameter_gradients_written_callback(std::function<void()> callback) {
    on_parameter_gradients_written_ = std::move(callback);
  }

 protected:
  // Called by a backward that writes its parameter gradients before its input gradient, between
  // the two (a layer that does not call it is heard from when its backward returns).
  void parameter_gradients_written() const {
    if (on_parameter_gradients_written_) on_parameter_gradients_written_();
  }

  GradientBuffer input_grad_;

 private:
  std::function<void()> on_parameter_gradients_written_;
};

}  // namespace rt
