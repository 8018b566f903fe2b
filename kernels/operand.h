// An input of a kernel that may be stored in fp32 or in bf16: a matrix operand of a product, where
// a layer stores its output in bf16 because only products read it (GPU bf16 products round their
// operands to bf16 anyway, so storing them rounded changes no result; it saves the rounding passes
// and half the bytes), or a GELU's input where a GPT keeps its MLP's activations in bf16
// (GptOptions::bf16_activations). Kernels read a bf16 value as its exact fp32 value.
#pragma once

#include "core/base/half.h"

namespace rt::kernels {

struct Operand {
  Operand(const float* values) : data(values) {}                 // NOLINT: implicit, as a pointer
  Operand(const bfloat16* values) : data(values), bf16(true) {}  // NOLINT
  const void* data = nullptr;
  bool bf16 = false;
};

}  // namespace rt::kernels
