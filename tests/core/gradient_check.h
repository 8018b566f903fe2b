// What the layer tests share: fresh random values, the scalar probe loss L = sum(output * probe),
// and the check of analytic gradients against central finite differences of it.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <vector>

#include "core/base/random.h"
#include "core/base/span.h"
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

}  // namespace rt::testing
