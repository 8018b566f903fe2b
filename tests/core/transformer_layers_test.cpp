// The language-model layers on the CPU: causal attention against a direct reference in double
// (several lengths and head counts) and finite differences; the embedding, a tied output head and
// residual connections against finite differences; a whole tiny GPT's loss gradient against
// finite differences; a tiny GPT that memorises a batch, and generation that recites it.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <thread>
#include <vector>

#include "core/generation.h"
#include "core/layers/attention.h"
#include "core/layers/embedding.h"
#include "core/layers/gelu.h"
#include "core/layers/linear.h"
#include "core/layers/lm_head.h"
#include "core/layers/residual.h"
#include "core/adamw.h"
#include "core/models.h"
#include "kernels/cpu/cpu_kernels.h"
#include "kernels/kernels.h"
#include "tests/core/gradient_check.h"
#include "tests/test_support.h"

namespace rt {
namespace {

using testing::expect_gradient;
using testing::expect_stored_rounded_with_the_same_backward;
using testing::probe_loss;
using testing::random_values;

// softmax(q k^T / sqrt(d)) v over keys j <= i, per window and head, in double.
std::vector<double> reference_attention(const std::vector<float>& qkv, int64_t rows, int64_t T, int64_t C, int64_t H,
                                        std::vector<double>& lse) {
  const int64_t d = C / H;
  std::vector<double> y(static_cast<size_t>(rows * T * C));
  lse.assign(static_cast<size_t>(rows * H * T), 0.0);
  for (int64_t b = 0; b < rows; ++b) {
    for (int64_t h = 0; h < H; ++h) {
      for (int64_t i = 0; i < T; ++i) {
        std::vector<double> s(static_cast<size_t>(i + 1));
        double max_s = -std::numeric_limits<double>::infinity();
        for (int64_t j = 0; j <= i; ++j) {
          double dot = 0;
          for (int64_t e = 0; e < d; ++e) {
            dot += static_cast<double>(qkv[(b * T + i) * 3 * C + h * d + e]) * qkv[(b * T + j) * 3 * C + C + h * d + e];
          }
          s[j] = dot / std::sqrt(static_cast<double>(d));
          max_s = std::max(max_s, s[j]);
        }
        double sum = 0;
        for (double& v : s) sum += std::exp(v - max_s);
        lse[(b * H + h) * T + i] = max_s + std::log(sum);
        for (int64_t e = 0; e < d; ++e) {
          double out = 0;
          for (int64_t j = 0; j <= i; ++j) out += std::exp(s[j] - max_s) / sum * qkv[(b * T + j) * 3 * C + 2 * C + h * d + e];
          y[(b * T + i) * C + h * d + e] = out;
        }
      }
    }
  }
  return y;
}

struct AttentionCase {
  int64_t rows, context, width, heads;
};

TEST(AttentionKernel, MatchesTheDirectFormulaForSeveralLengthsAndHeadCounts) {
  for (AttentionCase c : {AttentionCase{2, 1, 4, 1}, AttentionCase{3, 5, 8, 2}, AttentionCase{2, 17, 16, 4},
                          AttentionCase{1, 70, 12, 3}, AttentionCase{1, 130, 8, 1}}) {
    SCOPED_TRACE(::testing::Message() << "rows " << c.rows << " T " << c.context << " C " << c.width << " H " << c.heads);
    std::vector<float> qkv = random_values(static_cast<size_t>(c.rows * c.context * 3 * c.width), 11, -2.0f, 2.0f);
    std::vector<float> y(static_cast<size_t>(c.rows * c.context * c.width), NAN);
    std::vector<float> lse(static_cast<size_t>(c.rows * c.heads * c.context), NAN);
    kernels::attention_forward(Device::kCpu, kernels::AttentionAlgorithm::kPlain,
                               {c.rows, c.context, c.width, c.heads}, qkv.data(), y.data(), lse.data(), nullptr);
    std::vector<double> expected_lse;
    std::vector<double> expected = reference_attention(qkv, c.rows, c.context, c.width, c.heads, expected_lse);
    for (size_t i = 0; i < y.size(); ++i) ASSERT_NEAR(y[i], expected[i], 1e-5) << i;
    for (size_t i = 0; i < lse.size(); ++i) ASSERT_NEAR(lse[i], expected_lse[i], 1e-5) << i;
  }
}

TEST(AttentionLayer, GradientMatchesFiniteDifferencesAndSeesNoLaterToken) {
  const int64_t rows = 2, T = 6, C = 8, H = 2;
  CausalSelfAttention layer(T, C, H);
  std::vector<float> x = random_values(rows * T * 3 * C, 21), probe = random_values(rows * T * C, 22);
  Tensor input = Tensor::view(x.data(), {rows * T, 3 * C});
  layer.forward(input);
  const Tensor& dx = layer.backward(Tensor::view(probe.data(), {rows * T, C}), InputGradient::kCompute,
                                    GradientWrite::kOverwrite);
  std::vector<float> analytic(dx.data<float>(), dx.data<float>() + dx.elements());
  expect_gradient(x, analytic, [&] { return probe_loss(layer.forward(input), probe); }, "qkv");
  // Causal: the last token's key and value never reach an earlier output.
  std::vector<float> before(layer.forward(input).data<float>(), layer.forward(input).data<float>() + rows * T * C);
  for (int64_t e = C; e < 3 * C; ++e) x[(T - 1) * 3 * C + e] += 1.0f;
  const Tensor& after = layer.forward(input);
  for (int64_t i = 0; i < (T - 1) * C; ++i) ASSERT_EQ(after.data<float>()[i], before[i]) << i;
}

TEST(EmbeddingLayer, AddsTokenAndPositionRowsAndMatchesFiniteDifferences) {
  const int64_t vocab = 7, T = 4, C = 3, rows = 3;
  Embedding layer(vocab, T, C);
  std::vector<float> wte = random_values(vocab * C, 31), wpe = random_values(T * C, 32);
  std::vector<float> dwte(vocab * C, NAN), dwpe(T * C, NAN);
  layer.bind_parameters({Tensor::view(wte.data(), {vocab, C}), Tensor::view(wpe.data(), {T, C})},
                        {Tensor::view(dwte.data(), {vocab, C}), Tensor::view(dwpe.data(), {T, C})});
  std::vector<float> tokens = {1, 2, 2, 6, 0, 0, 3, 3, 1, 6, 5, 4, 1, 1, 2};  // 3 windows of T + 1
  Tensor input = Tensor::view(tokens.data(), {rows, T + 1});
  const Tensor& y = layer.forward(input);
  ASSERT_EQ(y.shape(), Shape({rows * T, C}));
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t t = 0; t < T; ++t) {
      for (int64_t c = 0; c < C; ++c) {
        const auto token = static_cast<int64_t>(tokens[r * (T + 1) + t]);
        ASSERT_EQ(y.data<float>()[(r * T + t) * C + c], wte[token * C + c] + wpe[t * C + c]);
      }
    }
  }
  std::vector<float> probe = random_values(rows * T * C, 33);
  layer.backward(Tensor::view(probe.data(), {rows * T, C}), InputGradient::kSkip, GradientWrite::kOverwrite);
  auto loss = [&] { return probe_loss(layer.forward(input), probe); };
  expect_gradient(wte, dwte, loss, "wte");
  expect_gradient(wpe, dwpe, loss, "wpe");
  // Accumulating adds the same again.
  std::vector<float> once = dwte;
  layer.backward(Tensor::view(probe.data(), {rows * T, C}), InputGradient::kSkip, GradientWrite::kAccumulate);
  for (size_t i = 0; i < once.size(); ++i) ASSERT_NEAR(dwte[i], 2 * once[i], 1e-6);
  // A token outside the vocabulary is named.
  tokens[6] = 7;
  EXPECT_NE(testing::error_message([&] { layer.forward(input); }).find("token 7 at position 1 of window 1"),
            std::string::npos);
}

// Every parameter's gradient of a model under L = sum(output * probe), by finite differences.
void expect_model_gradients(Model& model, const Tensor& input, uint64_t seed, double tolerance = 3e-3) {
  const Tensor& out = model.forward(input);
  std::vector<float> probe = random_values(static_cast<size_t>(out.elements()), seed);
  model.backward(Tensor::view(probe.data(), out.shape()));
  std::vector<float> analytic(model.gradients().begin(), model.gradients().end());
  expect_gradient(model.parameters(), analytic, [&] { return probe_loss(model.forward(input), probe); }, "parameters",
                  tolerance);
}

TEST(LmHeadLayer, ATiedHeadAddsItsGradientToTheEmbeddingsAndMatchesFiniteDifferences) {
  const int64_t vocab = 6, T = 3, C = 4;
  for (bool tied : {true, false}) {
    SCOPED_TRACE(tied ? "tied" : "untied");
    std::vector<std::unique_ptr<Layer>> layers;
    auto embedding = std::make_unique<Embedding>(vocab, T, C);
    Embedding* shared = tied ? embedding.get() : nullptr;
    layers.push_back(std::move(embedding));
    layers.push_back(std::make_unique<Gelu>());
    layers.push_back(std::make_unique<LmHead>(C, vocab, shared));
    Model model(std::move(layers), T + 1);
    model.initialize(5);
    for (float& p : model.parameters()) p *= 20.0f;  // away from GELU's nearly linear middle
    EXPECT_EQ(model.parameter_count(), vocab * C + T * C + (tied ? 0 : vocab * C));
    std::vector<float> tokens = {0, 5, 2, 1, 4, 4, 3, 0};
    expect_model_gradients(model, Tensor::view(tokens.data(), {2, T + 1}), 41);
  }
}

TEST(ResidualLayer, AddsItsInputAndMatchesFiniteDifferences) {
  std::vector<std::unique_ptr<Layer>> inside;
  inside.push_back(std::make_unique<Linear>(5, 5));
  inside.push_back(std::make_unique<Gelu>());
  std::vector<std::unique_ptr<Layer>> layers;
  layers.push_back(std::make_unique<Linear>(3, 5));
  layers.push_back(std::make_unique<Residual>(std::move(inside)));
  Model model(std::move(layers), 3);
  model.initialize(6);
  std::vector<float> x = random_values(4 * 3, 51);
  expect_model_gradients(model, Tensor::view(x.data(), {4, 3}), 52);
}

// Windows [rows, T + 1] of random tokens, the first token of window w being w.
std::vector<float> random_windows(int64_t rows, int64_t T, int64_t vocab, uint64_t seed) {
  Rng rng(seed);
  std::vector<float> tokens(static_cast<size_t>(rows * (T + 1)));
  for (int64_t i = 0; i < rows * (T + 1); ++i) tokens[i] = static_cast<float>(rng.below(static_cast<uint64_t>(vocab)));
  for (int64_t w = 0; w < rows; ++w) tokens[w * (T + 1)] = static_cast<float>(w);
  return tokens;
}

// The mean next-token loss of a batch, with its gradient written to the model (dlogits in place,
// or, as the trainer does for bf16 product inputs, to a bf16 buffer).
double language_model_step(Model& model, const std::vector<float>& windows, int64_t rows, int64_t T, bool backward,
                           bool bf16_gradient = false) {
  const Tensor& logits = model.forward(Tensor::view(const_cast<float*>(windows.data()), {rows, T + 1}));
  std::vector<int32_t> targets(static_cast<size_t>(rows * T));
  kernels::next_token_targets(Device::kCpu, windows.data(), rows, T, targets.data());
  double loss = 0;
  const float scale = 1.0f / static_cast<float>(rows * T);
  if (backward) {
    ActivationBuffer bf16_dlogits;
    model.backward(gpt_cross_entropy(bf16_gradient, Device::kCpu, logits, targets.data(), scale, bf16_dlogits, &loss));
  } else {
    kernels::softmax_cross_entropy(Device::kCpu, as_operand(logits), targets.data(), rows * T,
                                   model.output_features(), scale, nullptr, &loss);
  }
  return loss / static_cast<double>(rows * T);
}

GptOptions tiny_gpt(int64_t vocab, int64_t context, int64_t layers, int64_t heads, int64_t width) {
  GptOptions o;
  o.vocab = vocab;
  o.context = context;
  o.layers = layers;
  o.heads = heads;
  o.width = width;
  return o;
}

TEST(Gpt, TheLossGradientOfEveryParameterMatchesFiniteDifferences) {
  const GptOptions o = tiny_gpt(11, 5, 2, 2, 8);
  std::unique_ptr<Model> model = build_gpt(o);
  model->initialize(7);
  for (float& p : model->parameters()) p *= 5.0f;  // larger than GPT-2's 0.02, so every path matters
  std::vector<float> windows = random_windows(2, o.context, o.vocab, 8);
  language_model_step(*model, windows, 2, o.context, true);
  std::vector<float> analytic(model->gradients().begin(), model->gradients().end());
  expect_gradient(model->parameters(), analytic,
                  [&] { return language_model_step(*model, windows, 2, o.context, false); }, "gpt parameters", 5e-3);
}

TEST(Gpt, ATinyGptMemorisesABatchAndGenerationRecitesIt) {
  const GptOptions o = tiny_gpt(16, 16, 2, 2, 32);
  std::unique_ptr<Model> model = build_gpt(o);
  model->initialize(9);
  const int64_t rows = 4;
  std::vector<float> windows = random_windows(rows, o.context, o.vocab, 10);
  AdamW optimizer(model->parameters(), model->gradients(), AdamWOptions{0.01f, 0.9f, 0.99f, 1e-8f, 0.0f});
  const double first = language_model_step(*model, windows, rows, o.context, true);
  double last = first;
  for (int64_t step = 1; step <= 300 && last > 0.01; ++step) {
    optimizer.step(step);
    last = language_model_step(*model, windows, rows, o.context, true);
  }
  EXPECT_GT(first, 2.0);  // about ln(16) = 2.77 at the start
  EXPECT_LT(last, 0.01);
  // Greedy generation from a window's first token recites the window.
  for (int64_t w = 0; w < rows; ++w) {
    std::vector<int64_t> text = generate_tokens(*model, o.context, {w}, o.context, SamplingOptions{0.0f, 0, 1});
    for (int64_t t = 0; t <= o.context; ++t) ASSERT_EQ(text[t], static_cast<int64_t>(windows[w * (o.context + 1) + t])) << w << " " << t;
  }
}

// bf16 copies of `values`, which become the same numbers in fp32.
std::vector<bfloat16> to_bf16_exactly(std::vector<float>& values) {
  std::vector<bfloat16> rounded(values.size());
  for (size_t i = 0; i < values.size(); ++i) {
    rounded[i] = to_bfloat16(values[i]);
    values[i] = to_float(rounded[i]);
  }
  return rounded;
}

// A Linear layer and an output head given a bf16 input compute exactly what they compute from the
// fp32 values of its numbers: output, parameter gradients and input gradient; and so does the head
// given a bf16 gradient of its logits.
TEST(Bf16ProductInputs, ALinearAndAnOutputHeadTakeTheExactValuesOfABf16Input) {
  const int64_t rows = 6, in = 10, out = 7;
  std::vector<float> x = random_values(rows * in, 61, -2.0f, 2.0f), dy = random_values(rows * out, 62);
  std::vector<bfloat16> x_bf16 = to_bf16_exactly(x), dy_bf16 = to_bf16_exactly(dy);
  Tensor input = Tensor::view(x.data(), {rows, in});
  Tensor input_bf16 = Tensor::view(x_bf16.data(), {rows, in}, DType::kBFloat16);
  Tensor grad = Tensor::view(dy.data(), {rows, out});
  Tensor grad_bf16 = Tensor::view(dy_bf16.data(), {rows, out}, DType::kBFloat16);
  auto values = [](const Tensor& t) { return std::vector<float>(t.data<float>(), t.data<float>() + t.elements()); };
  for (bool head : {false, true}) {
    SCOPED_TRACE(head ? "output head" : "linear");
    auto make = [&]() -> std::unique_ptr<Layer> {
      if (head) return std::make_unique<LmHead>(in, out, nullptr);
      return std::make_unique<Linear>(in, out);
    };
    std::unique_ptr<Layer> fp32 = make(), bf16 = make();
    std::vector<float> parameters = random_values(out * in + out, 63);
    std::vector<float> grads(parameters.size()), grads_bf16(parameters.size(), NAN);
    auto bind = [&](Layer& layer, std::vector<float>& g) {
      std::vector<Tensor> p{Tensor::view(parameters.data(), {out, in})}, d{Tensor::view(g.data(), {out, in})};
      if (!head) {
        p.push_back(Tensor::view(parameters.data() + out * in, {out}));
        d.push_back(Tensor::view(g.data() + out * in, {out}));
      }
      layer.bind_parameters(p, d);
    };
    bind(*fp32, grads);
    bind(*bf16, grads_bf16);
    EXPECT_EQ(values(bf16->forward(input_bf16)), values(fp32->forward(input)));
    const std::vector<float> dx = values(fp32->backward(grad, InputGradient::kCompute, GradientWrite::kOverwrite));
    EXPECT_EQ(values(bf16->backward(head ? grad_bf16 : grad, InputGradient::kCompute, GradientWrite::kOverwrite)),
              dx);
    if (head) grads.resize(out * in), grads_bf16.resize(out * in);
    EXPECT_EQ(grads_bf16, grads);
  }
}

// bf16 activations: a Linear storing its output in bf16 stores its fp32 output rounded once (to
// nearest even), bit for bit, and its backward (which reads only its input and the output
// gradient) is the same; a GELU given a bf16 input computes, forward (to fp32 and to bf16) and
// backward, exactly what it computes from the input's fp32 values (its gradient stored rounded to
// bf16); attention given bf16 q, k, v stores its fp32 output on their values rounded, and the
// gradient computed from that rounded; and a Linear given a bf16 output gradient computes from its
// exact values.
TEST(Bf16Activations, ALinearStoresItsOutputRoundedAndGeluAndAttentionReadABf16InputAsItsExactValues) {
  const int64_t rows = 6, in = 10, out = 12;
  std::vector<float> x = random_values(rows * in, 71, -2.0f, 2.0f), dy = random_values(rows * out, 72);
  std::vector<float> parameters = random_values(out * in + out, 73);
  Tensor input = Tensor::view(x.data(), {rows, in}), grad = Tensor::view(dy.data(), {rows, out});
  auto values = [](const Tensor& t) { return std::vector<float>(t.data<float>(), t.data<float>() + t.elements()); };
  Linear linear(in, out), linear_bf16(in, out, Device::kCpu, 0.0f, DType::kBFloat16);
  std::vector<float> grads(parameters.size()), grads_bf16(parameters.size(), NAN);
  auto bind = [&](Linear& layer, std::vector<float>& g) {
    layer.bind_parameters({Tensor::view(parameters.data(), {out, in}), Tensor::view(parameters.data() + out * in, {out})},
                          {Tensor::view(g.data(), {out, in}), Tensor::view(g.data() + out * in, {out})});
  };
  bind(linear, grads);
  bind(linear_bf16, grads_bf16);
  std::vector<float> y;
  expect_stored_rounded_with_the_same_backward(linear, linear_bf16, input, grad, &y);
  if (HasFatalFailure()) return;
  EXPECT_EQ(grads_bf16, grads);
  const Tensor& y16 = linear_bf16.forward(input);  // the rounded output again, for the layers below

  // The GELU, on the Linear's bf16 output against the same numbers in fp32.
  std::vector<float> widened(y.size());
  for (size_t i = 0; i < y.size(); ++i) widened[i] = to_float(y16.data<bfloat16>()[i]);
  EXPECT_NE(widened, y) << "rounding to bf16 changed nothing: a weak test input";
  Tensor fp32_input = Tensor::view(widened.data(), {rows, out});
  for (DType stored : {DType::kFloat32, DType::kBFloat16}) {
    SCOPED_TRACE(dtype_name(stored));
    Gelu from_fp32(Device::kCpu, stored), from_bf16(Device::kCpu, stored);
    const Tensor& a = from_fp32.forward(fp32_input);
    const Tensor& b = from_bf16.forward(y16);
    ASSERT_EQ(b.dtype(), stored);
    for (int64_t i = 0; i < a.elements(); ++i) {
      if (stored == DType::kFloat32) {
        ASSERT_EQ(b.data<float>()[i], a.data<float>()[i]) << i;
      } else {
        ASSERT_EQ(b.data<bfloat16>()[i].bits, a.data<bfloat16>()[i].bits) << i;
      }
    }
    const Tensor& dx16 = from_bf16.backward(grad, InputGradient::kCompute, GradientWrite::kOverwrite);
    const std::vector<float> dx32 = values(from_fp32.backward(grad, InputGradient::kCompute, GradientWrite::kOverwrite));
    ASSERT_EQ(dx16.dtype(), DType::kBFloat16) << "a bf16 input's gradient is bf16";
    for (size_t i = 0; i < dx32.size(); ++i) ASSERT_EQ(dx16.data<bfloat16>()[i].bits, to_bfloat16(dx32[i]).bits) << i;
  }

  // Attention over the Linear's bf16 output as q, k, v: 2 windows of 3 tokens, width 4, 2 heads.
  const int64_t T = 3, width = out / 3;
  CausalSelfAttention attention(T, width, 2), attention_bf16(T, width, 2);
  const std::vector<float> y_attention = values(attention.forward(fp32_input));
  const Tensor& y_attention16 = attention_bf16.forward(y16);
  ASSERT_EQ(y_attention16.dtype(), DType::kBFloat16);
  std::vector<float> y_attention_values(y_attention.size());
  for (size_t i = 0; i < y_attention.size(); ++i) {
    ASSERT_EQ(y_attention16.data<bfloat16>()[i].bits, to_bfloat16(y_attention[i]).bits) << i;
    y_attention_values[i] = to_float(y_attention16.data<bfloat16>()[i]);
  }
  std::vector<float> dy_attention = random_values(rows * width, 74);
  Tensor grad_attention = Tensor::view(dy_attention.data(), {rows, width});
  const Tensor& dqkv = attention_bf16.backward(grad_attention, InputGradient::kCompute, GradientWrite::kOverwrite);
  ASSERT_EQ(dqkv.dtype(), DType::kBFloat16) << "bf16 q, k, v get a bf16 gradient";
  std::vector<float> expected(dqkv.elements()), expected_lse(static_cast<size_t>(rows * 2));
  const kernels::AttentionShape shape{rows / T, T, width, 2};
  std::vector<float> y_again(y_attention.size());
  kernels::cpu::attention_forward(shape, widened.data(), y_again.data(), expected_lse.data());
  kernels::cpu::attention_backward(shape, widened.data(), y_attention_values.data(), expected_lse.data(), dy_attention.data(),
                          expected.data());
  for (size_t i = 0; i < expected.size(); ++i) {
    ASSERT_EQ(dqkv.data<bfloat16>()[i].bits, to_bfloat16(expected[i]).bits) << "dqkv " << i;
  }

  // A Linear given its output's gradient in bf16 computes from its exact values (the bias
  // gradient too: fp32 sums of them).
  std::vector<float> dy_values(dy.size());
  std::vector<bfloat16> dy16(dy.size());
  for (size_t i = 0; i < dy.size(); ++i) {
    dy16[i] = to_bfloat16(dy[i]);
    dy_values[i] = to_float(dy16[i]);
  }
  std::vector<float> grads_again(parameters.size(), NAN);
  bind(linear_bf16, grads_again);
  linear_bf16.forward(input);
  const std::vector<float> dx_values = values(linear.backward(Tensor::view(dy_values.data(), {rows, out}),
                                                              InputGradient::kCompute, GradientWrite::kOverwrite));
  EXPECT_EQ(values(linear_bf16.backward(Tensor::view(dy16.data(), {rows, out}, DType::kBFloat16),
                                        InputGradient::kCompute, GradientWrite::kOverwrite)),
            dx_values);
  EXPECT_EQ(grads_again, grads);
}

// A residual block whose branch ends in a Linear storing bf16 adds that bf16 output's exact values
// to its fp32 input, and its output (the residual stream) stays fp32.
TEST(Bf16Activations, AResidualAddsABf16BranchOutputToTheFp32Stream) {
  const int64_t rows = 5, width = 8;
  std::vector<float> x = random_values(rows * width, 91, -2.0f, 2.0f);
  std::vector<float> parameters = random_values(width * width + width, 92), grads(parameters.size());
  std::vector<std::unique_ptr<Layer>> branch;
  branch.push_back(std::make_unique<Linear>(width, width, Device::kCpu, 0.0f, DType::kBFloat16));
  Linear* linear = static_cast<Linear*>(branch.back().get());
  Residual residual(std::move(branch));
  residual.bind_parameters(
      {Tensor::view(parameters.data(), {width, width}), Tensor::view(parameters.data() + width * width, {width})},
      {Tensor::view(grads.data(), {width, width}), Tensor::view(grads.data() + width * width, {width})});
  Tensor input = Tensor::view(x.data(), {rows, width});
  const Tensor& y = residual.forward(input);
  ASSERT_EQ(y.dtype(), DType::kFloat32);
  const Tensor& branch_output = linear->forward(input);  // the same values again
  for (int64_t i = 0; i < rows * width; ++i) {
    ASSERT_EQ(y.data<float>()[i], x[i] + to_float(branch_output.data<bfloat16>()[i])) << i;
  }
}

// bf16 logits: an output head storing bf16 stores its fp32 logits rounded, bit for bit; the
// cross-entropy over them (in place, as gpt_cross_entropy does) gives the loss and, rounded, the
// gradient it gives from the same values in fp32, and so does the count of correct rows.
TEST(Bf16Activations, AnOutputHeadStoresItsLogitsRoundedAndTheLossReadsThemInPlace) {
  const int64_t rows = 6, width = 10, vocab = 17;
  std::vector<float> x = random_values(rows * width, 81, -2.0f, 2.0f), weight = random_values(vocab * width, 82);
  std::vector<float> grads(weight.size());
  Tensor input = Tensor::view(x.data(), {rows, width});
  LmHead head(width, vocab, nullptr), head_bf16(width, vocab, nullptr, Device::kCpu, DType::kBFloat16);
  for (LmHead* layer : {&head, &head_bf16}) {
    layer->bind_parameters({Tensor::view(weight.data(), {vocab, width})}, {Tensor::view(grads.data(), {vocab, width})});
  }
  const Tensor& logits = head.forward(input);
  const Tensor& logits16 = head_bf16.forward(input);
  ASSERT_EQ(logits16.dtype(), DType::kBFloat16);
  std::vector<float> values(rows * vocab);
  for (int64_t i = 0; i < rows * vocab; ++i) {
    ASSERT_EQ(logits16.data<bfloat16>()[i].bits, to_bfloat16(logits.data<float>()[i]).bits) << i;
    values[i] = to_float(logits16.data<bfloat16>()[i]);
  }
  std::vector<int32_t> targets(rows);
  for (int64_t r = 0; r < rows; ++r) targets[r] = static_cast<int32_t>((r * 5) % vocab);
  std::vector<float> expected(values.size());
  double loss = 0, loss16 = 0;
  int64_t correct = 0, correct16 = 0;
  kernels::cpu::softmax_cross_entropy(values.data(), targets.data(), rows, vocab, 0.25f, expected.data(), &loss);
  kernels::cpu::count_correct(values.data(), targets.data(), rows, vocab, &correct);
  kernels::count_correct(Device::kCpu, logits16.data<bfloat16>(), targets.data(), rows, vocab, &correct16);
  ActivationBuffer unused;
  const Tensor& gradient = gpt_cross_entropy(true, Device::kCpu, logits16, targets.data(), 0.25f, unused, &loss16);
  EXPECT_EQ(gradient.data<bfloat16>(), logits16.data<bfloat16>()) << "the gradient is written over the logits";
  EXPECT_EQ(loss16, loss);
  EXPECT_EQ(correct16, correct);
  for (int64_t i = 0; i < rows * vocab; ++i) {
    ASSERT_EQ(gradient.data<bfloat16>()[i].bits, to_bfloat16(expected[i]).bits) << i;
  }
}

// A tiny GPT whose layer norms and GELUs store their outputs in bf16, and its loss its gradient,
// (on the CPU: fp32 products of the bf16 values) learns as the fp32 one does, its losses within 2%
// over 12 AdamW steps; and so does one that also keeps its activations in bf16 (the MLPs' hidden
// ones, q/k/v and attention's output), which rounds values fp32 does not and so trains (slightly)
// differently again.
TEST(Bf16ProductInputs, ATinyGptTrainsAsTheFp32One) {
  const int64_t rows = 4, steps = 12;
  GptOptions o = tiny_gpt(16, 16, 2, 2, 32);
  std::vector<float> windows = random_windows(rows, o.context, o.vocab, 12);
  auto train = [&](bool bf16, bool bf16_activations = false) {
    o.bf16_product_inputs = bf16;
    o.bf16_activations = bf16_activations;
    std::unique_ptr<Model> model = build_gpt(o);
    model->initialize(13);
    AdamW optimizer(model->parameters(), model->gradients(), AdamWOptions{0.01f, 0.9f, 0.99f, 1e-8f, 0.0f});
    std::vector<double> losses;
    for (int64_t step = 1; step <= steps; ++step) {
      losses.push_back(language_model_step(*model, windows, rows, o.context, true, bf16));
      optimizer.step(step);
    }
    return losses;
  };
  const std::vector<double> fp32 = train(false), bf16 = train(true), activations = train(true, true);
  EXPECT_NE(bf16, fp32) << "the bf16 outputs changed nothing: are they stored in bf16?";
  EXPECT_NE(activations, bf16) << "the bf16 activations changed nothing: are they stored in bf16?";
  EXPECT_LT(bf16.back(), 0.5 * bf16.front());
  EXPECT_LT(activations.back(), 0.5 * activations.front());
  for (int64_t s = 0; s < steps; ++s) {
    EXPECT_NEAR(bf16[s], fp32[s], 2e-2 * fp32[s]) << "step " << s;
    EXPECT_NEAR(activations[s], fp32[s], 2e-2 * fp32[s]) << "bf16 activations, step " << s;
  }
}

// Backward takes each layer's input gradient from a pool and gives it back once the layer below
// has read it: a six-layer GPT's backward needs no more gradient memory than a one-layer one's,
// and reusing the buffers changes no result (the finite-difference and training tests above).
TEST(GradientBuffers, ABackwardHoldsAFewGradientsAtATimeWhateverTheDepth) {
  auto pooled_after_two_steps = [](int64_t layers) {
    size_t bytes = 0;
    std::thread([&] {  // a thread of its own: a fresh pool
      const GptOptions o = tiny_gpt(16, 16, layers, 2, 32);
      std::unique_ptr<Model> model = build_gpt(o);
      model->initialize(3);
      std::vector<float> windows = random_windows(4, o.context, o.vocab, 4);
      for (int step = 0; step < 2; ++step) language_model_step(*model, windows, 4, o.context, true);
      bytes = GradientBuffer::pooled_bytes(Device::kCpu);
    }).join();
    return bytes;
  };
  const size_t shallow = pooled_after_two_steps(1), deep = pooled_after_two_steps(6);
  EXPECT_GT(shallow, 0u);
  EXPECT_EQ(deep, shallow);
}

TEST(Sampling, FollowsTheSoftmaxAndKeepsToTheTopK) {
  const std::vector<float> logits = {1.0f, 3.0f, 0.0f, 2.0f};
  std::vector<float> scratch;
  Rng rng(3);
  EXPECT_EQ(sample_token(logits.data(), 4, {0.0f, 0, 1}, rng, scratch), 1);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(sample_token(logits.data(), 4, {1.0f, 1, 1}, rng, scratch), 1);
  std::vector<int> counts(4, 0);
  const int draws = 40000;
  for (int i = 0; i < draws; ++i) ++counts[static_cast<size_t>(sample_token(logits.data(), 4, {1.0f, 0, 1}, rng, scratch))];
  double total = 0;
  for (float l : logits) total += std::exp(l);
  for (int v = 0; v < 4; ++v) EXPECT_NEAR(counts[v] / double(draws), std::exp(logits[v]) / total, 0.01) << v;
  std::fill(counts.begin(), counts.end(), 0);
  for (int i = 0; i < draws; ++i) ++counts[static_cast<size_t>(sample_token(logits.data(), 4, {1.0f, 2, 1}, rng, scratch))];
  EXPECT_EQ(counts[0] + counts[2], 0);
  EXPECT_NEAR(counts[1] / double(draws), std::exp(3.0) / (std::exp(3.0) + std::exp(2.0)), 0.01);
}

}  // namespace
}  // namespace rt
