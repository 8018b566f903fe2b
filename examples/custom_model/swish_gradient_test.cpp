// Swish's backward against central differences of its forward: for L = sum(g * y), dL/dx and
// dL/dbeta from backward() must match (L(v + h) - L(v - h)) / 2h for every input and every beta;
// and GradientWrite::kAccumulate must add to beta's gradient. Exits 1 naming the first mismatch.
#include <cmath>
#include <cstdio>
#include <random>
#include <vector>

#include "swish.h"

namespace {
constexpr int64_t kRows = 6, kFeatures = 5;
constexpr float kStep = 1e-2f, kTolerance = 2e-3f;

double loss(Swish& layer, const rt::Tensor& x, const std::vector<float>& g) {
  const rt::Tensor& y = layer.forward(x);
  double sum = 0;
  for (int64_t i = 0; i < y.elements(); ++i) sum += static_cast<double>(g[i]) * y.data<float>()[i];
  return sum;
}

bool close(const char* what, int64_t i, double analytic, double numeric) {
  if (std::abs(analytic - numeric) <= kTolerance * std::max(1.0, std::abs(numeric))) return true;
  std::fprintf(stderr, "swish gradient test: d/d%s[%lld] is %.6f from backward, %.6f from differences\n", what,
               static_cast<long long>(i), analytic, numeric);
  return false;
}
}  // namespace

int main() {
  std::mt19937 random(7);
  std::normal_distribution<float> normal(0.0f, 1.5f);
  rt::Tensor x = rt::Tensor::zeros({kRows, kFeatures});
  rt::Tensor beta = rt::Tensor::zeros({kFeatures});
  rt::Tensor beta_gradient = rt::Tensor::zeros({kFeatures});
  std::vector<float> g(kRows * kFeatures);
  for (int64_t i = 0; i < x.elements(); ++i) x.data<float>()[i] = normal(random);
  for (int64_t j = 0; j < kFeatures; ++j) beta.data<float>()[j] = 0.5f + 0.25f * static_cast<float>(j);
  for (float& value : g) value = normal(random);
  Swish layer(kFeatures);
  layer.bind_parameters({beta}, {beta_gradient});

  loss(layer, x, g);
  rt::Tensor gradient_output = rt::Tensor::zeros({kRows, kFeatures});
  std::copy(g.begin(), g.end(), gradient_output.data<float>());
  const rt::Tensor& dx = layer.backward(gradient_output, rt::InputGradient::kCompute, rt::GradientWrite::kOverwrite);
  const std::vector<float> analytic_x(dx.data<float>(), dx.data<float>() + dx.elements());
  const std::vector<float> analytic_beta(beta_gradient.data<float>(), beta_gradient.data<float>() + kFeatures);
  layer.release_input_gradient();

  bool ok = true;
  auto numeric = [&](float* value) {
    const float saved = *value;
    *value = saved + kStep;
    const double up = loss(layer, x, g);
    *value = saved - kStep;
    const double down = loss(layer, x, g);
    *value = saved;
    return (up - down) / (2.0 * kStep);
  };
  for (int64_t i = 0; i < x.elements(); ++i) ok &= close("x", i, analytic_x[i], numeric(x.data<float>() + i));
  for (int64_t j = 0; j < kFeatures; ++j) ok &= close("beta", j, analytic_beta[j], numeric(beta.data<float>() + j));

  // A second backward that accumulates doubles beta's gradient.
  loss(layer, x, g);
  layer.backward(gradient_output, rt::InputGradient::kSkip, rt::GradientWrite::kAccumulate);
  for (int64_t j = 0; j < kFeatures; ++j) {
    ok &= close("beta (accumulated twice)", j, beta_gradient.data<float>()[j], 2.0 * analytic_beta[j]);
  }
  if (!ok) return 1;
  std::printf("swish gradient test: backward matches central differences for %lld inputs and %lld betas\n",
              static_cast<long long>(x.elements()), static_cast<long long>(kFeatures));
  return 0;
}
