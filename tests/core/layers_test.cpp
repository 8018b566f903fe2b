// Layer backward passes against central finite differences of a scalar loss
// L = sum(output * probe), with a fixed random probe, in float with a tolerance fit for float.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <vector>

#include "core/layers/linear.h"
#include "core/layers/relu.h"
#include "core/model.h"
#include "core/models.h"
#include "kernels/kernels.h"

#include "tests/core/gradient_check.h"

namespace rt {
namespace {

using testing::expect_gradient;
using testing::probe_loss;
using testing::random_values;

TEST(LinearLayer, BackwardMatchesFiniteDifferences) {
  const int64_t rows = 5, in = 7, out = 4;
  Linear layer(in, out);
  std::vector<float> weight = random_values(out * in, 1), bias = random_values(out, 2);
  std::vector<float> weight_grad(out * in), bias_grad(out);
  layer.bind_parameters({Tensor::view(weight.data(), {out, in}), Tensor::view(bias.data(), {out})},
                        {Tensor::view(weight_grad.data(), {out, in}), Tensor::view(bias_grad.data(), {out})});
  std::vector<float> x = random_values(rows * in, 3), probe = random_values(rows * out, 4);
  Tensor input = Tensor::view(x.data(), {rows, in});
  auto loss = [&] { return probe_loss(layer.forward(input), probe); };

  layer.forward(input);
  const Tensor& grad_input = layer.backward(Tensor::view(probe.data(), {rows, out}), InputGradient::kCompute,
                                             GradientWrite::kOverwrite);
  std::vector<float> dx(grad_input.data<float>(), grad_input.data<float>() + rows * in);

  expect_gradient(weight, weight_grad, loss, "weight", 2e-3);
  expect_gradient(bias, bias_grad, loss, "bias", 2e-3);
  expect_gradient(x, dx, loss, "input", 2e-3);
}

TEST(ReluLayer, BackwardMatchesFiniteDifferences) {
  const int64_t rows = 6, features = 9;
  Relu layer;
  std::vector<float> x = random_values(rows * features, 5), probe = random_values(rows * features, 6);
  for (float& v : x) v += v > 0 ? 0.05f : -0.05f;  // keep away from the kink, where the derivative jumps
  Tensor input = Tensor::view(x.data(), {rows, features});
  auto loss = [&] { return probe_loss(layer.forward(input), probe); };
  layer.forward(input);
  const Tensor& grad_input = layer.backward(Tensor::view(probe.data(), {rows, features}), InputGradient::kCompute,
                                             GradientWrite::kOverwrite);
  std::vector<float> dx(grad_input.data<float>(), grad_input.data<float>() + rows * features);
  expect_gradient(x, dx, loss, "input", 2e-3);
}

TEST(MlpWithSoftmaxLoss, ParameterGradientsMatchFiniteDifferences) {
  const int64_t rows = 4, in = 6, classes = 3;
  std::unique_ptr<Model> model = build_mlp(in, {5, 4}, classes);
  model->initialize(3);
  std::vector<float> x = random_values(rows * in, 7);
  std::vector<int32_t> labels{0, 2, 1, 2};
  Tensor input = Tensor::view(x.data(), {rows, in});
  std::vector<float> grad_logits(rows * classes);
  auto loss = [&] {
    const Tensor& logits = model->forward(input);
    double sum = 0;
    kernels::softmax_cross_entropy(Device::kCpu, logits.data<float>(), labels.data(), rows, classes, 1.0f / rows,
                                   grad_logits.data(), &sum);
    return sum / rows;
  };
  loss();
  model->backward(Tensor::view(grad_logits.data(), {rows, classes}));
  // Finite differences through the model's own arena.
  Span<float> grads = model->gradients();
  expect_gradient(model->parameters(), std::vector<float>(grads.begin(), grads.end()), loss, "parameter", 2e-3);
}

TEST(LinearLayer, AccumulateAddsToTheGradientsOverwriteReplacesThem) {
  const int64_t rows = 3, in = 4, out = 2;
  Linear layer(in, out);
  std::vector<float> weight = random_values(out * in, 8), bias = random_values(out, 9);
  std::vector<float> weight_grad(out * in, 0.0f), bias_grad(out, 0.0f);
  layer.bind_parameters({Tensor::view(weight.data(), {out, in}), Tensor::view(bias.data(), {out})},
                        {Tensor::view(weight_grad.data(), {out, in}), Tensor::view(bias_grad.data(), {out})});
  std::vector<float> x = random_values(rows * in, 10), dy = random_values(rows * out, 11);
  layer.forward(Tensor::view(x.data(), {rows, in}));
  layer.backward(Tensor::view(dy.data(), {rows, out}), InputGradient::kSkip, GradientWrite::kOverwrite);
  std::vector<float> once_w = weight_grad, once_b = bias_grad;
  layer.backward(Tensor::view(dy.data(), {rows, out}), InputGradient::kSkip, GradientWrite::kAccumulate);
  for (size_t i = 0; i < once_w.size(); ++i) EXPECT_FLOAT_EQ(weight_grad[i], 2 * once_w[i]);
  for (size_t i = 0; i < once_b.size(); ++i) EXPECT_FLOAT_EQ(bias_grad[i], 2 * once_b[i]);
  layer.backward(Tensor::view(dy.data(), {rows, out}), InputGradient::kSkip, GradientWrite::kOverwrite);
  EXPECT_EQ(weight_grad, once_w);
}

TEST(LinearLayer, RejectsInputOfTheWrongWidth) {
  Linear layer(3, 2);
  std::vector<float> weight(6), bias(2), gw(6), gb(2), x(8);
  layer.bind_parameters({Tensor::view(weight.data(), {2, 3}), Tensor::view(bias.data(), {2})},
                        {Tensor::view(gw.data(), {2, 3}), Tensor::view(gb.data(), {2})});
  EXPECT_THROW(layer.forward(Tensor::view(x.data(), {2, 4})), Error);
}

}  // namespace
}  // namespace rt
