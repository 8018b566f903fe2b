#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <set>

#include "comm/consistency.h"
#include "core/model.h"
#include "core/models.h"

namespace rt {
namespace {

TEST(Model, ArenaHoldsParametersInReverseExecutionOrderAligned) {
  std::unique_ptr<Model> model = build_mlp(10, {6}, 3);
  const std::vector<ParameterSlot>& slots = model->slots();
  ASSERT_EQ(slots.size(), 4u);
  // The last layer (index 2) first, then the first Linear (index 0).
  EXPECT_EQ(slots[0].layer, 2);
  EXPECT_EQ(slots[0].shape, (Shape{3, 6}));
  EXPECT_EQ(slots[1].layer, 2);
  EXPECT_EQ(slots[1].shape, (Shape{3}));
  EXPECT_EQ(slots[2].layer, 0);
  EXPECT_EQ(slots[3].layer, 0);
  int64_t previous_end = 0;
  for (const ParameterSlot& slot : slots) {
    EXPECT_EQ(slot.offset % 16, 0) << slot.name;
    EXPECT_GE(slot.offset, previous_end) << slot.name;
    previous_end = slot.offset + shape_elements(slot.shape);
  }
  EXPECT_EQ(model->parameter_count(), 3 * 6 + 3 + 6 * 10 + 6);
  EXPECT_GE(static_cast<int64_t>(model->parameters().size()), previous_end);
}

TEST(Model, LayersComputeWithTheArenaItself) {
  std::unique_ptr<Model> model = build_mlp(2, {}, 1);  // a single Linear 2 -> 1
  Span<float> params = model->parameters();
  const ParameterSlot& weight = model->slots()[0];
  const ParameterSlot& bias = model->slots()[1];
  params[weight.offset] = 2.0f;
  params[weight.offset + 1] = -1.0f;
  params[bias.offset] = 0.5f;
  std::vector<float> x{3.0f, 4.0f};
  const Tensor& y = model->forward(Tensor::view(x.data(), {1, 2}));
  EXPECT_FLOAT_EQ(y.data<float>()[0], 2.0f * 3.0f - 4.0f + 0.5f);
}

TEST(Model, BackwardFillsTheArenaAndReportsAGrowingFinalPrefix) {
  std::unique_ptr<Model> model = build_mlp(4, {3}, 2);  // arena: last Linear [0, 32), first Linear [32, 64)
  model->initialize(1);
  std::vector<size_t> final_prefix;
  model->set_gradients_final_callback([&](size_t elements) { final_prefix.push_back(elements); });
  std::vector<float> x(8, 0.5f), dy(4, 1.0f);
  model->forward(Tensor::view(x.data(), {2, 4}));
  model->backward(Tensor::view(dy.data(), {2, 2}));
  // Once the last Linear's slots are final, then all: each prefix told once.
  EXPECT_EQ(final_prefix, (std::vector<size_t>{32, 64}));
  EXPECT_EQ(model->parameters().size(), 64u);
  const ParameterSlot& last_bias = model->slots()[1];
  EXPECT_FLOAT_EQ(model->gradients()[last_bias.offset], 2.0f);  // sum over the 2 rows of dy = 1
}

// A Linear's gradients are announced before it computes its input gradient, so that their
// all-reduce can start meanwhile. Seen from the callback: the last Linear's weights, zeroed when
// its gradients are announced, are the ones its input gradient is computed with, so nothing
// reaches the first Linear; zeroed after its backward instead, they would not be.
TEST(Model, ALinearAnnouncesItsGradientsBeforeComputingItsInputGradient) {
  std::vector<float> x(8, 0.5f), dy(4, 1.0f);
  auto first_linear_gradient_norm = [&](bool zero_when_announced) {
    std::unique_ptr<Model> model = build_mlp(4, {3}, 2);  // arena: last Linear [0, 32), first Linear [32, 64)
    model->initialize(1);
    const ParameterSlot& last_weight = model->slots()[0];
    model->set_gradients_final_callback([&](size_t elements) {
      if (zero_when_announced && elements == 32) {
        for (int64_t e = 0; e < shape_elements(last_weight.shape); ++e) model->parameters()[last_weight.offset + e] = 0;
      }
    });
    model->forward(Tensor::view(x.data(), {2, 4}));
    model->backward(Tensor::view(dy.data(), {2, 2}));
    double norm = 0;
    for (size_t e = 32; e < 64; ++e) norm += std::abs(model->gradients()[e]);
    return norm;
  };
  EXPECT_GT(first_linear_gradient_norm(false), 0.0);
  EXPECT_EQ(first_linear_gradient_norm(true), 0.0);
}

TEST(Model, InitialisationIsDeterministicFromTheSeedAndBounded) {
  std::unique_ptr<Model> a = build_mlp(784, {32}, 10), b = build_mlp(784, {32}, 10), c = build_mlp(784, {32}, 10);
  a->initialize(42);
  b->initialize(42);
  c->initialize(43);
  auto fingerprint_of = [](Model& m) {
    Span<float> p = m.parameters();
    return fingerprint(Span<const float>(p.data(), p.size()));
  };
  EXPECT_EQ(fingerprint_of(*a), fingerprint_of(*b));
  EXPECT_NE(fingerprint_of(*a), fingerprint_of(*c));
  for (const ParameterSlot& slot : a->slots()) {
    float bound = 1.0f / std::sqrt(static_cast<float>(slot.fan_in));
    std::set<float> distinct;
    for (int64_t e = 0; e < shape_elements(slot.shape); ++e) {
      float v = a->parameters()[slot.offset + e];
      ASSERT_LE(std::abs(v), bound) << slot.name;
      distinct.insert(v);
    }
    EXPECT_GT(distinct.size(), static_cast<size_t>(shape_elements(slot.shape) / 2)) << slot.name;
  }
}

TEST(Model, FingerprintSeesASingleBitFlip) {
  std::vector<float> values(1000, 1.0f);
  uint64_t before = fingerprint(Span<const float>(values.data(), values.size()));
  values[777] = std::nextafter(1.0f, 2.0f);
  EXPECT_NE(before, fingerprint(Span<const float>(values.data(), values.size())));
}

}  // namespace
}  // namespace rt
