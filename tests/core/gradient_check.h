// What the layer tests share: fresh random values, the scalar probe loss L = sum(output * probe),
// the check of analytic gradients against central finite differences of it, and the check of a
// layer that stores its output in bf16 against its fp32 twin.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <vector>

#include "core/base/half.h"
#include "core/base/random.h"
#include "core/base/span.h"
#include "core/layer.h"
#include "core/tensor.h"

namespace rt::testing {

inline std::vector<float> random_values(size_t count, uint64_t seed, float low = -1.0f, float high = 1.0f) {
  Rng rng(seed);
  std::vector<float> values(count);
  for (float& v : values) v = rng.uniform(low, high);
  return values;
}

inline double probe_loss(const Tensor& output, const std::vector<float>& probe) {
  double sum = 0;
  for (int64_t i = 0; i < output.elements(); ++i) sum += static_cast<double>(output.data<float>()[i]) * probe[i];
  return sum;
}

// Checks d(loss)/d(values[i]) computed analytically against a central difference, in float with
// a tolerance fit for float.
inline void expect_gradient(Span<float> values, const std::vector<float>& analytic, const std::function<double()>& loss,
                            const char* what, double tolerance = 3e-3) {
  const float h = 1e-3f;
  for (size_t i = 0; i < values.size(); ++i) {
    float saved = values[i];
    values[i] = saved + h;
    double plus = loss();
    values[i] = saved - h;
    double minus = loss();
    values[i] = saved;
    double numeric = (plus - minus) / (2.0 * h);
    ASSERT_NEAR(analytic[i], numeric, tolerance * std::max(1.0, std::abs(numeric))) << what << " element " << i;
  }
}

// `bf16`, a layer storing its output in bf16, against `fp32`, the same layer storing fp32, both on
// `input`: the output is the fp32 output rounded to nearest even, bit for bit, of the same shape,
// and backward from `grad` gives the same input gradient. The fp32 output goes to *fp32_output.
inline void expect_stored_rounded_with_the_same_backward(Layer& fp32, Layer& bf16, const Tensor& input,
                                                         const Tensor& grad, std::vector<float>* fp32_output = nullptr) {
  auto values = [](const Tensor& t) { return std::vector<float>(t.data<float>(), t.data<float>() + t.elements()); };
  const Tensor& y = fp32.forward(input);
  const Tensor& rounded = bf16.forward(input);
  ASSERT_EQ(rounded.dtype(), DType::kBFloat16);
  ASSERT_EQ(rounded.shape(), y.shape());
  for (int64_t i = 0; i < y.elements(); ++i) {
    ASSERT_EQ(rounded.data<bfloat16>()[i].bits, to_bfloat16(y.data<float>()[i]).bits) << i;
  }
  if (fp32_output) *fp32_output = values(y);
  const std::vector<float> dx = values(fp32.backward(grad, InputGradient::kCompute, GradientWrite::kOverwrite));
  EXPECT_EQ(values(bf16.backward(grad, InputGradient::kCompute, GradientWrite::kOverwrite)), dx);
}

}  // namespace rt::testing
