// The GPU's attention kernels, fused and on tensor cores, run with their launches on the CPU under
// a host emulation of CUDA (cuda_emulation.h), against the CPU kernels: forward and backward, for
// lengths that are and are not multiples of the 64-row tiles, one token alone, and every head size
// each has. The bounds are those of the GPU tests (cuda_kernels_test.cpp): fp32's for the fused
// kernels; for the tensor-core ones three times the error of their bf16 rounding
// (AttentionOnTensorCoresMatchesTheCpuWithinBf16Rounding), which a wrong tile, a transposed
// operand, a missing mask or a fragment register in the wrong place exceeds by far.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "tests/kernels/cuda_emulation.h"
// The kernels, compiled for the emulation:
#include "kernels/cuda/attention_tensor_core_kernels.cuh"
#include "kernels/cuda/fused_attention_kernels.cuh"
#include "kernels/cuda/plain_attention_kernels.cuh"
#include "core/base/random.h"
#include "kernels/cpu/cpu_kernels.h"

namespace rt::kernels {
namespace {

namespace emulation = rt::testing::cuda_emulation;
namespace tc = emulated_cuda::tensor_core_attention;

// The largest |a - b| / max(1, |b|) below `bound` and, unless it is 0, the mean |a - b| below
// `mean_bound`; an element never written (NaN) fails.
void expect_within(const std::vector<float>& got, const std::vector<float>& want, double bound, double mean_bound,
                   const char* what) {
  ASSERT_EQ(got.size(), want.size());
  double worst = 0, sum = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    ASSERT_TRUE(std::isfinite(got[i])) << what << " element " << i << " not written";
    const double error = std::abs(static_cast<double>(got[i]) - want[i]);
    worst = std::max(worst, error / std::max(1.0, std::abs(static_cast<double>(want[i]))));
    sum += error;
  }
  EXPECT_LT(worst, bound) << what;
  if (mean_bound > 0) {
    EXPECT_LT(sum / static_cast<double>(got.size()), mean_bound) << what;
  }
}

// Random q, k, v (in [-2, 2)) and output gradients (in [-1, 1)) of a shape, with the CPU kernels'
// forward (y, lse) and backward (dqkv) of them, and outputs for the kernels under test, poisoned.
struct AttentionCase {
  std::vector<float> qkv, dy, y, lse, dqkv, out, out_lse, grad;
};
AttentionCase attention_case(const AttentionShape& shape, uint64_t seed) {
  Rng rng(seed);
  const int64_t n = shape.rows * shape.context * shape.width, rows = shape.rows * shape.heads * shape.context;
  AttentionCase c;
  c.qkv.resize(static_cast<size_t>(3 * n));
  c.dy.resize(static_cast<size_t>(n));
  for (float& v : c.qkv) v = rng.uniform(-2.0f, 2.0f);
  for (float& v : c.dy) v = rng.uniform(-1.0f, 1.0f);
  c.y.resize(static_cast<size_t>(n));
  c.lse.resize(static_cast<size_t>(rows));
  c.dqkv.resize(static_cast<size_t>(3 * n));
  cpu::attention_forward(shape, c.qkv.data(), c.y.data(), c.lse.data());
  cpu::attention_backward(shape, c.qkv.data(), c.y.data(), c.lse.data(), c.dy.data(), c.dqkv.data());
  c.out.assign(c.y.size(), NAN);
  c.out_lse.assign(c.lse.size(), NAN);
  c.grad.assign(c.dqkv.size(), NAN);
  return c;
}

// `misaligned`: q, k, v and dO start one float past a 16-byte boundary, so that the kernels load
// them a float at a time instead of four.
template <int D>
void check(const AttentionShape& shape, bool misaligned = false) {
  SCOPED_TRACE(::testing::Message() << "rows " << shape.rows << " T " << shape.context << " C " << shape.width
                                    << " H " << shape.heads << (misaligned ? " misaligned" : ""));
  ASSERT_EQ(shape.head_dim(), D);
  AttentionCase c = attention_case(shape, 23);
  // The kernels' inputs, one float further along when misaligned.
  const size_t shift = misaligned ? 1 : 0;
  std::vector<float> qkv_in(shift), dy_in(shift);
  qkv_in.insert(qkv_in.end(), c.qkv.begin(), c.qkv.end());
  dy_in.insert(dy_in.end(), c.dy.begin(), c.dy.end());
  const float* q_k_v = qkv_in.data() + shift;
  const float* d_out = dy_in.data() + shift;
  const float scale = 1.0f / std::sqrt(static_cast<float>(D));
  const int64_t heads_of_rows = shape.rows * shape.heads;
  tc::launch_forward<D>(emulation::Launch{}, heads_of_rows, shape.context, shape.heads, q_k_v, c.out.data(),
                        c.out_lse.data(), scale);
  expect_within(c.out, c.y, 0.03, 0, "y");
  expect_within(c.out_lse, c.lse, 0.03, 0, "log-sum-exp");
  // Backward from the emulated forward's outputs, as on the GPU.
  std::vector<float> deltas(static_cast<size_t>(heads_of_rows * shape.context), NAN);
  tc::launch_backward<D>(emulation::Launch{}, heads_of_rows, shape.context, shape.heads, q_k_v, c.out.data(),
                         c.out_lse.data(), d_out, deltas.data(), c.grad.data(), scale);
  expect_within(c.grad, c.dqkv, 0.03, 0.0025, "dqkv");
}

TEST(TensorCoreAttentionEmulated, MatchesTheCpuKernelsWithinBf16Rounding) {
  check<64>({2, 1, 128, 2});
  check<32>({3, 17, 64, 2});
  check<32>({2, 64, 64, 2});
  check<64>({1, 100, 128, 2});
  check<32>({2, 130, 96, 3});
  check<64>({1, 257, 64, 1});
  check<32>({2, 130, 96, 3}, true);
  check<64>({1, 100, 128, 2}, true);
}

// bf16 activations (a GPT's q, k, v and output in bf16): the kernels given bf16 q, k, v compute
// bit for bit what they compute from the same values in fp32 (they stage tiles in bf16 either
// way), store y rounded from the fp32 result, and backward from that bf16 y stores, rounded, the
// dqkv the fp32 kernels give from its values; aligned (four values a load) and one value off (one
// at a time).
template <int D>
void check_bf16(const AttentionShape& shape, bool misaligned = false) {
  SCOPED_TRACE(::testing::Message() << "bf16, T " << shape.context << " H " << shape.heads
                                    << (misaligned ? " misaligned" : ""));
  AttentionCase c = attention_case(shape, 31);
  const size_t shift = misaligned ? 1 : 0;
  std::vector<__nv_bfloat16> qkv16(shift), y16(shift + c.y.size(), __nv_bfloat16{0xffff});
  std::vector<float> exact(c.qkv.size());
  for (size_t i = 0; i < c.qkv.size(); ++i) {
    qkv16.push_back(__float2bfloat16_rn(c.qkv[i]));
    exact[i] = static_cast<float>(qkv16.back());
  }
  const float scale = 1.0f / std::sqrt(static_cast<float>(D));
  const int64_t heads_of_rows = shape.rows * shape.heads;
  std::vector<float> lse16(c.lse.size(), NAN);
  tc::launch_forward<D>(emulation::Launch{}, heads_of_rows, shape.context, shape.heads, exact.data(), c.out.data(),
                        c.out_lse.data(), scale);
  tc::launch_forward<D>(emulation::Launch{}, heads_of_rows, shape.context, shape.heads, qkv16.data() + shift,
                        y16.data() + shift, lse16.data(), scale);
  std::vector<float> y_values(c.y.size());
  for (size_t i = 0; i < c.y.size(); ++i) {
    ASSERT_EQ(y16[shift + i].bits, __float2bfloat16_rn(c.out[i]).bits) << "y, element " << i;
    y_values[i] = static_cast<float>(y16[shift + i]);
  }
  for (size_t i = 0; i < c.lse.size(); ++i) ASSERT_EQ(lse16[i], c.out_lse[i]) << "log-sum-exp, query " << i;
  std::vector<float> deltas(static_cast<size_t>(heads_of_rows * shape.context), NAN);
  std::vector<__nv_bfloat16> grad16(c.grad.size(), __nv_bfloat16{0xffff});
  tc::launch_backward<D>(emulation::Launch{}, heads_of_rows, shape.context, shape.heads, exact.data(), y_values.data(),
                         c.out_lse.data(), c.dy.data(), deltas.data(), c.grad.data(), scale);
  tc::launch_backward<D>(emulation::Launch{}, heads_of_rows, shape.context, shape.heads, qkv16.data() + shift,
                         y16.data() + shift, lse16.data(), c.dy.data(), deltas.data(), grad16.data(), scale);
  for (size_t i = 0; i < c.grad.size(); ++i) {
    ASSERT_EQ(grad16[i].bits, __float2bfloat16_rn(c.grad[i]).bits) << "dqkv, element " << i;
  }
}

TEST(TensorCoreAttentionEmulated, Bf16ActivationsGiveWhatTheKernelsGiveOnTheSameValuesInFp32) {
  check_bf16<64>({1, 100, 128, 2});
  check_bf16<32>({2, 130, 96, 3});
  check_bf16<64>({1, 100, 128, 2}, true);
}

// The fused kernels (fp32, a thread per row) with the GPU test's bounds.
template <int D>
void check_fused(const AttentionShape& shape) {
  SCOPED_TRACE(::testing::Message() << "fused: rows " << shape.rows << " T " << shape.context << " C " << shape.width
                                    << " H " << shape.heads);
  ASSERT_EQ(shape.head_dim(), D);
  AttentionCase c = attention_case(shape, 31);
  const float scale = 1.0f / std::sqrt(static_cast<float>(D));
  namespace fused = emulated_cuda::fused_attention;
  fused::launch_forward<D>(emulation::Launch{}, shape.rows * shape.heads, shape.context, shape.heads, c.qkv.data(),
                           c.out.data(), c.out_lse.data(), scale);
  expect_within(c.out, c.y, 1e-5, 0, "y");
  expect_within(c.out_lse, c.lse, 1e-5, 0, "log-sum-exp");
  fused::launch_backward<D>(emulation::Launch{}, shape.rows * shape.heads, shape.context, shape.heads, c.qkv.data(),
                            c.out.data(), c.out_lse.data(), c.dy.data(), c.grad.data(), scale);
  expect_within(c.grad, c.dqkv, 1e-4, 0, "dqkv");
}

TEST(FusedAttentionEmulated, MatchesTheCpuKernels) {
  check_fused<16>({2, 1, 32, 2});
  check_fused<16>({3, 17, 64, 4});
  check_fused<32>({2, 64, 64, 2});
  check_fused<64>({1, 100, 128, 2});
  check_fused<32>({2, 130, 96, 3});
}

// The plain path whole (its permutations, softmax kernels and the order and shapes of its
// products), a CPU strided batched product standing in for cuBLAS's, with the GPU test's bounds;
// head sizes the fused kernels lack (24, 12) too.
TEST(PlainAttentionEmulated, MatchesTheCpuKernels) {
  auto batched_gemm = [](bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
                         int64_t stride_a, const float* b, int64_t stride_b, float beta, float* c, int64_t stride_c,
                         int64_t batch) {
    for (int64_t i = 0; i < batch; ++i) {
      cpu::gemm(ta ? Transpose::kYes : Transpose::kNo, tb ? Transpose::kYes : Transpose::kNo, m, n, k, alpha,
                a + i * stride_a, b + i * stride_b, beta, c + i * stride_c);
    }
  };
  namespace plain = emulated_cuda::plain_attention;
  for (const AttentionShape shape : {AttentionShape{2, 1, 32, 2}, AttentionShape{3, 17, 64, 4},
                                     AttentionShape{2, 70, 48, 2}, AttentionShape{1, 33, 36, 3}}) {
    SCOPED_TRACE(::testing::Message() << "plain: rows " << shape.rows << " T " << shape.context << " C "
                                      << shape.width << " H " << shape.heads);
    AttentionCase c = attention_case(shape, 37);
    std::vector<float> workspace(static_cast<size_t>(plain::PlainWorkspace::floats(shape)), NAN);
    plain::forward(emulation::Launch{}, batched_gemm, shape, c.qkv.data(), c.out.data(), c.out_lse.data(),
                   workspace.data());
    expect_within(c.out, c.y, 1e-5, 0, "y");
    expect_within(c.out_lse, c.lse, 1e-5, 0, "log-sum-exp");
    plain::backward(emulation::Launch{}, batched_gemm, shape, c.qkv.data(), c.out.data(), c.out_lse.data(),
                    c.dy.data(), c.grad.data(), workspace.data());
    expect_within(c.grad, c.dqkv, 1e-4, 0, "dqkv");
  }
}

}  // namespace
}  // namespace rt::kernels
