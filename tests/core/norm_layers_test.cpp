// GELU, LayerNorm and Dropout on the CPU: forward against direct formulas in double, backward against
// central finite differences of L = sum(output * probe); an MLP with both, end to end.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <vector>

#include "core/layers/dropout.h"
#include "core/layers/gelu.h"
#include "core/layers/layer_norm.h"
#include "core/models.h"

#include "tests/core/gradient_check.h"

namespace rt {
namespace {

using testing::expect_gradient;
using testing::expect_stored_rounded_with_the_same_backward;
using testing::probe_loss;
using testing::random_values;

TEST(GeluLayer, MatchesTheTanhFormulaAndFiniteDifferences) {
  const int64_t rows = 4, features = 9;
  Gelu layer;
  std::vector<float> x = random_values(rows * features, 1, -4.0f, 4.0f), probe = random_values(rows * features, 2);
  Tensor input = Tensor::view(x.data(), {rows, features});
  const Tensor& y = layer.forward(input);
  for (size_t i = 0; i < x.size(); ++i) {
    const double v = x[i];
    const double expected = 0.5 * v * (1 + std::tanh(std::sqrt(2 / M_PI) * (v + 0.044715 * v * v * v)));
    ASSERT_NEAR(y.data<float>()[i], expected, 1e-6) << i;
  }
  const Tensor& dx =
      layer.backward(Tensor::view(probe.data(), {rows, features}), InputGradient::kCompute, GradientWrite::kOverwrite);
  std::vector<float> analytic(dx.data<float>(), dx.data<float>() + dx.elements());
  expect_gradient(x, analytic, [&] { return probe_loss(layer.forward(input), probe); }, "input");
}

TEST(LayerNormLayer, NormalisesEachRowAndMatchesFiniteDifferences) {
  const int64_t rows = 5, features = 7;
  LayerNorm layer(features);
  std::vector<float> gamma = random_values(features, 3, 0.5f, 1.5f), beta = random_values(features, 4);
  std::vector<float> dgamma(features, NAN), dbeta(features, NAN);  // poisoned: backward must write them
  layer.bind_parameters({Tensor::view(gamma.data(), {features}), Tensor::view(beta.data(), {features})},
                        {Tensor::view(dgamma.data(), {features}), Tensor::view(dbeta.data(), {features})});
  std::vector<float> x = random_values(rows * features, 5, -2.0f, 3.0f), probe = random_values(rows * features, 6);
  Tensor input = Tensor::view(x.data(), {rows, features});
  const Tensor& y = layer.forward(input);
  for (int64_t r = 0; r < rows; ++r) {
    double mean = 0, var = 0;
    for (int64_t f = 0; f < features; ++f) mean += x[r * features + f];
    mean /= features;
    for (int64_t f = 0; f < features; ++f) var += std::pow(x[r * features + f] - mean, 2);
    var /= features;
    for (int64_t f = 0; f < features; ++f) {
      const double expected = gamma[f] * (x[r * features + f] - mean) / std::sqrt(var + 1e-5) + beta[f];
      ASSERT_NEAR(y.data<float>()[r * features + f], expected, 1e-5) << r << " " << f;
    }
  }
  const Tensor& dx =
      layer.backward(Tensor::view(probe.data(), {rows, features}), InputGradient::kCompute, GradientWrite::kOverwrite);
  std::vector<float> analytic(dx.data<float>(), dx.data<float>() + dx.elements());
  auto loss = [&] { return probe_loss(layer.forward(input), probe); };
  expect_gradient(x, analytic, loss, "input");
  expect_gradient(gamma, dgamma, loss, "gamma");
  expect_gradient(beta, dbeta, loss, "beta");
}

// Stored in bf16 (for bf16 products, which round their operands anyway), the outputs of LayerNorm
// and GELU are the fp32 outputs rounded to nearest even, bit for bit, and backward (which reads
// the input, not the output) gives the same gradients.
TEST(Bf16Outputs, LayerNormAndGeluStoreTheirFp32OutputsRoundedAndBackpropagateTheSame) {
  const int64_t rows = 5, features = 12;
  std::vector<float> x = random_values(rows * features, 7, -3.0f, 3.0f), probe = random_values(rows * features, 8);
  std::vector<float> gamma = random_values(features, 9, 0.5f, 1.5f), beta = random_values(features, 10);
  Tensor input = Tensor::view(x.data(), {rows, features}), grad = Tensor::view(probe.data(), {rows, features});
  LayerNorm norm(features), norm_bf16(features, Device::kCpu, kLayerNormEps, DType::kBFloat16);
  std::vector<float> dgamma(features), dbeta(features), dgamma_bf16(features, NAN), dbeta_bf16(features, NAN);
  auto view = [&](std::vector<float>& v) { return Tensor::view(v.data(), {features}); };
  norm.bind_parameters({view(gamma), view(beta)}, {view(dgamma), view(dbeta)});
  norm_bf16.bind_parameters({view(gamma), view(beta)}, {view(dgamma_bf16), view(dbeta_bf16)});
  {
    SCOPED_TRACE("layer norm");
    expect_stored_rounded_with_the_same_backward(norm, norm_bf16, input, grad);
  }
  EXPECT_EQ(dgamma_bf16, dgamma);
  EXPECT_EQ(dbeta_bf16, dbeta);
  Gelu gelu, gelu_bf16(Device::kCpu, DType::kBFloat16);
  SCOPED_TRACE("gelu");
  expect_stored_rounded_with_the_same_backward(gelu, gelu_bf16, input, grad);
}

TEST(DropoutLayer, DropsAboutPScalesTheRestRedrawsTheSameMaskForItsKeyAndIsTheIdentityInEvaluation) {
  const int64_t rows = 100, features = 100;
  const float p = 0.3f;
  Dropout layer(p);
  std::vector<float> x = random_values(rows * features, 9, 0.5f, 1.0f), dy = random_values(rows * features, 10);
  Tensor input = Tensor::view(x.data(), {rows, features});
  layer.set_mode(true, 1234);
  const Tensor& y = layer.forward(input);
  std::vector<float> first(y.data<float>(), y.data<float>() + y.elements());
  int64_t dropped = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    if (first[i] == 0.0f) {
      ++dropped;
    } else {
      ASSERT_EQ(first[i], x[i] * (1.0f / (1.0f - p))) << i;
    }
  }
  EXPECT_NEAR(static_cast<double>(dropped) / x.size(), p, 0.02);  // 10,000 draws: 4.6 standard deviations
  const Tensor& dx =
      layer.backward(Tensor::view(dy.data(), {rows, features}), InputGradient::kCompute, GradientWrite::kOverwrite);
  for (size_t i = 0; i < x.size(); ++i) {
    ASSERT_EQ(dx.data<float>()[i], first[i] == 0.0f ? 0.0f : dy[i] * (1.0f / (1.0f - p))) << i;
  }
  layer.set_mode(true, 1234);
  const Tensor& again = layer.forward(input);
  EXPECT_TRUE(std::equal(first.begin(), first.end(), again.data<float>())) << "the same key draws the same mask";
  layer.set_mode(true, 1235);
  const Tensor& other = layer.forward(input);
  EXPECT_FALSE(std::equal(first.begin(), first.end(), other.data<float>())) << "another key draws another mask";
  layer.set_mode(false, 0);
  const Tensor& evaluated = layer.forward(input);
  EXPECT_TRUE(std::equal(x.begin(), x.end(), evaluated.data<float>()));
  EXPECT_THROW(Dropout(1.0f), Error);
}

TEST(MlpWithGeluAndLayerNorm, StartsWithUnitGammaZeroBetaAndItsGradientsMatchFiniteDifferences) {
  auto model = build_mlp(6, {8, 5}, 3, Device::kCpu, MlpOptions{"gelu", true});
  EXPECT_NE(model->summary().find("linear6x8 -> layernorm8 -> gelu -> linear8x5 -> layernorm5 -> gelu -> linear5x3"),
            std::string::npos)
      << model->summary();
  model->initialize(4);
  for (const ParameterSlot& slot : model->slots()) {
    if (slot.name.find("gamma") == std::string::npos && slot.name.find("beta") == std::string::npos) continue;
    const float expected = slot.name.find("gamma") != std::string::npos ? 1.0f : 0.0f;
    for (int64_t e = 0; e < shape_elements(slot.shape); ++e) ASSERT_EQ(model->parameters()[slot.offset + e], expected);
  }
  const int64_t rows = 3;
  std::vector<float> x = random_values(rows * 6, 7), probe = random_values(rows * 3, 8);
  Tensor input = Tensor::view(x.data(), {rows, 6});
  model->forward(input);
  model->backward(Tensor::view(probe.data(), {rows, 3}));
  Span<float> grads = model->gradients();
  std::vector<float> analytic(grads.begin(), grads.end());
  expect_gradient(model->parameters(), analytic, [&] { return probe_loss(model->forward(input), probe); }, "parameter");
}

// Every pointwise activation (kernels/pointwise_activations.h) as an mlp's activation: named in
// the summary, and the model's gradients match finite differences through it.
TEST(MlpWithPointwiseActivations, GradientsMatchFiniteDifferences) {
  for (kernels::PointwiseActivation activation : kernels::pointwise_activations()) {
    const std::string name = kernels::pointwise_activation_name(activation);
    SCOPED_TRACE(name);
    auto model = build_mlp(6, {8, 5}, 3, Device::kCpu, MlpOptions{name});
    EXPECT_NE(model->summary().find("linear6x8 -> " + name + " -> linear8x5 -> " + name + " -> linear5x3"),
              std::string::npos)
        << model->summary();
    model->initialize(5);
    const int64_t rows = 3;
    std::vector<float> x = random_values(rows * 6, 9), probe = random_values(rows * 3, 10);
    Tensor input = Tensor::view(x.data(), {rows, 6});
    model->forward(input);
    model->backward(Tensor::view(probe.data(), {rows, 3}));
    Span<float> grads = model->gradients();
    std::vector<float> analytic(grads.begin(), grads.end());
    expect_gradient(model->parameters(), analytic, [&] { return probe_loss(model->forward(input), probe); },
                    "parameter");
  }
}

}  // namespace
}  // namespace rt
