// The comparison the GPU kernels' tests (on a GPU and under the emulation) make against the CPU
// kernels: |got - want| <= tolerance * max(1, |want|) everywhere, and a NaN (an element the kernel
// never wrote over the poison) fails.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <vector>

namespace rt::kernels {

inline void expect_close(const std::vector<float>& got, const std::vector<float>& want, double tolerance) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    ASSERT_TRUE(std::isfinite(got[i])) << "element " << i << " not written";
    ASSERT_LE(std::abs(got[i] - want[i]), tolerance * std::max(1.0f, std::abs(want[i]))) << "element " << i;
  }
}

}  // namespace rt::kernels
