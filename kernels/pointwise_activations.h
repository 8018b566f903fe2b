// Pointwise activations computed from their input alone: y = f(x), dx = dy * f'(x).
//
// Each is declared here once: its functions, and one line in RT_POINTWISE_ACTIVATIONS. From that
// list come the dispatch (kernels.h), the CPU loop, the CUDA kernel (and its emulation), the
// no-CUDA stub, the layer (core/layers/pointwise_activation.h), the names `model.activation`
// accepts, and the op tests (tests/kernels/pointwise_activation_test.cpp, one reference row each).
// ReLU (computed from its output, so that backward keeps nothing more) and GELU (with bf16 inputs
// and outputs for the GPT) have kernels of their own.
#pragma once

#include <math.h>

#include <string>
#include <vector>

#if defined(__CUDACC__)
#define RT_HOST_DEVICE __host__ __device__
#else
#define RT_HOST_DEVICE
#endif

namespace rt::kernels {

// SiLU (Swish with beta 1): x * sigmoid(x), as PyTorch's nn.SiLU.
struct SiluFunctions {
  static RT_HOST_DEVICE float forward(float x) { return x / (1.0f + expf(-x)); }
  static RT_HOST_DEVICE float derivative(float x) {
    const float s = 1.0f / (1.0f + expf(-x));
    return s * (1.0f + x * (1.0f - s));
  }
};

// X(enumerator, "name", functions)
#define RT_POINTWISE_ACTIVATIONS(X) X(kSilu, "silu", SiluFunctions)

enum class PointwiseActivation {
#define RT_ACTIVATION_ENUMERATOR(enumerator, name, functions) enumerator,
  RT_POINTWISE_ACTIVATIONS(RT_ACTIVATION_ENUMERATOR)
#undef RT_ACTIVATION_ENUMERATOR
};

// Calls visit(functions{}) with the activation's functions (a template over the list's types).
template <typename Visit>
void with_activation_functions(PointwiseActivation activation, Visit&& visit) {
  switch (activation) {
#define RT_ACTIVATION_CASE(enumerator, name, functions) \
  case PointwiseActivation::enumerator:                 \
    visit(functions{});                                 \
    return;
    RT_POINTWISE_ACTIVATIONS(RT_ACTIVATION_CASE)
#undef RT_ACTIVATION_CASE
  }
}

inline const char* pointwise_activation_name(PointwiseActivation activation) {
  switch (activation) {
#define RT_ACTIVATION_NAME(enumerator, name, functions) \
  case PointwiseActivation::enumerator:                 \
    return name;
    RT_POINTWISE_ACTIVATIONS(RT_ACTIVATION_NAME)
#undef RT_ACTIVATION_NAME
  }
  return "?";
}

inline std::vector<PointwiseActivation> pointwise_activations() {
  return {
#define RT_ACTIVATION_VALUE(enumerator, name, functions) PointwiseActivation::enumerator,
      RT_POINTWISE_ACTIVATIONS(RT_ACTIVATION_VALUE)
#undef RT_ACTIVATION_VALUE
  };
}

// The activation called `name`, or false where none is.
inline bool find_pointwise_activation(const std::string& name, PointwiseActivation* activation) {
  for (PointwiseActivation candidate : pointwise_activations()) {
    if (name == pointwise_activation_name(candidate)) {
      *activation = candidate;
      return true;
    }
  }
  return false;
}

}  // namespace rt::kernels
