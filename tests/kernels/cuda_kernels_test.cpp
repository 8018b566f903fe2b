// Every CUDA kernel against its CPU twin on fresh random inputs, outputs poisoned with NaN before
// each run so an unwritten element fails; fp32 within 1e-5, TF32 products within 1e-3 (relative).
// Skips, saying why, where there is no GPU.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "core/base/random.h"
#include "kernels/cpu/cpu_kernels.h"
#include "kernels/cuda/cuda_kernels.h"
#include "kernels/cuda/device_buffer.h"

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
  static void expect_close(const std::vector<float>& gpu, const std::vector<float>& cpu, double tolerance) {
    ASSERT_EQ(gpu.size(), cpu.size());
    for (size_t i = 0; i < gpu.size(); ++i) {
      ASSERT_TRUE(std::isfinite(gpu[i])) << "element " << i << " not written";
      ASSERT_LE(std::abs(gpu[i] - cpu[i]), tolerance * std::max(1.0f, std::abs(cpu[i]))) << "element " << i;
    }
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

TEST_F(CudaKernelTest, LinearForwardAndBothGradientsMatchTheCpu) {
  const int64_t rows = 33, in = 70, out = 19;
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
    std::vector<float> logits = random(rows * classes, -8.0f, 8.0f);
    std::vector<int32_t> labels(rows);
    for (int32_t& label : labels) label = static_cast<int32_t>(rng_.below(static_cast<uint64_t>(classes)));
    std::vector<float> grad(rows * classes);
    double loss = 0;
    int64_t correct = 0;
    cpu::softmax_cross_entropy(logits.data(), labels.data(), rows, classes, 0.5f, grad.data(), &loss);
    cpu::count_correct(logits.data(), labels.data(), rows, classes, &correct);

    DeviceBuffer<float> dlogits(logits), dgrad(rows * classes);
    DeviceBuffer<int32_t> dlabels(labels);
    DeviceBuffer<double> dloss(std::vector<double>{0.0});
    DeviceBuffer<int64_t> dcorrect(std::vector<int64_t>{0});
    dgrad.poison();
    cuda::softmax_cross_entropy(dlogits.data(), dlabels.data(), rows, classes, 0.5f, dgrad.data(), dloss.data());
    cuda::count_correct(dlogits.data(), dlabels.data(), rows, classes, dcorrect.data());
    expect_close(dgrad.download(), grad, 1e-5);
    EXPECT_NEAR(dloss.download()[0], loss, 1e-9 * std::abs(loss));
    EXPECT_EQ(dcorrect.download()[0], correct);
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

}  // namespace
}  // namespace rt::kernels
