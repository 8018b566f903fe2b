// Every CUDA kernel against its CPU twin on fresh random inputs, outputs poisoned with NaN before
// each run so an unwritten element fails; fp32 within 1e-5, TF32 products within 1e-3 (relative).
// Skips, saying why, where there is no GPU.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include <fmt/format.h>

#include "core/base/half.h"
#include "core/base/random.h"
#include "kernels/cpu/cpu_kernels.h"
#include "kernels/cuda/cuda_kernels.h"
#include "kernels/cuda/device_buffer.h"
#include "kernels/cuda/stream.h"
#include "tests/kernels/loss_cases.h"
#include "tests/kernels/expect_close.h"

namespace rt::kernels {
namespace {

using cuda::DeviceBuffer;

class CudaKernelTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (cuda::device_count() == 0) GTEST_SKIP() << "no CUDA device visible (or no CUDA in this build)";
    cuda::set_tf32(false);
  }
  std::vector<float> random(size_t count, float low = -1.0f, float high = 1.0f) {
    std::vector<float> values(count);
    for (float& v : values) v = rng_.uniform(low, high);
    return values;
  }
  Rng rng_{17};  // fixed: the same inputs every run
};

TEST_F(CudaKernelTest, GemmInEveryTransposeMatchesTheCpuInFp32AndTf32) {
  for (bool tf32 : {false, true}) {
    cuda::set_tf32(tf32);
    for (auto [ta, tb] : {std::pair{false, false}, {false, true}, {true, false}, {true, true}}) {
      const int64_t m = 67, n = 129, k = 300;
      std::vector<float> a = random(m * k), b = random(k * n), c = random(m * n);
      for (float beta : {0.0f, 0.5f}) {
        std::vector<float> expected = c;
        cpu::gemm(ta ? Transpose::kYes : Transpose::kNo, tb ? Transpose::kYes : Transpose::kNo, m, n, k, 1.5f,
                  a.data(), b.data(), beta, expected.data());
        DeviceBuffer<float> da(a), db(b), dc(c);
        if (beta == 0.0f) dc.poison();
        cuda::gemm(ta ? Transpose::kYes : Transpose::kNo, tb ? Transpose::kYes : Transpose::kNo, m, n, k, 1.5f,
                   da.data(), db.data(), beta, dc.data());
        expect_close(dc.download(), expected, tf32 ? 1e-3 * std::sqrt(double(k)) : 1e-5 * std::sqrt(double(k)));
      }
    }
  }
}

// bf16 products round both operands to bf16 (to nearest even) and sum in fp32: against the CPU's
// fp32 product of the rounded operands only the order of the fp32 sums differs, far less than
// the rounding itself moves the result (also asserted, so that the test sees the rounding).
TEST_F(CudaKernelTest, Bf16ProductsAreFp32ProductsOfTheOperandsRoundedToBf16) {
  if (cuda::compute_capability_major() < 8) GTEST_SKIP() << "bf16 products need compute capability 8.0";
  cuda::set_matmul_precision(cuda::MatmulPrecision::kBf16);
  auto rounded = [](std::vector<float> values) {
    for (float& v : values) v = to_float(to_bfloat16(v));
    return values;
  };
  for (auto [ta, tb] : {std::pair{false, false}, {false, true}, {true, false}, {true, true}}) {
    const int64_t m = 67, n = 129, k = 301;  // odd sizes: the rounding's unaligned tail too
    std::vector<float> a = random(m * k), b = random(k * n), c = random(m * n);
    const Transpose trans_a = ta ? Transpose::kYes : Transpose::kNo, trans_b = tb ? Transpose::kYes : Transpose::kNo;
    for (float beta : {0.0f, 0.5f}) {
      std::vector<float> expected = c, unrounded = c;
      cpu::gemm(trans_a, trans_b, m, n, k, 1.5f, rounded(a).data(), rounded(b).data(), beta, expected.data());
      cpu::gemm(trans_a, trans_b, m, n, k, 1.5f, a.data(), b.data(), beta, unrounded.data());
      DeviceBuffer<float> da(a), db(b), dc(c);
      if (beta == 0.0f) dc.poison();
      cuda::gemm(trans_a, trans_b, m, n, k, 1.5f, da.data(), db.data(), beta, dc.data());
      const double bound = 1e-5 * std::sqrt(double(k));
      expect_close(dc.download(), expected, bound);
      double rounding = 0;
      for (size_t i = 0; i < expected.size(); ++i) {
        rounding = std::max(rounding, double(std::abs(expected[i] - unrounded[i])));
      }
      EXPECT_GT(rounding, 10 * bound) << "the operands' rounding must show";
    }
  }
  cuda::set_matmul_precision(cuda::MatmulPrecision::kFp32);
}

// Within a SameOperands scope a bf16 product reuses the rounding of an operand that the previous
// product rounded (same buffer, same size): a change to it in between does not reach the second
// product, which equals the first bitwise; after the scope it does.
TEST_F(CudaKernelTest, Bf16ProductsReuseASharedOperandsRoundingWithinSameOperands) {
  if (cuda::compute_capability_major() < 8) GTEST_SKIP() << "bf16 products need compute capability 8.0";
  cuda::set_matmul_precision(cuda::MatmulPrecision::kBf16);
  const int64_t m = 64, n = 48, k = 96;
  const std::vector<float> a = random(m * k), changed = random(m * k), b = random(k * n);
  DeviceBuffer<float> da(a), db(b), first(m * n), second(m * n), after(m * n);
  {
    const SameOperands same(Device::kCuda);
    cuda::gemm(Transpose::kNo, Transpose::kNo, m, n, k, 1.0f, da.data(), db.data(), 0.0f, first.data());
    cuda::copy_to_device(da.data(), changed.data(), changed.size() * sizeof(float));
    cuda::gemm(Transpose::kNo, Transpose::kNo, m, n, k, 1.0f, da.data(), db.data(), 0.0f, second.data());
  }
  cuda::gemm(Transpose::kNo, Transpose::kNo, m, n, k, 1.0f, da.data(), db.data(), 0.0f, after.data());
  cuda::set_matmul_precision(cuda::MatmulPrecision::kFp32);
  EXPECT_EQ(second.download(), first.download());
  EXPECT_NE(after.download(), first.download());
}

// out 19: the bias added one element at a time; 24: four at a time.
TEST_F(CudaKernelTest, LinearForwardAndBothGradientsMatchTheCpu) {
  for (const int64_t out : {19, 24}) {
    const int64_t rows = 33, in = 70;
    std::vector<float> x = random(rows * in), w = random(out * in), bias = random(out), dy = random(rows * out);
    std::vector<float> y(rows * out), dx(rows * in), dw = random(out * in), dbias = random(out);
    DeviceBuffer<float> dx_(x), dw_(w), dbias_(bias), ddy(dy), dy_out(rows * out), ddx(rows * in);
    DeviceBuffer<float> ddw(dw), ddb(dbias);
    dy_out.poison();
    ddx.poison();
    cpu::linear_forward(x.data(), w.data(), bias.data(), rows, in, out, y.data());
    cuda::linear_forward(dx_.data(), dw_.data(), dbias_.data(), rows, in, out, dy_out.data());
    expect_close(dy_out.download(), y, 1e-5);
    cpu::linear_backward_input(dy.data(), w.data(), rows, in, out, dx.data());
    cuda::linear_backward_input(ddy.data(), dw_.data(), rows, in, out, ddx.data());
    expect_close(ddx.download(), dx, 1e-5);
    cpu::linear_backward_params(dy.data(), x.data(), rows, in, out, 1.0f, dw.data(), dbias.data());  // accumulate
    cuda::linear_backward_params(ddy.data(), dx_.data(), rows, in, out, 1.0f, ddw.data(), ddb.data());
    expect_close(ddw.download(), dw, 1e-5);
    expect_close(ddb.download(), dbias, 1e-5);
  }
}

// The gradient of a bf16 output in bf16 (a GPT's bf16 activations), with bf16 products: both
// gradients, the bias's (fp32 sums of bf16 values, by cuBLAS with bf16 ones) among them, are the
// CPU's from its exact values and the operands rounded to bf16.
TEST_F(CudaKernelTest, LinearGradientsFromABf16OutputGradient) {
  if (cuda::compute_capability_major() < 8) GTEST_SKIP() << "bf16 products need compute capability 8.0";
  cuda::set_matmul_precision(cuda::MatmulPrecision::kBf16);
  const int64_t rows = 33, in = 70, out = 24;
  std::vector<float> x = random(rows * in), w = random(out * in), dy = random(rows * out);
  std::vector<bfloat16> dy16(dy.size());
  for (size_t i = 0; i < dy.size(); ++i) {
    dy16[i] = to_bfloat16(dy[i]);
    dy[i] = to_float(dy16[i]);
  }
  for (float& v : x) v = to_float(to_bfloat16(v));
  for (float& v : w) v = to_float(to_bfloat16(v));
  std::vector<float> dx(rows * in), dw(out * in), dbias(out);
  cpu::linear_backward_input(dy.data(), w.data(), rows, in, out, dx.data());
  cpu::linear_backward_params(dy.data(), x.data(), rows, in, out, 0.0f, dw.data(), dbias.data());
  DeviceBuffer<float> dx_(x), dw_(w), ddx(rows * in), ddw(out * in), ddb(out);
  DeviceBuffer<bfloat16> ddy(dy16);
  for (auto* buffer : {&ddx, &ddw, &ddb}) buffer->poison();
  cuda::linear_backward_input(ddy.data(), dw_.data(), rows, in, out, ddx.data());
  cuda::linear_backward_params(ddy.data(), dx_.data(), rows, in, out, 0.0f, ddw.data(), ddb.data());
  expect_close(ddx.download(), dx, 1e-5 * std::sqrt(double(out)));
  expect_close(ddw.download(), dw, 1e-5 * std::sqrt(double(rows)));
  expect_close(ddb.download(), dbias, 1e-5 * std::sqrt(double(rows)));
  cuda::set_matmul_precision(cuda::MatmulPrecision::kFp32);
}

// The bias added by the product's epilogue (cuBLASLt, the default) or by a kernel after it gives
// the CPU's result, in fp32 and with bf16 products (against the CPU's fp32 product of the rounded
// operands), with weights, bias and input aligned to 256 bytes or only to a float (an arena
// slice's), output widths 19 and 24 (odd, and whole float4s). With bf16 products the output may
// also be stored in bf16: each value the GPU's fp32 result rounded once, so within the fp32 bound
// plus half a bf16 step (2^-9 relative) of the CPU's.
TEST_F(CudaKernelTest, LinearForwardAddsTheBiasInTheProductsEpilogueOrAfterItAlike) {
  auto rounded = [](std::vector<float> values) {
    for (float& v : values) v = to_float(to_bfloat16(v));
    return values;
  };
  const int64_t rows = 33, in = 70;
  for (const bool bf16 : {false, true}) {
    if (bf16 && cuda::compute_capability_major() < 8) continue;
    cuda::set_matmul_precision(bf16 ? cuda::MatmulPrecision::kBf16 : cuda::MatmulPrecision::kFp32);
    for (const int64_t out : {19, 24}) {
      for (const int64_t shift : {0, 1}) {
        std::vector<float> x = random(rows * in + shift), w = random(out * in + shift), bias = random(out + shift);
        std::vector<float> expected(rows * out);
        cpu::linear_forward((bf16 ? rounded(x) : x).data() + shift, (bf16 ? rounded(w) : w).data() + shift,
                            bias.data() + shift, rows, in, out, expected.data());
        DeviceBuffer<float> dx(x), dw(w), dbias(bias), dy(rows * out);
        for (const bool fused : {true, false}) {
          SCOPED_TRACE(fmt::format("{}, out {}, shifted by {}, {}", bf16 ? "bf16" : "fp32", out, shift,
                                   fused ? "bias in the epilogue" : "bias kernel"));
          cuda::set_fused_bias(fused);
          dy.poison();
          const cuda::BiasEpilogueCounts before = cuda::bias_epilogue_counts();
          cuda::linear_forward(dx.data() + shift, dw.data() + shift, dbias.data() + shift, rows, in, out, dy.data());
          expect_close(dy.download(), expected, 1e-5 * std::sqrt(double(in)));
          // Which path ran: asked for the kernel, or a bias a float off (under the epilogue's 16
          // bytes), it is the kernel; aligned at out 24 cuBLASLt has an epilogue kernel.
          const cuda::BiasEpilogueCounts after = cuda::bias_epilogue_counts();
          EXPECT_EQ(after.in_epilogue - before.in_epilogue + after.by_kernel - before.by_kernel, 1);
          if (!fused || shift == 1) EXPECT_EQ(after.by_kernel - before.by_kernel, 1);
          if (fused && shift == 0 && out == 24) EXPECT_EQ(after.in_epilogue - before.in_epilogue, 1);
          if (!bf16) continue;
          DeviceBuffer<bfloat16> dy16(rows * out + shift);
          dy16.poison();
          const cuda::BiasEpilogueCounts before16 = cuda::bias_epilogue_counts();
          cuda::linear_forward(dx.data() + shift, dw.data() + shift, dbias.data() + shift, rows, in, out,
                               dy16.data() + shift);
          const cuda::BiasEpilogueCounts after16 = cuda::bias_epilogue_counts();
          if (!fused || shift == 1) EXPECT_EQ(after16.by_kernel - before16.by_kernel, 1);
          const std::vector<bfloat16> got = dy16.download();
          for (int64_t i = 0; i < rows * out; ++i) {
            const double bound = 1e-5 * std::sqrt(double(in)) + std::ldexp(std::fabs(expected[i]), -9);
            ASSERT_NEAR(to_float(got[shift + i]), expected[i], bound) << "bf16 output element " << i;
          }
        }
      }
    }
  }
  cuda::set_fused_bias(true);
  cuda::set_matmul_precision(cuda::MatmulPrecision::kFp32);
}

// 1003 elements: 250 float4s and a tail of 3; one float further on, none aligned: all one at a time.
TEST_F(CudaKernelTest, AddMatchesTheCpuAlignedOrNot) {
  const int64_t n = 1003;
  std::vector<float> a = random(n + 1), b = random(n + 1);
  DeviceBuffer<float> da(a), db(b), dy(n + 1);
  for (int64_t shift : {0, 1}) {
    dy.poison();
    cuda::add(da.data() + shift, db.data() + shift, dy.data() + shift, n);
    const std::vector<float> y = dy.download();
    for (int64_t i = 0; i < n; ++i) ASSERT_EQ(y[shift + i], a[shift + i] + b[shift + i]) << "element " << i;
  }
  // b in bf16 (a branch's bf16 output added to the residual stream): its exact values.
  std::vector<bfloat16> b16(n + 1);
  for (int64_t i = 0; i <= n; ++i) b16[i] = to_bfloat16(b[i]);
  DeviceBuffer<bfloat16> db16(b16);
  for (int64_t shift : {0, 1}) {
    dy.poison();
    cuda::add(da.data() + shift, db16.data() + shift, dy.data() + shift, n);
    const std::vector<float> y = dy.download();
    for (int64_t i = 0; i < n; ++i) {
      ASSERT_EQ(y[shift + i], a[shift + i] + to_float(b16[shift + i])) << "bf16 b, element " << i;
    }
  }
}

TEST_F(CudaKernelTest, ReluAndSgdMatchTheCpu) {
  const int64_t n = 100003;
  std::vector<float> x = random(n), dy = random(n), y(n), dx(n);
  DeviceBuffer<float> dx_(x), ddy(dy), dy_out(n), ddx(n);
  dy_out.poison();
  ddx.poison();
  cpu::relu_forward(x.data(), y.data(), n);
  cuda::relu_forward(dx_.data(), dy_out.data(), n);
  expect_close(dy_out.download(), y, 0);
  cpu::relu_backward(y.data(), dy.data(), dx.data(), n);
  cuda::relu_backward(dy_out.data(), ddy.data(), ddx.data(), n);
  expect_close(ddx.download(), dx, 0);

  std::vector<float> params = random(n), grads = random(n), velocity = random(n);
  DeviceBuffer<float> dp(params), dg(grads), dv(velocity);
  cpu::sgd_momentum(params.data(), grads.data(), velocity.data(), n, 0.1f, 0.9f, 0.01f);
  cuda::sgd_momentum(dp.data(), dg.data(), dv.data(), n, 0.1f, 0.9f, 0.01f);
  expect_close(dp.download(), params, 1e-6);
  expect_close(dv.download(), velocity, 1e-6);
}

TEST_F(CudaKernelTest, SoftmaxCrossEntropyAndAccuracyMatchTheCpuForSmallAndLargeVocabularies) {
  for (int64_t classes : {int64_t{10}, int64_t{50304}}) {
    const int64_t rows = 37;
    const CrossEntropyCase c = cross_entropy_case(rng_, rows, classes, 0.5f);
    DeviceBuffer<float> dlogits(c.logits), dgrad(rows * classes);
    DeviceBuffer<int32_t> dlabels(c.labels);
    DeviceBuffer<double> dloss(std::vector<double>{0.0});
    DeviceBuffer<int64_t> dcorrect(std::vector<int64_t>{0});
    dgrad.poison();
    cuda::softmax_cross_entropy(dlogits.data(), dlabels.data(), rows, classes, 0.5f, dgrad.data(), dloss.data());
    cuda::count_correct(dlogits.data(), dlabels.data(), rows, classes, dcorrect.data());
    expect_close(dgrad.download(), c.grad, 1e-5);
    EXPECT_NEAR(dloss.download()[0], c.loss, 1e-9 * std::abs(c.loss));
    EXPECT_EQ(dcorrect.download()[0], c.correct);
  }
}

TEST_F(CudaKernelTest, SoftmaxCrossEntropyMayWriteItsGradientOverTheLogits) {
  const int64_t rows = 41, classes = 50304;
  std::vector<float> logits = random(rows * classes, -8.0f, 8.0f);
  std::vector<int32_t> labels(rows);
  for (int32_t& label : labels) label = static_cast<int32_t>(rng_.below(static_cast<uint64_t>(classes)));
  std::vector<float> grad = logits;
  double loss = 0;
  cpu::softmax_cross_entropy(grad.data(), labels.data(), rows, classes, 0.25f, grad.data(), &loss);
  DeviceBuffer<float> dlogits(logits);
  DeviceBuffer<int32_t> dlabels(labels);
  DeviceBuffer<double> dloss(std::vector<double>{0.0});
  cuda::softmax_cross_entropy(dlogits.data(), dlabels.data(), rows, classes, 0.25f, dlogits.data(), dloss.data());
  expect_close(dlogits.download(), grad, 1e-5);
  EXPECT_NEAR(dloss.download()[0], loss, 1e-9 * std::abs(loss));
}

// bf16 logits (a GPT's bf16 activations), 50,304 classes: the loss, the count of correct rows and
// the bf16 gradient written over the logits are what the kernels give on the same values in fp32
// (the gradient: its bf16 rounding, bit for bit; the loss: summed in another order, within 1e-12).
TEST_F(CudaKernelTest, SoftmaxCrossEntropyOverBf16LogitsInPlaceIsTheFp32OneOnTheSameValues) {
  const int64_t rows = 41, classes = 50304;
  CrossEntropyCase c = cross_entropy_case(rng_, rows, classes, 0.25f);
  std::vector<bfloat16> logits16(c.logits.size());
  for (size_t i = 0; i < c.logits.size(); ++i) {
    logits16[i] = to_bfloat16(c.logits[i]);
    c.logits[i] = to_float(logits16[i]);
  }
  DeviceBuffer<float> dlogits(c.logits);
  DeviceBuffer<bfloat16> dlogits16(logits16), dexpected(c.logits.size());
  DeviceBuffer<int32_t> dlabels(c.labels);
  DeviceBuffer<double> dloss(std::vector<double>{0.0}), dloss16(std::vector<double>{0.0});
  DeviceBuffer<int64_t> dcorrect(std::vector<int64_t>{0}), dcorrect16(std::vector<int64_t>{0});
  dexpected.poison();
  cuda::softmax_cross_entropy_bf16_gradient(dlogits.data(), dlabels.data(), rows, classes, 0.25f, dexpected.data(),
                                            dloss.data());
  cuda::count_correct(dlogits.data(), dlabels.data(), rows, classes, dcorrect.data());
  cuda::count_correct(dlogits16.data(), dlabels.data(), rows, classes, dcorrect16.data());
  cuda::softmax_cross_entropy_bf16_gradient(dlogits16.data(), dlabels.data(), rows, classes, 0.25f,
                                            dlogits16.data(), dloss16.data());
  const double loss = dloss.download()[0];
  EXPECT_NEAR(dloss16.download()[0], loss, 1e-12 * std::abs(loss));
  EXPECT_EQ(dcorrect16.download()[0], dcorrect.download()[0]);
  const std::vector<bfloat16> got = dlogits16.download(), expected = dexpected.download();
  for (size_t i = 0; i < got.size(); ++i) ASSERT_EQ(got[i].bits, expected[i].bits) << "element " << i;
}

// A product stored in bf16 (an output head's bf16 logits): the fp32 product of the operands
// rounded to bf16, rounded once more as it is stored, so within the fp32 bound plus half a bf16
// step of the CPU's; beta must be 0.
// A regression's squared error: the CPU's gradient, and its three sums within rounding.
TEST_F(CudaKernelTest, SquaredErrorMatchesTheCpu) {
  const int64_t rows = 1000;
  const SquaredErrorCase c = squared_error_case(rng_, rows, 0.5f);
  DeviceBuffer<float> doutputs(c.outputs), dtargets(c.targets), dgrad(static_cast<size_t>(rows));
  DeviceBuffer<double> dsums(std::vector<double>(3, 0.0));
  dgrad.poison();
  cuda::squared_error(doutputs.data(), dtargets.data(), rows, 0.5f, dgrad.data(), dsums.data());
  EXPECT_EQ(dgrad.download(), c.grad);
  const std::vector<double> sums = dsums.download();
  for (int i = 0; i < 3; ++i) EXPECT_NEAR(sums[i], c.sums[i], 1e-9 * (1 + std::abs(c.sums[i])));
}

TEST_F(CudaKernelTest, Bf16ProductsMayStoreTheirResultInBf16) {
  if (cuda::compute_capability_major() < 8) GTEST_SKIP() << "bf16 products need compute capability 8.0";
  cuda::set_matmul_precision(cuda::MatmulPrecision::kBf16);
  const int64_t m = 67, n = 129, k = 301;
  std::vector<float> a = random(m * k), b = random(k * n);
  for (float& v : a) v = to_float(to_bfloat16(v));
  for (float& v : b) v = to_float(to_bfloat16(v));
  std::vector<float> expected(m * n);
  cpu::gemm(Transpose::kNo, Transpose::kYes, m, n, k, 1.0f, a.data(), b.data(), 0.0f, expected.data());
  DeviceBuffer<float> da(a), db(b);
  DeviceBuffer<bfloat16> dc(m * n);
  dc.poison();
  cuda::gemm(Transpose::kNo, Transpose::kYes, m, n, k, 1.0f, da.data(), db.data(), dc.data());
  const std::vector<bfloat16> got = dc.download();
  for (int64_t i = 0; i < m * n; ++i) {
    const double bound = 1e-5 * std::sqrt(double(k)) + std::ldexp(std::fabs(expected[i]), -9);
    ASSERT_NEAR(to_float(got[i]), expected[i], bound) << "element " << i;
  }
  EXPECT_THROW(kernels::gemm(Device::kCuda, Transpose::kNo, Transpose::kYes, m, n, k, 1.0f, da.data(), db.data(), 0.5f,
                             dc.data()),
               std::exception);
  cuda::set_matmul_precision(cuda::MatmulPrecision::kFp32);
}

TEST_F(CudaKernelTest, EmbeddingAndNextTokenTargetsMatchTheCpu) {
  const int64_t rows = 7, T = 33, vocab = 300, C = 48;
  std::vector<float> tokens(rows * (T + 1));
  for (float& t : tokens) t = static_cast<float>(rng_.below(vocab));
  std::vector<float> wte = random(vocab * C), wpe = random(T * C), dy = random(rows * T * C);
  std::vector<float> y(rows * T * C), dwte = random(vocab * C), dwpe = random(T * C);
  std::vector<int32_t> targets(rows * T);
  DeviceBuffer<float> dtokens(tokens), dwte_(wte), dwpe_(wpe), ddy(dy), dy_out(rows * T * C);
  dy_out.poison();
  cpu::embedding_forward(tokens.data(), rows, T, vocab, C, wte.data(), wpe.data(), y.data());
  cuda::embedding_forward(dtokens.data(), rows, T, vocab, C, dwte_.data(), dwpe_.data(), dy_out.data());
  expect_close(dy_out.download(), y, 0.0);  // a sum of two values: exact
  for (float beta : {0.0f, 0.5f, 1.0f}) {
    DeviceBuffer<float> gwte(dwte), gwpe(dwpe);
    if (beta == 0.0f) {
      gwte.poison();
      gwpe.poison();
    }
    std::vector<float> expected_wte = dwte, expected_wpe = dwpe;
    cpu::embedding_backward(tokens.data(), dy.data(), rows, T, vocab, C, beta, expected_wte.data(), beta,
                            expected_wpe.data());
    cuda::embedding_backward(dtokens.data(), ddy.data(), rows, T, vocab, C, beta, gwte.data(), beta, gwpe.data());
    expect_close(gwte.download(), expected_wte, 1e-5);
    expect_close(gwpe.download(), expected_wpe, 1e-5);
  }
  DeviceBuffer<int32_t> dtargets(rows * T);
  cpu::next_token_targets(tokens.data(), rows, T, targets.data());
  cuda::next_token_targets(dtokens.data(), rows, T, dtargets.data());
  EXPECT_EQ(dtargets.download(), targets);
}

// Both GPU algorithms against the CPU, forward and backward, for lengths that are and are not
// multiples of the fused kernels' tile (64), every head size they have (16, 32, 64) and one they
// lack (24: the plain path stands in).
TEST_F(CudaKernelTest, AttentionFusedAndPlainMatchTheCpuForwardAndBackward) {
  struct Case {
    int64_t rows, context, width, heads;
  };
  for (Case c : {Case{2, 1, 32, 2}, Case{3, 17, 64, 4}, Case{2, 64, 64, 2}, Case{1, 100, 128, 2}, Case{2, 130, 96, 3},
                 Case{1, 257, 64, 1}, Case{2, 70, 48, 2}}) {
    const AttentionShape shape{c.rows, c.context, c.width, c.heads};
    const int64_t n = c.rows * c.context * c.width;
    std::vector<float> qkv = random(3 * n, -2.0f, 2.0f), dy = random(n);
    std::vector<float> y(n), lse(c.rows * c.heads * c.context), dqkv(3 * n);
    cpu::attention_forward(shape, qkv.data(), y.data(), lse.data());
    cpu::attention_backward(shape, qkv.data(), y.data(), lse.data(), dy.data(), dqkv.data());
    for (AttentionAlgorithm algorithm : {AttentionAlgorithm::kPlain, AttentionAlgorithm::kFused}) {
      SCOPED_TRACE(::testing::Message() << (algorithm == AttentionAlgorithm::kFused ? "fused" : "plain") << " rows "
                                        << c.rows << " T " << c.context << " C " << c.width << " H " << c.heads);
      const int64_t workspace_floats = cuda::attention_workspace(algorithm, shape);
      DeviceBuffer<float> dqkv_in(qkv), ddy(dy), dout(n), dlse(lse.size()), dgrad(3 * n),
          workspace(std::max<int64_t>(workspace_floats, 1));
      dout.poison();
      dlse.poison();
      dgrad.poison();
      cuda::attention_forward(algorithm, shape, dqkv_in.data(), dout.data(), dlse.data(),
                              workspace_floats > 0 ? workspace.data() : nullptr);
      expect_close(dout.download(), y, 1e-5);
      expect_close(dlse.download(), lse, 1e-5);
      cuda::attention_backward(algorithm, shape, dqkv_in.data(), dout.data(), dlse.data(), ddy.data(), dgrad.data(),
                               workspace_floats > 0 ? workspace.data() : nullptr);
      expect_close(dgrad.download(), dqkv, 1e-4);
    }
  }
}

// The tensor-core kernels against the CPU (fp32), for lengths that are and are not multiples of
// their tile (64), one query alone, and both head sizes they have. Their products round q, k, v,
// dO, P and dS to bf16 (8 significant bits) and sum in fp32. Emulating exactly that rounding
// against fp64 (PyTorch on the CPU, these shapes and value ranges, and T = 1024) gave at most
// 0.0095 of max(1, |value|) for y, the log-sum-exp and dqkv, and a mean error of dqkv of at most
// 0.0008: the bounds below are three times those. A kernel that reads a wrong tile, a transposed
// one or an unmasked key is off by far more.
TEST_F(CudaKernelTest, AttentionOnTensorCoresMatchesTheCpuWithinBf16Rounding) {
  if (cuda::compute_capability_major() < 8) GTEST_SKIP() << "bf16 tensor cores need compute capability 8.0";
  struct Case {
    int64_t rows, context, width, heads;
  };
  for (Case c : {Case{2, 1, 64, 2}, Case{3, 17, 64, 2}, Case{2, 64, 64, 2}, Case{1, 100, 128, 2},
                 Case{2, 130, 96, 3}, Case{1, 257, 64, 1}, Case{1, 1024, 128, 2}}) {
    SCOPED_TRACE(::testing::Message() << "rows " << c.rows << " T " << c.context << " C " << c.width << " H "
                                      << c.heads);
    const AttentionShape shape{c.rows, c.context, c.width, c.heads};
    ASSERT_EQ(cuda::attention_workspace(AttentionAlgorithm::kTensorCore, shape), 0) << "the plain path stood in";
    const int64_t n = c.rows * c.context * c.width;
    std::vector<float> qkv = random(3 * n, -2.0f, 2.0f), dy = random(n);
    std::vector<float> y(n), lse(c.rows * c.heads * c.context), dqkv(3 * n);
    cpu::attention_forward(shape, qkv.data(), y.data(), lse.data());
    cpu::attention_backward(shape, qkv.data(), y.data(), lse.data(), dy.data(), dqkv.data());
    DeviceBuffer<float> dqkv_in(qkv), ddy(dy), dout(n), dlse(lse.size()), dgrad(3 * n);
    dout.poison();
    dlse.poison();
    dgrad.poison();
    cuda::attention_forward(AttentionAlgorithm::kTensorCore, shape, dqkv_in.data(), dout.data(), dlse.data(), nullptr);
    expect_close(dout.download(), y, 0.03);
    expect_close(dlse.download(), lse, 0.03);
    cuda::attention_backward(AttentionAlgorithm::kTensorCore, shape, dqkv_in.data(), dout.data(), dlse.data(),
                             ddy.data(), dgrad.data(), nullptr);
    const std::vector<float> grad = dgrad.download();
    expect_close(grad, dqkv, 0.03);
    double error = 0;
    for (size_t i = 0; i < grad.size(); ++i) error += std::abs(grad[i] - dqkv[i]);
    EXPECT_LT(error / static_cast<double>(grad.size()), 0.0025);
  }
}

// bf16 activations: the tensor-core kernels given bf16 q, k, v compute bit for bit what they
// compute from the same values in fp32 (both stage bf16 tiles), store y rounded from that fp32
// result, and backward from the bf16 y stores, rounded, the dqkv the fp32 kernels give from its
// values. The fused kernels refuse bf16 activations.
TEST_F(CudaKernelTest, AttentionOnTensorCoresOverBf16ActivationsIsTheFp32KernelsOnTheSameValues) {
  if (cuda::compute_capability_major() < 8) GTEST_SKIP() << "bf16 tensor cores need compute capability 8.0";
  for (const AttentionShape shape : {AttentionShape{1, 100, 128, 2}, AttentionShape{2, 130, 96, 3},
                                     AttentionShape{1, 1024, 128, 2}}) {
    SCOPED_TRACE(::testing::Message() << "T " << shape.context << " H " << shape.heads);
    const int64_t n = shape.rows * shape.context * shape.width, queries = shape.rows * shape.heads * shape.context;
    std::vector<float> qkv = random(3 * n, -2.0f, 2.0f);
    const std::vector<float> dy = random(n);
    std::vector<bfloat16> qkv16(3 * n);
    for (int64_t i = 0; i < 3 * n; ++i) {
      qkv16[i] = to_bfloat16(qkv[i]);
      qkv[i] = to_float(qkv16[i]);
    }
    DeviceBuffer<float> dqkv(qkv), ddy(dy), dout(n), dlse(queries), dlse16(queries), dgrad(3 * n);
    DeviceBuffer<bfloat16> dqkv16(qkv16), dout16(n), dgrad16(3 * n);
    for (auto* buffer : {&dout, &dlse, &dlse16, &dgrad}) buffer->poison();
    dout16.poison();
    dgrad16.poison();
    cuda::attention_forward(AttentionAlgorithm::kTensorCore, shape, dqkv.data(), dout.data(), dlse.data(), nullptr);
    cuda::attention_forward(AttentionAlgorithm::kTensorCore, shape, dqkv16.data(), dout16.data(), dlse16.data(),
                            nullptr);
    const std::vector<float> y = dout.download();
    const std::vector<bfloat16> y16 = dout16.download();
    std::vector<float> y_values(n);
    for (int64_t i = 0; i < n; ++i) {
      ASSERT_EQ(y16[i].bits, to_bfloat16(y[i]).bits) << "y, element " << i;
      y_values[i] = to_float(y16[i]);
    }
    EXPECT_EQ(dlse16.download(), dlse.download());
    DeviceBuffer<float> dy_values(y_values);
    cuda::attention_backward(AttentionAlgorithm::kTensorCore, shape, dqkv.data(), dy_values.data(), dlse.data(),
                             ddy.data(), dgrad.data(), nullptr);
    cuda::attention_backward(AttentionAlgorithm::kTensorCore, shape, dqkv16.data(), dout16.data(), dlse16.data(),
                             ddy.data(), dgrad16.data(), nullptr);
    const std::vector<float> grad = dgrad.download();
    const std::vector<bfloat16> grad16 = dgrad16.download();
    for (int64_t i = 0; i < 3 * n; ++i) ASSERT_EQ(grad16[i].bits, to_bfloat16(grad[i]).bits) << "dqkv, element " << i;
    EXPECT_THROW(cuda::attention_forward(AttentionAlgorithm::kFused, shape, dqkv16.data(), dout16.data(),
                                         dlse16.data(), nullptr),
                 std::exception);
  }
}

TEST_F(CudaKernelTest, ALabelOutsideTheClassesMakesTheRowNonFinite) {
  std::vector<float> logits = random(2 * 5);
  std::vector<int32_t> labels{1, 9};
  DeviceBuffer<float> dlogits(logits), dgrad(10);
  DeviceBuffer<int32_t> dlabels(labels);
  DeviceBuffer<double> dloss(std::vector<double>{0.0});
  cuda::softmax_cross_entropy(dlogits.data(), dlabels.data(), 2, 5, 1.0f, dgrad.data(), dloss.data());
  EXPECT_TRUE(std::isnan(dloss.download()[0]));
  std::vector<float> grad = dgrad.download();
  EXPECT_TRUE(std::isfinite(grad[0]));
  EXPECT_TRUE(std::isnan(grad[5]));
}

// TF32 keeps 10 mantissa bits of the inputs, bf16 8; the largest error of a sum of n products of
// magnitude < 1 is bounded by a few such steps times sqrt(n). Each must differ from fp32 (the
// mode is really used). (On an H200, cuBLAS's bf16 mode was measured with the smaller error of the
// two, 0.009 against TF32's 0.018, so their order is not asserted.)
TEST_F(CudaKernelTest, Tf32AndBf16ProductsDifferFromFp32ButStayWithinTheirBounds) {
  const int64_t n = 512;
  std::vector<float> a = random(n * n), b = random(n * n);
  DeviceBuffer<float> da(a), db(b), exact(n * n), reduced(n * n);
  cuda::set_matmul_precision(cuda::MatmulPrecision::kFp32);
  cuda::gemm(Transpose::kNo, Transpose::kNo, n, n, n, 1.0f, da.data(), db.data(), 0.0f, exact.data());
  const std::vector<float> e = exact.download();
  double largest_error[2] = {0, 0};
  int index = 0;
  for (cuda::MatmulPrecision precision : {cuda::MatmulPrecision::kTf32, cuda::MatmulPrecision::kBf16}) {
    cuda::set_matmul_precision(precision);
    cuda::gemm(Transpose::kNo, Transpose::kNo, n, n, n, 1.0f, da.data(), db.data(), 0.0f, reduced.data());
    const std::vector<float> r = reduced.download();
    for (size_t i = 0; i < e.size(); ++i) {
      largest_error[index] = std::max(largest_error[index], static_cast<double>(std::abs(e[i] - r[i])));
    }
    ++index;
  }
  cuda::set_matmul_precision(cuda::MatmulPrecision::kFp32);
  EXPECT_GT(largest_error[0], 0.0) << "TF32 was asked for, but the product is bitwise the fp32 one";
  EXPECT_LT(largest_error[0], 1e-3 * std::sqrt(double(n)) * 4);
  EXPECT_GT(largest_error[1], 0.0) << "bf16 was asked for, but the product is bitwise the fp32 one";
  EXPECT_LT(largest_error[1], 4e-3 * std::sqrt(double(n)) * 4);
}

TEST_F(CudaKernelTest, ConvolutionPiecesMatchTheCpu) {
  for (const ConvGeometry g : {ConvGeometry{3, 11, 9, 3, 1, 1, false}, ConvGeometry{3, 11, 9, 3, 1, 1, true},
                               ConvGeometry{2, 8, 7, 4, 2, 1, true}, ConvGeometry{1, 5, 5, 2, 1, 0, false}}) {
    const int64_t rows = 3, out_channels = 5, plane = g.out_height() * g.out_width();
    const int64_t in = rows * g.channels * g.height * g.width, columns = g.patch() * rows * plane;
    std::vector<float> x = random(in), cols_in = random(columns);
    std::vector<float> cols(columns), dx(in);
    cpu::im2col(g, x.data(), rows, cols.data());
    cpu::col2im(g, cols_in.data(), rows, dx.data());
    DeviceBuffer<float> dx_in(x), dcols_in(cols_in), dcols(columns), ddx(in);
    dcols.poison();
    ddx.poison();
    cuda::im2col(g, dx_in.data(), rows, dcols.data());
    cuda::col2im(g, dcols_in.data(), rows, ddx.data());
    expect_close(dcols.download(), cols, 0.0);  // copies: exact
    expect_close(ddx.download(), dx, 1e-6);     // sums of up to k*k terms, in another order

    const int64_t spatial = plane, total = rows * out_channels * spatial;
    std::vector<float> y = random(total), bias = random(out_channels), dbias = random(out_channels);
    std::vector<float> swapped(total), y_biased = y, dbias_expected = dbias;
    cpu::swap_leading_axes(y.data(), rows, out_channels, spatial, swapped.data());
    cpu::add_channel_bias(y_biased.data(), bias.data(), out_channels, rows * spatial);
    cpu::channel_bias_grad(y.data(), out_channels, rows * spatial, 0.5f, dbias_expected.data());
    DeviceBuffer<float> dy(y), dswapped(total), dbiasv(bias), ddbias(dbias);
    dswapped.poison();
    cuda::swap_leading_axes(dy.data(), rows, out_channels, spatial, dswapped.data());
    expect_close(dswapped.download(), swapped, 0.0);
    cuda::channel_bias_grad(dy.data(), out_channels, rows * spatial, 0.5f, ddbias.data());
    expect_close(ddbias.download(), dbias_expected, 1e-5 * std::sqrt(double(rows * spatial)));
    cuda::add_channel_bias(dy.data(), dbiasv.data(), out_channels, rows * spatial);
    expect_close(dy.download(), y_biased, 0.0);
  }
}

TEST_F(CudaKernelTest, MaxPoolingMatchesTheCpu) {
  const int64_t rows = 3, channels = 4, height = 9, width = 6, window = 2;
  const int64_t in = rows * channels * height * width, out = rows * channels * (height / 2) * (width / 2);
  std::vector<float> x = random(in), dy = random(out);
  std::vector<float> y(out), dx(in);
  std::vector<int32_t> argmax(out);
  cpu::max_pool_forward(x.data(), rows, channels, height, width, window, y.data(), argmax.data());
  cpu::max_pool_backward(dy.data(), argmax.data(), rows, channels, height, width, window, dx.data());
  DeviceBuffer<float> dx_in(x), ddy(dy), dyv(out), ddx(in);
  DeviceBuffer<int32_t> dargmax(out);
  dyv.poison();
  ddx.poison();
  cuda::max_pool_forward(dx_in.data(), rows, channels, height, width, window, dyv.data(), dargmax.data());
  expect_close(dyv.download(), y, 0.0);
  EXPECT_EQ(dargmax.download(), argmax);
  cuda::max_pool_backward(ddy.data(), dargmax.data(), rows, channels, height, width, window, ddx.data());
  expect_close(ddx.download(), dx, 0.0);
}

TEST_F(CudaKernelTest, AdamWAndTheGradientNormMatchTheCpu) {
  const int64_t n = 100'003;
  std::vector<float> params = random(n), m(n, 0.0f), v(n, 0.0f);
  DeviceBuffer<float> dp(params), dm(m), dv(v);
  for (int step = 1; step <= 3; ++step) {
    std::vector<float> grads = random(n);
    DeviceBuffer<float> dg(grads);
    cpu::adamw(params.data(), grads.data(), m.data(), v.data(), n, 0.01f, 0.9f, 0.999f, 1e-8f, 0.1f, step);
    cuda::adamw(dp.data(), dg.data(), dm.data(), dv.data(), n, 0.01f, 0.9f, 0.999f, 1e-8f, 0.1f, step);
  }
  expect_close(dp.download(), params, 1e-5);
  expect_close(dm.download(), m, 1e-6);
  expect_close(dv.download(), v, 1e-6);

  std::vector<float> on_gpu = dp.download();  // the same values on both sides from here
  const double expected = cpu::sum_of_squares(on_gpu.data(), n);
  const double first = cuda::sum_of_squares(dp.data(), n), second = cuda::sum_of_squares(dp.data(), n);
  EXPECT_NEAR(first, expected, 1e-12 * expected);
  EXPECT_EQ(first, second) << "the GPU's norm must be deterministic";
  std::vector<float> halved = on_gpu;
  cpu::scale(halved.data(), n, 0.5f);
  cuda::scale(dp.data(), n, 0.5f);
  expect_close(dp.download(), halved, 0.0);
}

// 37 x 301: GELU four elements at a time and a tail of one.
TEST_F(CudaKernelTest, GeluAndLayerNormMatchTheCpu) {
  const int64_t rows = 37, features = 301;
  std::vector<float> x = random(rows * features, -3.0f, 3.0f), dy = random(rows * features);
  std::vector<float> gamma = random(features, 0.5f, 1.5f), beta = random(features);
  std::vector<float> y(rows * features), dx(rows * features), mean(rows), rstd(rows);
  std::vector<float> dgamma = random(features), dbeta = random(features);
  cpu::gelu_forward(x.data(), y.data(), rows * features);
  cpu::gelu_backward(x.data(), dy.data(), dx.data(), rows * features);
  DeviceBuffer<float> dxv(x), ddy(dy), dyv(rows * features), ddx(rows * features);
  dyv.poison();
  ddx.poison();
  cuda::gelu_forward(dxv.data(), dyv.data(), rows * features);
  cuda::gelu_backward(dxv.data(), ddy.data(), ddx.data(), rows * features);
  expect_close(dyv.download(), y, 1e-5);
  expect_close(ddx.download(), dx, 1e-5);

  std::vector<float> dgamma_expected = dgamma, dbeta_expected = dbeta;
  cpu::layer_norm_forward(x.data(), gamma.data(), beta.data(), rows, features, 1e-5f, y.data(), mean.data(), rstd.data());
  cpu::layer_norm_backward(dy.data(), x.data(), gamma.data(), mean.data(), rstd.data(), rows, features, 1.0f, dx.data(),
                           dgamma_expected.data(), dbeta_expected.data());
  DeviceBuffer<float> dgammav(gamma), dbetav(beta), dmean(rows), drstd(rows), ddgamma(dgamma), ddbeta(dbeta);
  dyv.poison();
  ddx.poison();
  cuda::layer_norm_forward(dxv.data(), dgammav.data(), dbetav.data(), rows, features, 1e-5f, dyv.data(), dmean.data(),
                           drstd.data());
  cuda::layer_norm_backward(ddy.data(), dxv.data(), dgammav.data(), dmean.data(), drstd.data(), rows, features, 1.0f,
                            ddx.data(), ddgamma.data(), ddbeta.data());
  expect_close(dyv.download(), y, 1e-5);
  expect_close(dmean.download(), mean, 1e-6);
  expect_close(drstd.download(), rstd, 1e-5);
  expect_close(ddx.download(), dx, 1e-4);
  expect_close(ddgamma.download(), dgamma_expected, 1e-5);
  expect_close(ddbeta.download(), dbeta_expected, 1e-5);
}

// A bf16 input (a GPT's bf16 activations: the MLP's first Linear's output): GELU forward (to bf16,
// as the model stores it, and to fp32) and backward (to fp32, and to bf16 as the model stores it)
// compute what they compute from its exact fp32 values, bit for bit; aligned (four at a time) and
// shifted by one value (one at a time).
TEST_F(CudaKernelTest, GeluReadsABf16InputAsItsExactValues) {
  const int64_t n = 37 * 301;
  std::vector<float> x = random(n + 1, -3.0f, 3.0f), dy = random(n + 1);
  std::vector<bfloat16> x16(n + 1);
  for (int64_t i = 0; i <= n; ++i) {
    x16[i] = to_bfloat16(x[i]);
    x[i] = to_float(x16[i]);
  }
  DeviceBuffer<float> dx32(x), ddy(dy), dy32(n + 1), dgrad32(n + 1), dgrad(n + 1), dout32(n + 1);
  DeviceBuffer<bfloat16> dx16(x16), dy16(n + 1), dout16(n + 1), dgrad16(n + 1);
  for (const int64_t shift : {0, 1}) {
    SCOPED_TRACE(fmt::format("shifted by {}", shift));
    for (auto* buffer : {&dy32, &dgrad32, &dgrad, &dout32}) buffer->poison();
    dy16.poison();
    dout16.poison();
    cuda::gelu_forward(dx32.data() + shift, dy32.data() + shift, n);
    cuda::gelu_forward(dx32.data() + shift, dout16.data() + shift, n);
    cuda::gelu_forward(dx16.data() + shift, dy16.data() + shift, n);
    cuda::gelu_forward(dx16.data() + shift, dout32.data() + shift, n);
    cuda::gelu_backward(dx32.data() + shift, ddy.data() + shift, dgrad32.data() + shift, n);
    cuda::gelu_backward(dx16.data() + shift, ddy.data() + shift, dgrad.data() + shift, n);
    dgrad16.poison();
    cuda::gelu_backward(dx16.data() + shift, ddy.data() + shift, dgrad16.data() + shift, n);
    const std::vector<bfloat16> from_bf16 = dy16.download(), from_fp32 = dout16.download();
    const std::vector<float> y32 = dy32.download(), y_from_bf16 = dout32.download();
    const std::vector<float> g32 = dgrad32.download(), g = dgrad.download();
    const std::vector<bfloat16> g16 = dgrad16.download();
    for (int64_t i = shift; i < n + shift; ++i) {
      ASSERT_EQ(from_bf16[i].bits, from_fp32[i].bits) << "bf16 output, element " << i;
      ASSERT_EQ(y_from_bf16[i], y32[i]) << "fp32 output, element " << i;
      ASSERT_EQ(g[i], g32[i]) << "input gradient, element " << i;
      ASSERT_EQ(g16[i].bits, to_bfloat16(g32[i]).bits) << "bf16 input gradient, element " << i;
    }
  }
}

TEST_F(CudaKernelTest, DropoutDrawsBitwiseTheCpuMask) {
  const int64_t count = 100'003;
  std::vector<float> x = random(count), y(count);
  cpu::dropout(x.data(), y.data(), count, 0.25f, 0xfeedULL);
  DeviceBuffer<float> dx(x), dy(count);
  dy.poison();
  cuda::dropout(dx.data(), dy.data(), count, 0.25f, 0xfeedULL);
  expect_close(dy.download(), y, 0.0);
}

TEST_F(CudaKernelTest, BytesToFloatMatchesTheCpuBitwise) {
  const int64_t count = 100'001;
  std::vector<uint8_t> bytes(count);
  for (int64_t i = 0; i < count; ++i) bytes[i] = static_cast<uint8_t>((i * 37) % 256);
  std::vector<float> expected(count);
  cpu::bytes_to_float(bytes.data(), expected.data(), count, 1.0f / 255.0f);
  DeviceBuffer<uint8_t> dbytes(bytes);
  DeviceBuffer<float> dy(count);
  dy.poison();
  cuda::bytes_to_float(dbytes.data(), dy.data(), count, 1.0f / 255.0f);
  std::vector<float> got = dy.download();
  for (int64_t i = 0; i < count; ++i) ASSERT_EQ(got[i], expected[i]) << i;
}

TEST_F(CudaKernelTest, TheNonFiniteFlagFindsANanOrInfinityAnywhere) {
  const size_t count = 1'000'003;  // more than one pass of the bounded grid
  std::vector<float> values = random(count);
  DeviceBuffer<float> device(values);
  DeviceBuffer<uint32_t> flag(std::vector<uint32_t>{7});  // not 0 or 1: the kernel must write it
  auto all_finite = [&](int64_t n) {
    cuda::nonfinite_flag(device.data(), n, flag.data());
    return flag.download()[0] == 0;
  };
  EXPECT_TRUE(all_finite(static_cast<int64_t>(count)));
  for (size_t where : {size_t{0}, size_t{777'777}, count - 1}) {
    for (float bad : {std::nanf(""), INFINITY, -INFINITY}) {
      std::vector<float> poisoned = values;
      poisoned[where] = bad;
      device.upload(poisoned);
      EXPECT_FALSE(all_finite(static_cast<int64_t>(count))) << where << " " << bad;
      EXPECT_EQ(flag.download()[0], 1u);
    }
  }
  EXPECT_TRUE(all_finite(0));
}

TEST_F(CudaKernelTest, AsyncCopiesFromPinnedMemoryAreOrderedByEvents) {
  const size_t count = 1 << 20;
  cuda::PinnedBuffer<float> host(count), back(count);
  for (size_t i = 0; i < count; ++i) host.data()[i] = static_cast<float>(i);
  DeviceBuffer<float> device(count);
  device.poison();
  cuda::Stream copy_stream, compute_stream;
  cuda::Event copied;
  cuda::copy_async(device.data(), host.data(), count * sizeof(float), copy_stream.handle());
  copied.record(copy_stream.handle());
  // The compute stream waits for the copy without the host waiting, then works on the data.
  cuda::stream_wait_event(compute_stream.handle(), copied.handle());
  {
    cuda::StreamScope scope(compute_stream.handle());
    cuda::relu_forward(device.data(), device.data(), static_cast<int64_t>(count));
    cuda::copy_async(back.data(), device.data(), count * sizeof(float), compute_stream.handle());
  }
  compute_stream.synchronize();
  for (size_t i = 0; i < count; ++i) ASSERT_EQ(back.data()[i], static_cast<float>(i)) << i;
}

}  // namespace
}  // namespace rt::kernels
