#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>
#include <vector>

#include "core/base/random.h"

namespace rt {
namespace {

TEST(Rng, SameSeedAndStreamGiveTheSameSequence) {
  Rng a(7, 3), b(7, 3), c(7, 4), d(8, 3);
  std::vector<uint64_t> va, vb, vc, vd;
  for (int i = 0; i < 16; ++i) {
    va.push_back(a.next_u64());
    vb.push_back(b.next_u64());
    vc.push_back(c.next_u64());
    vd.push_back(d.next_u64());
  }
  EXPECT_EQ(va, vb);
  EXPECT_NE(va, vc);
  EXPECT_NE(va, vd);
}

TEST(Rng, KnownValuesStayTheSameAcrossBuilds) {
  // A seed must mean the same run on every machine and standard library: the first outputs are
  // pinned, so a change to the generator (which would change every run) cannot pass unnoticed.
  Rng rng(1, 0);
  EXPECT_EQ(rng.next_u64(), 9295787946882599277ULL);
  EXPECT_EQ(rng.next_u64(), 8782556420248384571ULL);
  EXPECT_EQ(Rng(1, 0).below(1000000), 503925u);
}

TEST(Rng, UniformIsInRangeWithTheRightMean) {
  Rng rng(11);
  double sum = 0;
  const int n = 100000;
  for (int i = 0; i < n; ++i) {
    float u = rng.uniform(-2.0f, 2.0f);
    ASSERT_GE(u, -2.0f);
    ASSERT_LT(u, 2.0f);
    sum += u;
  }
  EXPECT_NEAR(sum / n, 0.0, 0.02);
}

TEST(Rng, BelowCoversEveryValueEvenly) {
  Rng rng(5);
  std::vector<int> counts(7, 0);
  for (int i = 0; i < 70000; ++i) ++counts[rng.below(7)];
  for (int count : counts) EXPECT_NEAR(count, 10000, 500);
}

TEST(Rng, ShuffleIsAPermutation) {
  Rng rng(9);
  std::vector<int> values(1000);
  std::iota(values.begin(), values.end(), 0);
  std::vector<int> shuffled = values;
  rng.shuffle(shuffled.data(), shuffled.size());
  EXPECT_NE(shuffled, values);
  std::sort(shuffled.begin(), shuffled.end());
  EXPECT_EQ(shuffled, values);
}

}  // namespace
}  // namespace rt
