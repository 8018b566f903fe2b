// Every CPU kernel against a naive double-precision reference on fresh random inputs. Outputs are
// poisoned with NaN first, so an element a kernel forgets to write fails the comparison.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "core/base/check.h"
#include "core/base/random.h"
#include "kernels/cpu/cpu_kernels.h"
#include "kernels/cuda/cuda_kernels.h"
#include "kernels/kernels.h"

namespace rt::kernels {
namespace {

constexpr Device kCpu = Device::kCpu;
const float kNaN = std::numeric_limits<float>::quiet_NaN();

std::vector<float> random_values(size_t count, uint64_t seed, float low = -1.0f, float high = 1.0f) {
  Rng rng(seed);
  std::vector<float> values(count);
  for (float& v : values) v = rng.uniform(low, high);
  return values;
}

void expect_close(const std::vector<float>& actual, const std::vector<double>& expected, double tolerance) {
  ASSERT_EQ(actual.size(), expected.size());
  for (size_t i = 0; i < actual.size(); ++i) {
    double scale = std::max(1.0, std::abs(expected[i]));
    ASSERT_LE(std::abs(actual[i] - expected[i]), tolerance * scale) << "element " << i;
  }
}

// Naive C = alpha op(A) op(B) + beta C in double.
std::vector<double> reference_gemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha,
                                   const std::vector<float>& a, const std::vector<float>& b, float beta,
                                   const std::vector<float>& c) {
  std::vector<double> out(static_cast<size_t>(m * n));
  for (int64_t i = 0; i < m; ++i) {
    for (int64_t j = 0; j < n; ++j) {
      double sum = 0;
      for (int64_t p = 0; p < k; ++p) {
        double av = ta ? a[p * m + i] : a[i * k + p];
        double bv = tb ? b[j * k + p] : b[p * n + j];
        sum += av * bv;
      }
      out[i * n + j] = alpha * sum + (beta == 0.0f ? 0.0 : beta * static_cast<double>(c[i * n + j]));
    }
  }
  return out;
}

struct GemmCase {
  bool ta, tb;
  int64_t m, n, k;
  float alpha, beta;
};

class GemmTest : public ::testing::TestWithParam<GemmCase> {};

TEST(AttentionAlgorithm, IsNamedAsInTheConfigAndAnUnknownNameIsRefusedWithTheChoices) {
  EXPECT_EQ(attention_algorithm("plain"), AttentionAlgorithm::kPlain);
  EXPECT_EQ(attention_algorithm("fused"), AttentionAlgorithm::kFused);
  EXPECT_EQ(attention_algorithm("tensor_core"), AttentionAlgorithm::kTensorCore);
  try {
    attention_algorithm("flash");
    FAIL() << "an unknown name was accepted";
  } catch (const Error& error) {
    EXPECT_NE(std::string(error.what()).find("'flash': plain, fused or tensor_core"), std::string::npos) << error.what();
  }
}

// model.attention = "auto". (A build without CUDA has no tensor-core kernels: fused everywhere.)
TEST(AttentionAlgorithm, AutomaticIsOnTensorCoresForBf16ProductsOnGpusThatHaveThem) {
  const AttentionAlgorithm tensor_cores =
      cuda::tensor_core_attention_supported(64) ? AttentionAlgorithm::kTensorCore : AttentionAlgorithm::kFused;
  EXPECT_EQ(automatic_attention(Device::kCuda, true, 9, 64), tensor_cores);
  EXPECT_EQ(automatic_attention(Device::kCuda, true, 8, 32), tensor_cores);
  EXPECT_EQ(automatic_attention(Device::kCuda, false, 9, 64), AttentionAlgorithm::kFused);  // fp32 or tf32 products
  EXPECT_EQ(automatic_attention(Device::kCuda, true, 7, 64), AttentionAlgorithm::kFused);   // no bf16 tensor cores
  EXPECT_EQ(automatic_attention(Device::kCuda, true, 9, 48), AttentionAlgorithm::kFused);   // heads they lack
  EXPECT_EQ(automatic_attention(Device::kCpu, true, 9, 64), AttentionAlgorithm::kFused);
  for (AttentionAlgorithm a : {AttentionAlgorithm::kPlain, AttentionAlgorithm::kFused, AttentionAlgorithm::kTensorCore}) {
    EXPECT_EQ(attention_algorithm(attention_algorithm_name(a)), a);
  }
}

// Both libraries (runtime.cpu_blas), at 1 and 2 threads: close to the reference, and bitwise the
// same whatever the thread count (the larger cases are split into blocks of rows or of columns).
TEST_P(GemmTest, MatchesNaiveReferenceWithEitherLibraryAndAnyThreadCount) {
  GemmCase g = GetParam();
  std::vector<float> a = random_values(g.m * g.k, 1), b = random_values(g.k * g.n, 2);
  const std::vector<float> c0 = g.beta == 0.0f ? std::vector<float>(g.m * g.n, kNaN) : random_values(g.m * g.n, 3);
  std::vector<double> expected = reference_gemm(g.ta, g.tb, g.m, g.n, g.k, g.alpha, a, b, g.beta, c0);
  for (CpuBlas blas : {CpuBlas::kEigen, CpuBlas::kOpenBlas}) {
    set_cpu_blas(blas);
    std::vector<std::vector<float>> results;
    for (int threads : {1, 2}) {
      set_cpu_threads(threads);
      std::vector<float> c = c0;
      gemm(kCpu, g.ta ? Transpose::kYes : Transpose::kNo, g.tb ? Transpose::kYes : Transpose::kNo, g.m, g.n, g.k,
           g.alpha, a.data(), b.data(), g.beta, c.data());
      expect_close(c, expected, 1e-5);
      results.push_back(c);
    }
    EXPECT_EQ(results[0], results[1]) << cpu_blas_names()[static_cast<size_t>(blas)].first;
  }
  set_cpu_blas(CpuBlas::kEigen);
  set_cpu_threads(1);
}

INSTANTIATE_TEST_SUITE_P(AllTransposes, GemmTest,
                         ::testing::Values(GemmCase{false, false, 7, 5, 3, 1.0f, 0.0f},
                                           GemmCase{false, true, 33, 17, 65, 1.0f, 0.0f},
                                           GemmCase{true, false, 16, 31, 9, 0.5f, 1.0f},
                                           GemmCase{true, true, 5, 64, 130, 2.0f, 0.25f},
                                           GemmCase{false, false, 128, 96, 200, 1.0f, 1.0f},
                                           GemmCase{false, false, 1, 1, 1, 1.0f, 0.0f},
                                           GemmCase{false, true, 300, 40, 50, 1.0f, 0.0f},    // blocks of rows
                                           GemmCase{true, false, 270, 60, 40, 0.5f, 1.0f},    // of rows, A transposed
                                           GemmCase{true, false, 40, 300, 70, 1.0f, 0.5f},    // of columns
                                           GemmCase{false, true, 50, 290, 30, 1.0f, 0.0f},    // of columns, B transposed
                                           GemmCase{true, true, 260, 150, 20, 2.0f, 0.25f},
                                           GemmCase{false, false, 4, 3, 0, 1.0f, 0.5f}));      // no depth: C scaled

TEST(Linear, ForwardAndGradientsMatchReference) {
  const int64_t rows = 9, in = 13, out = 6;
  std::vector<float> x = random_values(rows * in, 4), w = random_values(out * in, 5), bias = random_values(out, 6);
  std::vector<float> dy = random_values(rows * out, 7);

  std::vector<float> y(rows * out, kNaN);
  linear_forward(kCpu, x.data(), w.data(), bias.data(), rows, in, out, y.data());
  std::vector<double> y_ref(rows * out);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t o = 0; o < out; ++o) {
      double sum = bias[o];
      for (int64_t i = 0; i < in; ++i) sum += static_cast<double>(x[r * in + i]) * w[o * in + i];
      y_ref[r * out + o] = sum;
    }
  expect_close(y, y_ref, 1e-5);

  std::vector<float> dx(rows * in, kNaN);
  linear_backward_input(kCpu, dy.data(), w.data(), rows, in, out, dx.data());
  std::vector<double> dx_ref(rows * in, 0.0);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t i = 0; i < in; ++i)
      for (int64_t o = 0; o < out; ++o) dx_ref[r * in + i] += static_cast<double>(dy[r * out + o]) * w[o * in + i];
  expect_close(dx, dx_ref, 1e-5);

  // beta = 0 overwrites (poisoned), beta = 1 accumulates onto what is there.
  for (float beta : {0.0f, 1.0f}) {
    std::vector<float> dw = beta == 0.0f ? std::vector<float>(out * in, kNaN) : random_values(out * in, 8);
    std::vector<float> db = beta == 0.0f ? std::vector<float>(out, kNaN) : random_values(out, 9);
    std::vector<double> dw_ref(out * in), db_ref(out);
    for (int64_t o = 0; o < out; ++o) {
      db_ref[o] = beta == 0.0f ? 0.0 : db[o];
      for (int64_t r = 0; r < rows; ++r) db_ref[o] += dy[r * out + o];
      for (int64_t i = 0; i < in; ++i) {
        dw_ref[o * in + i] = beta == 0.0f ? 0.0 : dw[o * in + i];
        for (int64_t r = 0; r < rows; ++r) dw_ref[o * in + i] += static_cast<double>(dy[r * out + o]) * x[r * in + i];
      }
    }
    linear_backward_params(kCpu, dy.data(), x.data(), rows, in, out, beta, dw.data(), db.data());
    expect_close(dw, dw_ref, 1e-5);
    expect_close(db, db_ref, 1e-5);
  }
}

TEST(Relu, ForwardAndBackward) {
  std::vector<float> x = random_values(1000, 10), dy = random_values(1000, 11);
  std::vector<float> y(1000, kNaN), dx(1000, kNaN);
  relu_forward(kCpu, x.data(), y.data(), 1000);
  relu_backward(kCpu, y.data(), dy.data(), dx.data(), 1000);
  for (size_t i = 0; i < x.size(); ++i) {
    ASSERT_EQ(y[i], x[i] > 0 ? x[i] : 0.0f);
    ASSERT_EQ(dx[i], x[i] > 0 ? dy[i] : 0.0f);
  }
}

TEST(SoftmaxCrossEntropy, LossAndGradientMatchReference) {
  const int64_t rows = 17, classes = 10;
  std::vector<float> logits = random_values(rows * classes, 12, -8.0f, 8.0f);
  Rng rng(13);
  std::vector<int32_t> labels(rows);
  for (int32_t& label : labels) label = static_cast<int32_t>(rng.below(classes));
  const float scale = 1.0f / rows;

  std::vector<float> grad(rows * classes, kNaN);
  double loss = 0.25;  // the kernel adds to it
  softmax_cross_entropy(kCpu, logits.data(), labels.data(), rows, classes, scale, grad.data(), &loss);

  double loss_ref = 0.25;
  std::vector<double> grad_ref(rows * classes);
  for (int64_t r = 0; r < rows; ++r) {
    double sum = 0;
    for (int64_t c = 0; c < classes; ++c) sum += std::exp(static_cast<double>(logits[r * classes + c]));
    loss_ref += std::log(sum) - logits[r * classes + labels[r]];
    for (int64_t c = 0; c < classes; ++c) {
      grad_ref[r * classes + c] =
          (std::exp(static_cast<double>(logits[r * classes + c])) / sum - (c == labels[r] ? 1.0 : 0.0)) * scale;
    }
  }
  EXPECT_NEAR(loss, loss_ref, 1e-9 * std::abs(loss_ref));
  expect_close(grad, grad_ref, 1e-6);

  // Written to bf16: the same loss, the gradient rounded to nearest even.
  std::vector<bfloat16> grad_bf16(rows * classes, bfloat16{0xffff});
  double loss_bf16 = 0.25;
  softmax_cross_entropy_bf16_gradient(kCpu, logits.data(), labels.data(), rows, classes, scale, grad_bf16.data(),
                                      &loss_bf16);
  EXPECT_EQ(loss_bf16, loss);
  for (size_t i = 0; i < grad.size(); ++i) ASSERT_EQ(grad_bf16[i].bits, to_bfloat16(grad[i]).bits) << i;
}

TEST(SoftmaxCrossEntropy, StableForHugeLogitsAndWithoutGradient) {
  std::vector<float> logits{1000.0f, -1000.0f, 0.0f};
  std::vector<int32_t> labels{0};
  double loss = 0;
  softmax_cross_entropy(kCpu, logits.data(), labels.data(), 1, 3, 1.0f, nullptr, &loss);
  EXPECT_TRUE(std::isfinite(loss));
  EXPECT_NEAR(loss, 0.0, 1e-12);
}

TEST(SoftmaxCrossEntropy, LabelOutsideTheClassesIsAnError) {
  std::vector<float> logits(6, 0.0f);
  std::vector<int32_t> labels{1, 3};
  double loss = 0;
  EXPECT_THROW(softmax_cross_entropy(kCpu, logits.data(), labels.data(), 2, 3, 1.0f, nullptr, &loss), Error);
}

TEST(SquaredError, SumsErrorTargetsAndSquaresAndWritesTheGradient) {
  const std::vector<float> outputs{1.0f, -2.0f, 0.5f}, targets{2.0f, -2.0f, -1.0f};
  std::vector<float> grad(3, NAN);
  double sums[3] = {1.0, 0.0, 0.0};  // the kernel adds to them
  squared_error(kCpu, outputs.data(), targets.data(), 3, 0.25f, grad.data(), sums);
  EXPECT_DOUBLE_EQ(sums[0], 1.0 + 1.0 + 0.0 + 2.25);
  EXPECT_DOUBLE_EQ(sums[1], -1.0);
  EXPECT_DOUBLE_EQ(sums[2], 4.0 + 4.0 + 1.0);
  EXPECT_EQ(grad, (std::vector<float>{-0.5f, 0.0f, 0.75f}));  // 2 (output - target) / 4
  // Against a finite difference of the summed loss, at grad_scale 1.
  const float step = 1e-2f;
  std::vector<float> moved = outputs;
  moved[2] += step;
  double up[3] = {0, 0, 0}, base[3] = {0, 0, 0};
  squared_error(kCpu, moved.data(), targets.data(), 3, 1.0f, nullptr, up);
  squared_error(kCpu, outputs.data(), targets.data(), 3, 1.0f, grad.data(), base);
  EXPECT_NEAR((up[0] - base[0]) / step, grad[2], 2e-2);
}

// runtime.cpu_blas = "auto" measures the model's own products: each distinct shape recorded once
// while a sink is set, none after; timing a library leaves the chosen one in place.
TEST(CpuBlasChoice, ShapesAreRecordedOnceAndTimingRestoresTheLibrary) {
  std::vector<float> a(6 * 4, 1.0f), b(4 * 5, 1.0f), c(6 * 5);
  std::vector<GemmShape> shapes;
  record_cpu_gemm_shapes(&shapes);
  for (int i = 0; i < 2; ++i) gemm(kCpu, Transpose::kNo, Transpose::kNo, 6, 5, 4, 1.0f, a.data(), b.data(), 0.0f, c.data());
  gemm(kCpu, Transpose::kYes, Transpose::kNo, 4, 5, 6, 1.0f, a.data(), c.data(), 0.0f, b.data());
  record_cpu_gemm_shapes(nullptr);
  gemm(kCpu, Transpose::kNo, Transpose::kYes, 6, 4, 5, 1.0f, c.data(), b.data(), 0.0f, a.data());
  ASSERT_EQ(shapes.size(), 2u);
  EXPECT_TRUE((shapes[0] == GemmShape{false, false, 6, 5, 4}));
  EXPECT_TRUE((shapes[1] == GemmShape{true, false, 4, 5, 6}));
  EXPECT_EQ(c[0], 4.0f);
  set_cpu_blas(CpuBlas::kEigen);
  EXPECT_GT(time_cpu_gemms(CpuBlas::kOpenBlas, shapes, 3), 0.0);
  EXPECT_EQ(cpu_blas_description(), "Eigen");
  EXPECT_GT(time_cpu_gemms(CpuBlas::kEigen, shapes, 3), 0.0);
}

TEST(CountCorrect, CountsArgmaxHitsWithFirstMaximumWinning) {
  std::vector<float> logits{0.1f, 0.9f, 0.0f,   // argmax 1
                            2.0f, 2.0f, 1.0f,   // tie: first (0) wins
                            -1.f, -2.f, -0.5f,  // argmax 2
                            0.3f, 0.2f, 0.1f};  // argmax 0
  std::vector<int32_t> labels{1, 1, 2, 2};
  int64_t correct = 5;  // the kernel adds to it
  count_correct(kCpu, logits.data(), labels.data(), 4, 3, &correct);
  EXPECT_EQ(correct, 5 + 2);
}

TEST(SgdMomentum, MatchesPyTorchFormulaOverSeveralSteps) {
  const int64_t n = 257;
  std::vector<float> params = random_values(n, 14), velocity(n, 0.0f);
  std::vector<double> p_ref(params.begin(), params.end()), v_ref(n, 0.0);
  const float lr = 0.1f, momentum = 0.9f, wd = 0.01f;
  for (int step = 0; step < 3; ++step) {
    std::vector<float> grads = random_values(n, 100 + step);
    sgd_momentum(kCpu, params.data(), grads.data(), velocity.data(), n, lr, momentum, wd);
    for (int64_t i = 0; i < n; ++i) {
      double g = grads[i] + wd * p_ref[i];
      v_ref[i] = momentum * v_ref[i] + g;
      p_ref[i] -= lr * v_ref[i];
    }
  }
  expect_close(params, p_ref, 1e-6);
  expect_close(velocity, v_ref, 1e-6);
}

TEST(AdamW, MatchesPyTorchFormulaOverSeveralSteps) {
  const int64_t n = 1031;
  std::vector<float> params = random_values(n, 15), m(n, 0.0f), v(n, 0.0f);
  std::vector<double> p_ref(params.begin(), params.end()), m_ref(n, 0.0), v_ref(n, 0.0);
  const float lr = 0.01f, beta1 = 0.9f, beta2 = 0.999f, eps = 1e-8f, wd = 0.1f;
  for (int step = 1; step <= 4; ++step) {
    std::vector<float> grads = random_values(n, 200 + step);
    adamw(kCpu, params.data(), grads.data(), m.data(), v.data(), n, lr, beta1, beta2, eps, wd, step);
    for (int64_t i = 0; i < n; ++i) {
      p_ref[i] *= 1.0 - lr * wd;
      m_ref[i] = beta1 * m_ref[i] + (1 - beta1) * grads[i];
      v_ref[i] = beta2 * v_ref[i] + (1 - beta2) * static_cast<double>(grads[i]) * grads[i];
      double m_hat = m_ref[i] / (1 - std::pow(beta1, step)), v_hat = v_ref[i] / (1 - std::pow(beta2, step));
      p_ref[i] -= lr * m_hat / (std::sqrt(v_hat) + eps);
    }
  }
  expect_close(params, p_ref, 1e-5);
  expect_close(m, m_ref, 1e-6);
  expect_close(v, v_ref, 1e-6);
}

TEST(SumOfSquares, MatchesDoubleReferenceAndDoesNotDependOnTheThreadCount) {
  const int64_t n = 300'007;  // several fixed chunks, the last one short
  std::vector<float> values = random_values(n, 16);
  double expected = 0;
  for (float x : values) expected += static_cast<double>(x) * x;
  set_cpu_threads(1);
  const double one = sum_of_squares(kCpu, values.data(), n);
  set_cpu_threads(2);
  const double two = sum_of_squares(kCpu, values.data(), n);
  EXPECT_NEAR(one, expected, 1e-9 * expected);
  EXPECT_EQ(one, two) << "every rank must get bitwise the same norm, whatever its thread count";
  scale(kCpu, values.data(), n, 0.5f);
  EXPECT_NEAR(sum_of_squares(kCpu, values.data(), n), 0.25 * expected, 1e-9 * expected);
}

// The whole convolution (conv2d_forward / conv2d_backward: a few samples at a time, columns
// recomputed in backward) against a direct double-precision convolution, on batches that the CPU
// cuts into several tiles, the last one short; and bitwise the same with 1 and 2 threads.
struct ConvCase {
  ConvGeometry g;
  int64_t out_channels, rows;
};

class Conv2dTest : public ::testing::TestWithParam<ConvCase> {};

TEST_P(Conv2dTest, TiledConvolutionMatchesADirectOneAndTheThreadCountDoesNotMatter) {
  const auto [g, out_channels, rows] = GetParam();
  ASSERT_GT((rows + cpu::conv_tile_samples(g, rows) - 1) / cpu::conv_tile_samples(g, rows), 2) << "not tiled";
  const int64_t oh_n = g.out_height(), ow_n = g.out_width(), plane = oh_n * ow_n;
  const int64_t in = g.channels * g.height * g.width;
  const std::vector<float> x = random_values(rows * in, 31), w = random_values(out_channels * g.patch(), 32);
  const std::vector<float> b = random_values(out_channels, 33), dy = random_values(out_channels * rows * plane, 34);
  // x's element (n, c, h, w) in the geometry's layout.
  auto at = [&](int64_t n, int64_t c, int64_t h, int64_t w_) {
    return (g.channel_major ? c * rows + n : n * g.channels + c) * g.height * g.width + h * g.width + w_;
  };
  std::vector<double> y_ref(dy.size()), dw_ref(w.size()), db_ref(b.size()), dx_ref(x.size());
  for (int64_t o = 0; o < out_channels; ++o)
    for (int64_t n = 0; n < rows; ++n)
      for (int64_t oh = 0; oh < oh_n; ++oh)
        for (int64_t ow = 0; ow < ow_n; ++ow) {
          const int64_t out = (o * rows + n) * plane + oh * ow_n + ow;  // channel-major output
          double sum = b[o];
          db_ref[o] += dy[out];
          for (int64_t c = 0; c < g.channels; ++c)
            for (int64_t kh = 0; kh < g.kernel; ++kh)
              for (int64_t kw = 0; kw < g.kernel; ++kw) {
                const int64_t h = oh * g.stride - g.padding + kh, w_ = ow * g.stride - g.padding + kw;
                if (h < 0 || h >= g.height || w_ < 0 || w_ >= g.width) continue;
                const int64_t wi = o * g.patch() + (c * g.kernel + kh) * g.kernel + kw;
                sum += static_cast<double>(w[wi]) * x[at(n, c, h, w_)];
                dw_ref[wi] += static_cast<double>(dy[out]) * x[at(n, c, h, w_)];
                dx_ref[at(n, c, h, w_)] += static_cast<double>(dy[out]) * w[wi];
              }
          y_ref[out] = sum;
        }

  struct Results {
    std::vector<float> y, dw, db, dx;
  };
  auto run = [&](int threads) {
    set_cpu_threads(threads);
    Results r{std::vector<float>(y_ref.size(), kNaN), std::vector<float>(w.size(), kNaN),
              std::vector<float>(b.size(), kNaN), std::vector<float>(x.size(), kNaN)};
    conv2d_forward(kCpu, g, x.data(), rows, w.data(), b.data(), out_channels, r.y.data(), nullptr);
    conv2d_backward(kCpu, g, x.data(), rows, w.data(), out_channels, dy.data(), 0.0f, r.dw.data(), r.db.data(),
                    r.dx.data(), nullptr);
    return r;
  };
  const Results one = run(1), two = run(2);
  expect_close(two.y, y_ref, 1e-5);
  expect_close(two.dw, dw_ref, 1e-4);
  expect_close(two.db, db_ref, 1e-4);
  expect_close(two.dx, dx_ref, 1e-5);
  EXPECT_EQ(one.y, two.y);
  EXPECT_EQ(one.dw, two.dw) << "ranks with different thread counts must get bitwise the same gradients";
  EXPECT_EQ(one.db, two.db);
  EXPECT_EQ(one.dx, two.dx);

  // Accumulating adds to what is there; without dx the parameter gradients are the same.
  std::vector<float> dw = one.dw, db = one.db;
  conv2d_backward(kCpu, g, x.data(), rows, w.data(), out_channels, dy.data(), 1.0f, dw.data(), db.data(), nullptr,
                  nullptr);
  std::vector<double> twice_dw(dw_ref.size()), twice_db(db_ref.size());
  for (size_t i = 0; i < dw_ref.size(); ++i) twice_dw[i] = 2 * dw_ref[i];
  for (size_t i = 0; i < db_ref.size(); ++i) twice_db[i] = 2 * db_ref[i];
  expect_close(dw, twice_dw, 2e-4);
  expect_close(db, twice_db, 2e-4);
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, Conv2dTest,
    ::testing::Values(ConvCase{{32, 14, 14, 3, 1, 1, true}, 16, 7},   // the CNN's second: tiles of 2, 2, 2, 1
                      ConvCase{{32, 14, 14, 3, 1, 1, true}, 8, 37},   // 19 tiles in 16 groups
                      ConvCase{{8, 16, 16, 5, 1, 2, true}, 6, 7},     // "same" 5x5
                      ConvCase{{1, 28, 28, 3, 1, 1, false}, 8, 41},   // the CNN's first, sample-major
                      ConvCase{{16, 30, 30, 3, 2, 1, false}, 5, 9},   // stride 2: the general path
                      ConvCase{{24, 17, 13, 2, 1, 0, true}, 4, 17}));  // even kernel, no padding

// 2x2 max pooling against a scalar reference with its exact rules (the first maximum wins, a NaN
// never beats a number but a leading NaN stays), on rows of several vector widths and odd sizes.
TEST(MaxPool, TwoByTwoPicksTheFirstMaximumAndItsIndex) {
  for (const auto& [height, width] : {std::pair<int64_t, int64_t>{28, 28}, {14, 14}, {6, 70}, {5, 67}, {3, 33}}) {
    const int64_t rows = 3, channels = 2, oh_n = height / 2, ow_n = width / 2;
    std::vector<float> x = random_values(rows * channels * height * width, 41, 0.0f, 4.0f);
    for (float& v : x) v = std::floor(v);  // four values: many ties
    for (size_t i = 5; i < x.size(); i += 37) x[i] = kNaN;
    std::vector<float> y(rows * channels * oh_n * ow_n, kNaN);
    std::vector<int32_t> argmax(y.size(), -1);
    max_pool_forward(kCpu, x.data(), rows, channels, height, width, 2, y.data(), argmax.data());
    for (int64_t p = 0; p < rows * channels; ++p)
      for (int64_t oh = 0; oh < oh_n; ++oh)
        for (int64_t ow = 0; ow < ow_n; ++ow) {
          const float* plane = x.data() + p * height * width;
          int32_t best = static_cast<int32_t>(2 * oh * width + 2 * ow);
          for (const int64_t at : {best + int64_t{1}, best + width, best + width + 1}) {
            if (plane[at] > plane[best]) best = static_cast<int32_t>(at);
          }
          const size_t o = static_cast<size_t>((p * oh_n + oh) * ow_n + ow);
          ASSERT_EQ(argmax[o], best) << height << "x" << width << " output " << o;
          if (std::isnan(plane[best])) {
            ASSERT_TRUE(std::isnan(y[o]));
          } else {
            ASSERT_EQ(y[o], plane[best]);
          }
        }
    // Backward: each output's gradient at its index, zero elsewhere (dropped edges included).
    std::vector<float> dy = random_values(y.size(), 42), dx(x.size(), kNaN);
    max_pool_backward(kCpu, dy.data(), argmax.data(), rows, channels, height, width, 2, dx.data());
    std::vector<float> expected(x.size(), 0.0f);
    for (int64_t p = 0; p < rows * channels; ++p)
      for (int64_t o = 0; o < oh_n * ow_n; ++o) expected[p * height * width + argmax[p * oh_n * ow_n + o]] = dy[p * oh_n * ow_n + o];
    ASSERT_EQ(dx, expected) << height << "x" << width;
  }
}

TEST(Dispatch, CudaWithoutADeviceIsAClearError) {
  if (cuda::device_count() > 0) GTEST_SKIP() << "a GPU is present: tests/kernels/cuda_kernels_test.cpp covers it";
  // No GPU (or no CUDA in the build): asking for device memory fails with an error, not a crash.
  EXPECT_THROW(cuda::allocate(1024), Error);
}

}  // namespace
}  // namespace rt::kernels
