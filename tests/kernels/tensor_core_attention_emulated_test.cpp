// The tensor-core attention kernels run on the CPU under a host emulation of CUDA
// (cuda_emulation.h), against the CPU kernels: forward and backward, for lengths that are and are
// not multiples of the 64-row tiles, one token alone, and both head sizes. The bounds are those of
// the GPU test (cuda_kernels_test.cpp, AttentionOnTensorCoresMatchesTheCpuWithinBf16Rounding),
// three times the error of the kernels' bf16 rounding; a wrong tile, a transposed operand, a
// missing mask or a fragment register in the wrong place is off by far more.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "tests/kernels/cuda_emulation.h"
// The kernels, compiled for the emulation:
#include "kernels/cuda/attention_tensor_core_kernels.cuh"
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

// `misaligned`: q, k, v and dO start one float past a 16-byte boundary, so that the kernels load
// them a float at a time instead of four.
template <int D>
void check(const AttentionShape& shape, bool misaligned = false) {
  SCOPED_TRACE(::testing::Message() << "rows " << shape.rows << " T " << shape.context << " C " << shape.width
                                    << " H " << shape.heads << (misaligned ? " misaligned" : ""));
  ASSERT_EQ(shape.head_dim(), D);
  Rng rng(23);
  const int64_t n = shape.rows * shape.context * shape.width;
  std::vector<float> qkv(static_cast<size_t>(3 * n)), dy(static_cast<size_t>(n));
  for (float& v : qkv) v = rng.uniform(-2.0f, 2.0f);
  for (float& v : dy) v = rng.uniform(-1.0f, 1.0f);
  std::vector<float> y(n), lse(shape.rows * shape.heads * shape.context), dqkv(3 * n);
  cpu::attention_forward(shape, qkv.data(), y.data(), lse.data());
  cpu::attention_backward(shape, qkv.data(), y.data(), lse.data(), dy.data(), dqkv.data());

  std::vector<float> out(y.size(), NAN), out_lse(lse.size(), NAN), grad(dqkv.size(), NAN);
  // The kernels' inputs, one float further along when misaligned.
  const size_t shift = misaligned ? 1 : 0;
  std::vector<float> qkv_in(shift), dy_in(shift);
  qkv_in.insert(qkv_in.end(), qkv.begin(), qkv.end());
  dy_in.insert(dy_in.end(), dy.begin(), dy.end());
  const float* q_k_v = qkv_in.data() + shift;
  const float* d_out = dy_in.data() + shift;
  const float scale = 1.0f / std::sqrt(static_cast<float>(D));
  const int64_t heads_of_rows = shape.rows * shape.heads;
  tc::launch_forward<D>(emulation::Launch{}, heads_of_rows, shape.context, shape.heads, q_k_v, out.data(),
                        out_lse.data(), scale);
  expect_within(out, y, 0.03, 0, "y");
  expect_within(out_lse, lse, 0.03, 0, "log-sum-exp");
  // Backward from the emulated forward's outputs, as on the GPU.
  std::vector<float> deltas(static_cast<size_t>(heads_of_rows * shape.context), NAN);
  tc::launch_backward<D>(emulation::Launch{}, heads_of_rows, shape.context, shape.heads, q_k_v, out.data(),
                         out_lse.data(), d_out, deltas.data(), grad.data(), scale);
  expect_within(grad, dqkv, 0.03, 0.0025, "dqkv");
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

}  // namespace
}  // namespace rt::kernels
