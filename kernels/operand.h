// A matrix operand of a product: fp32, or bf16 where a layer stores its output in bf16 because
// only products read it (GPU bf16 products round their operands to bf16 anyway, so storing them
// rounded changes no result; it saves the rounding passes and half the bytes).
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
