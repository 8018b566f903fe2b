#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "core/adamw.h"
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
  EXPECT_FLOAT_EQ(scheduled_lr(LrSchedule::kConstant, 0.5f, 99, 100), 0.5f);
  EXPECT_FLOAT_EQ(scheduled_lr(LrSchedule::kCosine, 0.5f, 0, 100), 0.5f);
  EXPECT_NEAR(scheduled_lr(LrSchedule::kCosine, 0.5f, 50, 100), 0.25f, 1e-6);
  EXPECT_NEAR(scheduled_lr(LrSchedule::kCosine, 0.5f, 99, 100), 0.5f * 0.5f * (1 + std::cos(M_PI * 0.99)), 1e-7);
  EXPECT_THROW(scheduled_lr(LrSchedule::kCosine, 0.5f, 100, 100), Error);
}

TEST(Schedule, WarmupRisesLinearlyThenTheScheduleRunsOverTheRest) {
  // 10 warmup steps of 110: lr/10, 2lr/10, ..., lr; then 100 steps of decay.
  EXPECT_FLOAT_EQ(scheduled_lr(LrSchedule::kCosine, 1.0f, 0, 110, 10), 0.1f);
  EXPECT_FLOAT_EQ(scheduled_lr(LrSchedule::kCosine, 1.0f, 9, 110, 10), 1.0f);
  EXPECT_FLOAT_EQ(scheduled_lr(LrSchedule::kCosine, 1.0f, 10, 110, 10), 1.0f);
  EXPECT_NEAR(scheduled_lr(LrSchedule::kCosine, 1.0f, 60, 110, 10), 0.5f, 1e-6);
  EXPECT_FLOAT_EQ(scheduled_lr(LrSchedule::kLinear, 1.0f, 10, 110, 10), 1.0f);
  EXPECT_NEAR(scheduled_lr(LrSchedule::kLinear, 1.0f, 60, 110, 10), 0.5f, 1e-6);
  EXPECT_NEAR(scheduled_lr(LrSchedule::kLinear, 1.0f, 109, 110, 10), 0.01f, 1e-6);
  EXPECT_FLOAT_EQ(scheduled_lr(LrSchedule::kConstant, 1.0f, 4, 110, 10), 0.5f);
  EXPECT_FLOAT_EQ(scheduled_lr(LrSchedule::kConstant, 1.0f, 50, 110, 10), 1.0f);
}

TEST(AdamW, StateHoldsBothMomentsAndTheFirstStepMovesEachParameterByAboutLr) {
  std::vector<float> params{1.0f, -2.0f, 0.5f}, grads{0.5f, -1.0f, 2.0f};
  AdamW adamw(Span<float>(params), Span<float>(grads), AdamWOptions{0.1f, 0.9f, 0.999f, 1e-8f, 0.0f});
  EXPECT_EQ(adamw.state().size(), 6u);
  adamw.step(1);  // bias-corrected first step: m_hat = g, v_hat = g^2, so each moves by lr * sign(g)
  EXPECT_NEAR(params[0], 0.9f, 1e-6);
  EXPECT_NEAR(params[1], -1.9f, 1e-6);
  EXPECT_NEAR(params[2], 0.4f, 1e-6);
  EXPECT_FLOAT_EQ(adamw.state()[0], 0.05f);  // m = (1 - beta1) g
  EXPECT_THROW(adamw.step(0), Error);
}

}  // namespace
}  // namespace rt
