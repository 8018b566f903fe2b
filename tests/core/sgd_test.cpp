#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "core/sgd.h"

namespace rt {
namespace {

TEST(Sgd, StepUpdatesTheWholeArenaWithMomentum) {
  std::vector<float> params{1.0f, -2.0f, 0.5f}, grads{0.5f, 1.0f, -1.0f};
  Sgd sgd(Span<float>(params), Span<float>(grads), SgdOptions{0.1f, 0.9f, 0.0f});
  sgd.step();
  EXPECT_FLOAT_EQ(params[0], 1.0f - 0.1f * 0.5f);
  sgd.step();  // velocity 0.5 * 0.9 + 0.5 = 0.95
  EXPECT_FLOAT_EQ(params[0], 1.0f - 0.05f - 0.1f * 0.95f);
  EXPECT_FLOAT_EQ(params[2], 0.5f + 0.1f + 0.1f * 1.9f);
}

TEST(Sgd, MismatchedArenasAreAnError) {
  std::vector<float> params(3), grads(2);
  EXPECT_THROW(Sgd(Span<float>(params), Span<float>(grads), SgdOptions{}), Error);
}

TEST(Schedule, CosineGoesFromLrToNearZero) {
  EXPECT_FLOAT_EQ(scheduled_lr("constant", 0.5f, 99, 100), 0.5f);
  EXPECT_FLOAT_EQ(scheduled_lr("cosine", 0.5f, 0, 100), 0.5f);
  EXPECT_NEAR(scheduled_lr("cosine", 0.5f, 50, 100), 0.25f, 1e-6);
  EXPECT_NEAR(scheduled_lr("cosine", 0.5f, 99, 100), 0.5f * 0.5f * (1 + std::cos(M_PI * 0.99)), 1e-7);
  EXPECT_THROW(scheduled_lr("cosine", 0.5f, 100, 100), Error);
  EXPECT_THROW(scheduled_lr("linear", 0.5f, 1, 100), Error);
}

}  // namespace
}  // namespace rt
