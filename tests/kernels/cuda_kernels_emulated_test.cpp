// The CUDA kernels of the *_kernels.cuh headers, launched by their own launchers (the same code the
// library runs on a GPU: which kernels, which grid, float4 or one at a time), run on the CPU under
// the host emulation of cuda_emulation.h, against the CPU kernels, with the bounds of the GPU
// tests (cuda_kernels_test.cpp). Every machine runs these; the GPU tests add the hardware.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <vector>

#include "tests/kernels/cuda_emulation.h"
// The kernels and their launchers, compiled for the emulation:
#include "kernels/cuda/conv_kernels.cuh"
#include "kernels/cuda/elementwise_kernels.cuh"
#include "kernels/cuda/embedding_kernels.cuh"
#include "kernels/cuda/loss_kernels.cuh"
#include "kernels/cuda/matmul_kernels.cuh"
#include "kernels/cuda/normalization_kernels.cuh"
#include "kernels/cuda/optimizer_kernels.cuh"
#include "kernels/cuda/pooling_kernels.cuh"
#include "core/base/half.h"
#include "core/base/random.h"
#include "kernels/cpu/cpu_kernels.h"
#include "tests/kernels/loss_cases.h"
#include "tests/kernels/expect_close.h"

namespace rt::kernels {
namespace {

namespace emulation = rt::testing::cuda_emulation;
namespace gpu = emulated_cuda;

class EmulatedCudaKernels : public ::testing::Test {
 protected:
  std::vector<float> random(size_t count, float low = -1.0f, float high = 1.0f) {
    std::vector<float> values(count);
    for (float& v : values) v = rng_.uniform(low, high);
    return values;
  }
  emulation::Launch launch_;
  Rng rng_{29};
};

// 1003 elements: 250 float4s and a tail of 3; one float further on, nothing aligned: one at a time.
TEST_F(EmulatedCudaKernels, AddAlignedOrNot) {
  const int64_t n = 1003;
  const std::vector<float> a = random(n + 1), b = random(n + 1);
  for (int64_t shift : {0, 1}) {
    std::vector<float> y(n + 1, NAN);
    gpu::launch_add(launch_, a.data() + shift, b.data() + shift, y.data() + shift, n);
    for (int64_t i = shift; i < n + shift; ++i) ASSERT_EQ(y[i], a[i] + b[i]) << "element " << i;
  }
}

// A bf16 b (a branch's bf16 output added to the fp32 residual stream): the sum of its exact values,
// four at a time (b read as 8-byte words) and, shifted by one, one at a time.
TEST_F(EmulatedCudaKernels, AddABf16Operand) {
  const int64_t n = 1003;
  const std::vector<float> a = random(n + 1), b = random(n + 1, -10.0f, 10.0f);
  std::vector<__nv_bfloat16> b16(n + 1);
  for (int64_t i = 0; i <= n; ++i) b16[i] = __float2bfloat16_rn(b[i]);
  for (int64_t shift : {0, 1}) {
    std::vector<float> y(n + 1, NAN);
    gpu::launch_add(launch_, a.data() + shift, b16.data() + shift, y.data() + shift, n);
    for (int64_t i = shift; i < n + shift; ++i) {
      ASSERT_EQ(y[i], a[i] + static_cast<float>(b16[i])) << "element " << i;
    }
  }
}

// ReLU both ways, stored bytes to floats, dropout (the CPU's mask for the same key), and three SGD
// steps with momentum, then one the skip flag stops: over 1003 elements, several blocks.
TEST_F(EmulatedCudaKernels, ReluBytesDropoutAndSgd) {
  const int64_t n = 1003;
  const std::vector<float> x = random(n), dy = random(n);
  std::vector<float> y(n), dx(n), got_y(n, NAN), got_dx(n, NAN);
  cpu::relu_forward(x.data(), y.data(), n);
  cpu::relu_backward(y.data(), dy.data(), dx.data(), n);
  gpu::launch_relu_forward(launch_, x.data(), got_y.data(), n);
  gpu::launch_relu_backward(launch_, y.data(), dy.data(), got_dx.data(), n);
  EXPECT_EQ(got_y, y);
  EXPECT_EQ(got_dx, dx);

  std::vector<uint8_t> bytes(n);
  for (uint8_t& b : bytes) b = static_cast<uint8_t>(rng_.below(256));
  std::vector<float> floats(n), got_floats(n, NAN);
  cpu::bytes_to_float(bytes.data(), floats.data(), n, 1.0f / 255);
  gpu::launch_bytes_to_float(launch_, bytes.data(), got_floats.data(), n, 1.0f / 255);
  EXPECT_EQ(got_floats, floats);

  std::vector<float> dropped(n), got_dropped(n, NAN);
  cpu::dropout(x.data(), dropped.data(), n, 0.3f, 77);
  gpu::launch_dropout(launch_, x.data(), got_dropped.data(), n, 0.3f, 77);
  EXPECT_EQ(got_dropped, dropped);

  std::vector<float> params = random(n), velocity(n, 0.0f);
  std::vector<float> got_params = params, got_velocity = velocity;
  for (int step = 0; step < 3; ++step) {
    const std::vector<float> grads = random(n);
    cpu::sgd_momentum(params.data(), grads.data(), velocity.data(), n, 0.05f, 0.9f, 1e-4f);
    gpu::launch_sgd_momentum(launch_, got_params.data(), grads.data(), got_velocity.data(), n, 0.05f, 0.9f, 1e-4f,
                             nullptr);
  }
  expect_close(got_params, params, 1e-6);
  expect_close(got_velocity, velocity, 1e-6);
  const std::vector<float> before = got_params;
  const uint32_t skip = 1;
  gpu::launch_sgd_momentum(launch_, got_params.data(), random(n).data(), got_velocity.data(), n, 0.05f, 0.9f, 1e-4f,
                           &skip);
  EXPECT_EQ(got_params, before) << "a skipped step must change nothing";
}

// Each value of a bf16 output equals the fp32 output rounded to bf16 (to nearest even), bit for bit.
void expect_rounded(const __nv_bfloat16* got, const float* fp32, int64_t count) {
  for (int64_t i = 0; i < count; ++i) ASSERT_EQ(got[i].bits, to_bfloat16(fp32[i]).bits) << "element " << i;
}

// 37 x 301: GELU four at a time and a tail of one; shifted by a float, all one at a time. Stored
// in bf16, the fp32 results rounded.
TEST_F(EmulatedCudaKernels, GeluForwardAndBackward) {
  const int64_t n = 37 * 301;
  const std::vector<float> x = random(n + 1, -3.0f, 3.0f), dy = random(n + 1);
  std::vector<float> y(n + 1), dx(n + 1);
  cpu::gelu_forward(x.data(), y.data(), n + 1);
  cpu::gelu_backward(x.data(), dy.data(), dx.data(), n + 1);
  for (int64_t shift : {0, 1}) {
    std::vector<float> got_y(n + 1, NAN), got_dx(n + 1, NAN);
    gpu::launch_gelu_forward(launch_, x.data() + shift, got_y.data() + shift, n);
    gpu::launch_gelu_backward(launch_, x.data() + shift, dy.data() + shift, got_dx.data() + shift, n);
    expect_close(std::vector<float>(got_y.begin() + shift, got_y.begin() + shift + n),
                 std::vector<float>(y.begin() + shift, y.begin() + shift + n), 1e-5);
    expect_close(std::vector<float>(got_dx.begin() + shift, got_dx.begin() + shift + n),
                 std::vector<float>(dx.begin() + shift, dx.begin() + shift + n), 1e-5);
    std::vector<__nv_bfloat16> got_bf16(n + 1, __nv_bfloat16{0xffff});
    gpu::launch_gelu_forward(launch_, x.data() + shift, got_bf16.data() + shift, n);
    expect_rounded(got_bf16.data() + shift, got_y.data() + shift, n);
  }
}

// A bf16 input (a GPT's bf16 activations), read four at a time from 8-byte words and, shifted by
// one value, one at a time: forward to bf16 and to fp32, and backward to fp32 and to bf16 (its
// gradient rounded), each bit for bit what the kernels compute from the input's exact fp32 values.
TEST_F(EmulatedCudaKernels, GeluReadsABf16InputAsItsExactValues) {
  const int64_t n = 37 * 301;
  std::vector<float> x = random(n + 1, -3.0f, 3.0f);
  const std::vector<float> dy = random(n + 1);
  std::vector<__nv_bfloat16> x16(n + 1);
  for (int64_t i = 0; i <= n; ++i) {
    x16[i] = __float2bfloat16_rn(x[i]);
    x[i] = static_cast<float>(x16[i]);
  }
  for (int64_t shift : {0, 1}) {
    SCOPED_TRACE(shift);
    std::vector<float> y32(n + 1, NAN), y_from_bf16(n + 1, NAN), dx32(n + 1, NAN), dx(n + 1, NAN);
    std::vector<__nv_bfloat16> y16(n + 1, __nv_bfloat16{0xffff});
    gpu::launch_gelu_forward(launch_, x.data() + shift, y32.data() + shift, n);
    gpu::launch_gelu_forward(launch_, x16.data() + shift, y16.data() + shift, n);
    gpu::launch_gelu_forward(launch_, x16.data() + shift, y_from_bf16.data() + shift, n);
    gpu::launch_gelu_backward(launch_, x.data() + shift, dy.data() + shift, dx32.data() + shift, n);
    gpu::launch_gelu_backward(launch_, x16.data() + shift, dy.data() + shift, dx.data() + shift, n);
    expect_rounded(y16.data() + shift, y32.data() + shift, n);
    std::vector<__nv_bfloat16> dx16(n + 1, __nv_bfloat16{0xffff});
    gpu::launch_gelu_backward(launch_, x16.data() + shift, dy.data() + shift, dx16.data() + shift, n);
    expect_rounded(dx16.data() + shift, dx32.data() + shift, n);
    for (int64_t i = shift; i < n + shift; ++i) {
      ASSERT_EQ(y_from_bf16[i], y32[i]) << "fp32 output, element " << i;
      ASSERT_EQ(dx[i], dx32[i]) << "input gradient, element " << i;
    }
  }
}

// A warp per row, 8 rows a block: 37 rows leave the last block's warps partly idle; 301 and 768
// features (a lane's share uneven, and GPT-2's width). Stored in bf16, the fp32 results rounded.
TEST_F(EmulatedCudaKernels, LayerNormForwardAndInputGradient) {
  for (const int64_t features : {int64_t{301}, int64_t{768}}) {
    const int64_t rows = 37;
    const std::vector<float> x = random(rows * features, -3.0f, 3.0f), dy = random(rows * features);
    const std::vector<float> gamma = random(features, 0.5f, 1.5f), beta = random(features);
    std::vector<float> y(rows * features), mean(rows), rstd(rows), dx(rows * features);
    std::vector<float> dgamma(features), dbeta(features);
    cpu::layer_norm_forward(x.data(), gamma.data(), beta.data(), rows, features, 1e-5f, y.data(), mean.data(),
                            rstd.data());
    cpu::layer_norm_backward(dy.data(), x.data(), gamma.data(), mean.data(), rstd.data(), rows, features, 0.0f,
                             dx.data(), dgamma.data(), dbeta.data());
    std::vector<float> got_y(rows * features, NAN), got_mean(rows, NAN), got_rstd(rows, NAN);
    std::vector<float> got_dx(rows * features, NAN);
    gpu::launch_layer_norm_forward(launch_, x.data(), gamma.data(), beta.data(), rows, features, 1e-5f, got_y.data(),
                                   got_mean.data(), got_rstd.data());
    expect_close(got_y, y, 1e-5);
    expect_close(got_mean, mean, 1e-6);
    expect_close(got_rstd, rstd, 1e-6);
    std::vector<__nv_bfloat16> got_bf16(rows * features, __nv_bfloat16{0xffff});
    gpu::launch_layer_norm_forward(launch_, x.data(), gamma.data(), beta.data(), rows, features, 1e-5f,
                                   got_bf16.data(), got_mean.data(), got_rstd.data());
    expect_rounded(got_bf16.data(), got_y.data(), rows * features);
    gpu::launch_layer_norm_input_grad(launch_, dy.data(), x.data(), gamma.data(), mean.data(), rstd.data(), rows,
                                      features, got_dx.data());
    expect_close(got_dx, dx, 1e-5);
  }
}

// Cross-entropy's one-pass maximum and sum, over a small and GPT-2's vocabulary; the gradient
// written over the logits too, and to bf16 (the fp32 gradient rounded).
TEST_F(EmulatedCudaKernels, SoftmaxCrossEntropyAndAccuracy) {
  for (const int64_t classes : {int64_t{10}, int64_t{50304}}) {
    const int64_t rows = 9;
    const CrossEntropyCase c = cross_entropy_case(rng_, rows, classes, 0.5f);
    std::vector<float> got(rows * classes, NAN);
    double loss = 0;
    gpu::launch_softmax_cross_entropy(launch_, c.logits.data(), c.labels.data(), rows, classes, 0.5f, got.data(),
                                      &loss);
    expect_close(got, c.grad, 1e-5);
    EXPECT_NEAR(loss, c.loss, 1e-9 * std::abs(c.loss));
    std::vector<__nv_bfloat16> got_bf16(rows * classes, __nv_bfloat16{0xffff});
    double bf16_loss = 0;
    gpu::launch_softmax_cross_entropy(launch_, c.logits.data(), c.labels.data(), rows, classes, 0.5f,
                                      got_bf16.data(), &bf16_loss);
    expect_rounded(got_bf16.data(), got.data(), rows * classes);
    EXPECT_EQ(bf16_loss, loss);
    std::vector<float> in_place = c.logits;
    double in_place_loss = 0;
    gpu::launch_softmax_cross_entropy(launch_, in_place.data(), c.labels.data(), rows, classes, 0.5f, in_place.data(),
                                      &in_place_loss);
    expect_close(in_place, c.grad, 1e-5);
    unsigned long long correct = 0;
    gpu::launch_count_correct(launch_, c.logits.data(), c.labels.data(), rows, classes, &correct);
    EXPECT_EQ(static_cast<int64_t>(correct), c.correct);
  }
}

// A regression's squared error across several blocks (and a short last one): the CPU's gradient,
// and its sums within rounding (the blocks add in another order).
TEST_F(EmulatedCudaKernels, SquaredError) {
  const int64_t rows = 700;
  const SquaredErrorCase c = squared_error_case(rng_, rows, 0.125f);
  std::vector<float> got(rows, NAN);
  double got_sums[3] = {0, 0, 0};
  gpu::launch_squared_error(launch_, c.outputs.data(), c.targets.data(), rows, 0.125f, got.data(), got_sums);
  EXPECT_EQ(got, c.grad);
  for (int i = 0; i < 3; ++i) EXPECT_NEAR(got_sums[i], c.sums[i], 1e-9 * (1 + std::abs(c.sums[i])));
}

// bf16 logits (a GPT's bf16 activations): the loss, the bf16 gradient written over them and the
// count of correct rows are bit for bit what the kernels give on the same values in fp32.
TEST_F(EmulatedCudaKernels, SoftmaxCrossEntropyOverBf16LogitsInPlace) {
  for (const int64_t classes : {int64_t{10}, int64_t{50304}}) {
    const int64_t rows = 9;
    CrossEntropyCase c = cross_entropy_case(rng_, rows, classes, 0.5f);
    std::vector<__nv_bfloat16> logits16(c.logits.size());
    for (size_t i = 0; i < c.logits.size(); ++i) {
      logits16[i] = __float2bfloat16_rn(c.logits[i]);
      c.logits[i] = static_cast<float>(logits16[i]);
    }
    std::vector<__nv_bfloat16> expected(c.logits.size(), __nv_bfloat16{0xffff});
    double loss = 0, loss16 = 0;
    gpu::launch_softmax_cross_entropy(launch_, c.logits.data(), c.labels.data(), rows, classes, 0.5f,
                                      expected.data(), &loss);
    unsigned long long correct = 0, correct16 = 0;
    gpu::launch_count_correct(launch_, c.logits.data(), c.labels.data(), rows, classes, &correct);
    gpu::launch_count_correct(launch_, logits16.data(), c.labels.data(), rows, classes, &correct16);
    gpu::launch_softmax_cross_entropy(launch_, logits16.data(), c.labels.data(), rows, classes, 0.5f,
                                      logits16.data(), &loss16);
    EXPECT_EQ(loss16, loss);
    EXPECT_EQ(correct16, correct);
    for (size_t i = 0; i < expected.size(); ++i) ASSERT_EQ(logits16[i].bits, expected[i].bits) << "element " << i;
  }
}

// 19 columns: an element a thread; 24: four columns a thread down the rows.
TEST_F(EmulatedCudaKernels, AddBias) {
  for (const int64_t cols : {int64_t{19}, int64_t{24}}) {
    const int64_t rows = 33;
    const std::vector<float> y = random(rows * cols), bias = random(cols);
    std::vector<float> got = y;
    gpu::launch_add_bias(launch_, got.data(), bias.data(), rows, cols);
    for (int64_t r = 0; r < rows; ++r) {
      for (int64_t c = 0; c < cols; ++c) ASSERT_EQ(got[r * cols + c], y[r * cols + c] + bias[c]) << r << ", " << c;
    }
  }
}

// A bf16 output's bias where cuBLASLt's epilogue cannot add it: the fp32 sum plus the bias, rounded
// once to nearest even.
TEST_F(EmulatedCudaKernels, AddBiasToBf16) {
  const int64_t rows = 33, cols = 19;
  const std::vector<float> sums = random(rows * cols, -10.0f, 10.0f), bias = random(cols);
  std::vector<__nv_bfloat16> got(rows * cols, __nv_bfloat16{0xffff});
  gpu::launch_add_bias_to_bf16(launch_, sums.data(), bias.data(), got.data(), rows, cols);
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t c = 0; c < cols; ++c) {
      ASSERT_EQ(got[r * cols + c].bits, to_bfloat16(sums[r * cols + c] + bias[c]).bits) << r << ", " << c;
    }
  }
}

// To nearest even, as the CPU's to_bfloat16: four at a time with a tail of 3, and shifted by a
// float, one at a time.
TEST_F(EmulatedCudaKernels, RoundToBf16) {
  const int64_t n = 1003;
  const std::vector<float> values = random(n + 1, -100.0f, 100.0f);
  for (int64_t shift : {0, 1}) {
    std::vector<__nv_bfloat16> got(n, __nv_bfloat16{0xffff});
    gpu::launch_round_to_bf16(launch_, values.data() + shift, got.data(), n);
    for (int64_t i = 0; i < n; ++i) ASSERT_EQ(got[i].bits, to_bfloat16(values[shift + i]).bits) << "element " << i;
  }
}

// Three AdamW steps over 10,003 parameters (40 blocks), a step the skip flag stops, the gradient
// norm's two passes (deterministic) and the scale.
TEST_F(EmulatedCudaKernels, AdamWTheGradientNormAndScale) {
  const int64_t n = 10'003;
  std::vector<float> params = random(n), m(n, 0.0f), v(n, 0.0f);
  std::vector<float> got = params, got_m = m, got_v = v;
  for (int step = 1; step <= 3; ++step) {
    const std::vector<float> grads = random(n);
    cpu::adamw(params.data(), grads.data(), m.data(), v.data(), n, 0.01f, 0.9f, 0.999f, 1e-8f, 0.1f, step);
    gpu::optimizer::launch_adamw(launch_, got.data(), grads.data(), got_m.data(), got_v.data(), n, 0.01f, 0.9f, 0.999f,
                                 1e-8f, 0.1f, step, nullptr);
  }
  expect_close(got, params, 1e-5);
  expect_close(got_m, m, 1e-6);
  expect_close(got_v, v, 1e-6);
  const std::vector<float> before = got;
  const uint32_t skip = 1;
  gpu::optimizer::launch_adamw(launch_, got.data(), random(n).data(), got_m.data(), got_v.data(), n, 0.01f, 0.9f,
                               0.999f, 1e-8f, 0.1f, 4, &skip);
  EXPECT_EQ(got, before) << "a skipped step must change nothing";

  std::vector<double> partial(gpu::optimizer::kNormBlocks, NAN);
  double first = NAN, second = NAN;
  gpu::optimizer::launch_sum_of_squares(launch_, got.data(), n, partial.data(), &first);
  gpu::optimizer::launch_sum_of_squares(launch_, got.data(), n, partial.data(), &second);
  const double expected = cpu::sum_of_squares(got.data(), n);
  EXPECT_NEAR(first, expected, 1e-12 * expected);
  EXPECT_EQ(first, second);
  std::vector<float> halved = got;
  cpu::scale(halved.data(), n, 0.5f);
  gpu::optimizer::launch_scale(launch_, got.data(), n, 0.5f);
  EXPECT_EQ(got, halved);
}

// Token and position embeddings forward (exact: a sum of two values), their gradients overwritten,
// scaled and accumulated, and the next-token targets.
TEST_F(EmulatedCudaKernels, EmbeddingsAndNextTokenTargets) {
  const int64_t rows = 3, T = 17, vocab = 50, C = 24;
  std::vector<float> tokens(rows * (T + 1));
  for (float& t : tokens) t = static_cast<float>(rng_.below(vocab));
  const std::vector<float> wte = random(vocab * C), wpe = random(T * C), dy = random(rows * T * C);
  std::vector<float> y(rows * T * C), got_y(rows * T * C, NAN);
  cpu::embedding_forward(tokens.data(), rows, T, vocab, C, wte.data(), wpe.data(), y.data());
  gpu::embedding::launch_forward(launch_, tokens.data(), rows, T, vocab, C, wte.data(), wpe.data(), got_y.data());
  EXPECT_EQ(got_y, y);
  for (float beta : {0.0f, 0.5f, 1.0f}) {
    const std::vector<float> dwte = random(vocab * C), dwpe = random(T * C);
    std::vector<float> expected_wte = dwte, expected_wpe = dwpe, got_wte = dwte, got_wpe = dwpe;
    if (beta == 0.0f) {
      got_wte.assign(got_wte.size(), NAN);
      got_wpe.assign(got_wpe.size(), NAN);
    }
    cpu::embedding_backward(tokens.data(), dy.data(), rows, T, vocab, C, beta, expected_wte.data(), beta,
                            expected_wpe.data());
    gpu::embedding::launch_backward(launch_, tokens.data(), dy.data(), rows, T, vocab, C, beta, got_wte.data(), beta,
                                    got_wpe.data());
    expect_close(got_wte, expected_wte, 1e-5);
    expect_close(got_wpe, expected_wpe, 1e-5);
  }
  std::vector<int32_t> targets(rows * T), got_targets(rows * T, -1);
  cpu::next_token_targets(tokens.data(), rows, T, targets.data());
  gpu::embedding::launch_next_token_targets(launch_, tokens.data(), rows, T, got_targets.data());
  EXPECT_EQ(got_targets, targets);
}

// 9 x 6 planes in 2 x 2 windows: the last row of a plane is in no window (its gradient is 0); the
// values 0, 1 and 2 only, so that windows hold ties, which the first maximum wins, as on the CPU.
TEST_F(EmulatedCudaKernels, MaxPooling) {
  const int64_t rows = 3, channels = 4, height = 9, width = 6, window = 2;
  const int64_t in = rows * channels * height * width, out = rows * channels * (height / 2) * (width / 2);
  std::vector<float> x(in);
  for (float& v : x) v = static_cast<float>(rng_.below(3));
  const std::vector<float> dy = random(out);
  std::vector<float> y(out), dx(in), got_y(out, NAN), got_dx(in, NAN);
  std::vector<int32_t> argmax(out), got_argmax(out, -1);
  cpu::max_pool_forward(x.data(), rows, channels, height, width, window, y.data(), argmax.data());
  cpu::max_pool_backward(dy.data(), argmax.data(), rows, channels, height, width, window, dx.data());
  gpu::pooling::launch_max_pool_forward(launch_, x.data(), rows, channels, height, width, window, got_y.data(),
                                        got_argmax.data());
  EXPECT_EQ(got_y, y);
  EXPECT_EQ(got_argmax, argmax);
  gpu::pooling::launch_max_pool_backward(launch_, dy.data(), argmax.data(), rows, channels, height, width, window,
                                         got_dx.data());
  EXPECT_EQ(got_dx, dx);
}

// im2col and col2im with and without padding, stride 1 and 2, both layouts; the axis swap and the
// per-channel bias and its gradient.
TEST_F(EmulatedCudaKernels, ConvolutionPieces) {
  for (const ConvGeometry g : {ConvGeometry{3, 11, 9, 3, 1, 1, false}, ConvGeometry{3, 11, 9, 3, 1, 1, true},
                               ConvGeometry{2, 8, 7, 4, 2, 1, true}, ConvGeometry{1, 5, 5, 2, 1, 0, false}}) {
    const int64_t rows = 3, out_channels = 5, plane = g.out_height() * g.out_width();
    const int64_t in = rows * g.channels * g.height * g.width, columns = g.patch() * rows * plane;
    const std::vector<float> x = random(in), cols_in = random(columns);
    std::vector<float> cols(columns), dx(in), got_cols(columns, NAN), got_dx(in, NAN);
    cpu::im2col(g, x.data(), rows, cols.data());
    cpu::col2im(g, cols_in.data(), rows, dx.data());
    gpu::conv::launch_im2col(launch_, g, x.data(), rows, got_cols.data());
    gpu::conv::launch_col2im(launch_, g, cols_in.data(), rows, got_dx.data());
    EXPECT_EQ(got_cols, cols);          // copies: exact
    expect_close(got_dx, dx, 1e-6);     // sums of up to k*k terms, in another order

    const int64_t total = rows * out_channels * plane;
    const std::vector<float> y = random(total), bias = random(out_channels), dbias = random(out_channels);
    std::vector<float> swapped(total), got_swapped(total, NAN), y_biased = y, got_y = y;
    std::vector<float> dbias_expected = dbias, got_dbias = dbias;
    cpu::swap_leading_axes(y.data(), rows, out_channels, plane, swapped.data());
    cpu::add_channel_bias(y_biased.data(), bias.data(), out_channels, rows * plane);
    cpu::channel_bias_grad(y.data(), out_channels, rows * plane, 0.5f, dbias_expected.data());
    gpu::conv::launch_swap_leading_axes(launch_, y.data(), rows, out_channels, plane, got_swapped.data());
    EXPECT_EQ(got_swapped, swapped);
    gpu::conv::launch_channel_bias_grad(launch_, y.data(), out_channels, rows * plane, 0.5f, got_dbias.data());
    expect_close(got_dbias, dbias_expected, 1e-5 * std::sqrt(double(rows * plane)));
    gpu::conv::launch_add_channel_bias(launch_, got_y.data(), bias.data(), out_channels, rows * plane);
    EXPECT_EQ(got_y, y_biased);
  }
}

}  // namespace
}  // namespace rt::kernels
