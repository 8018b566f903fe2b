// The MPI communicator under mpiexec -n 2 and -n 4, with exact expected values: rank r fills
// its buffers with values derived from r, so every result is known in closed form.
#include <gtest/gtest.h>

#include <vector>

#include "comm/communicator.h"
#include "core/base/check.h"

namespace rt {
namespace {

class MpiCommunicatorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    comm_ = make_world_communicator();
    ASSERT_EQ(comm_->backend().rfind("mpi", 0), 0u) << comm_->backend();
    rank_ = comm_->rank();
    size_ = comm_->size();
  }
  std::unique_ptr<Communicator> comm_;
  int rank_ = 0, size_ = 1;
};

TEST_F(MpiCommunicatorTest, AllReduceSumAverageMinMaxOfFloats) {
  const size_t n = 1000;
  std::vector<float> sum(n), average(n), low(n), high(n);
  for (size_t i = 0; i < n; ++i) sum[i] = average[i] = low[i] = high[i] = static_cast<float>(rank_ + 1) * (i + 1);
  comm_->all_reduce(Span<float>(sum), ReduceOp::kSum);
  comm_->all_reduce(Span<float>(average), ReduceOp::kAverage);
  comm_->all_reduce(Span<float>(low), ReduceOp::kMin);
  comm_->all_reduce(Span<float>(high), ReduceOp::kMax);
  const float rank_sum = size_ * (size_ + 1) / 2.0f;
  for (size_t i = 0; i < n; ++i) {
    ASSERT_EQ(sum[i], rank_sum * (i + 1));
    ASSERT_FLOAT_EQ(average[i], rank_sum * (i + 1) / size_);
    ASSERT_EQ(low[i], static_cast<float>(i + 1));
    ASSERT_EQ(high[i], static_cast<float>(size_) * (i + 1));
  }
}

// Ranks on one machine all-reduce in pieces of 4 MiB: a buffer of several pieces and a short
// last one comes out exact across the piece boundaries, summed and averaged.
TEST_F(MpiCommunicatorTest, AllReduceOfSeveralMiBIsExactAcrossItsPieces) {
  const size_t n = (size_t{10} << 20) / sizeof(float) + 7;  // 2.5 pieces of floats
  std::vector<float> sum(n), average(n);
  for (size_t i = 0; i < n; ++i) sum[i] = average[i] = static_cast<float>((rank_ + 1) * (i % 1000 + 1));
  comm_->all_reduce(Span<float>(sum), ReduceOp::kSum);
  comm_->all_reduce(Span<float>(average), ReduceOp::kAverage);
  const float rank_sum = size_ * (size_ + 1) / 2.0f;
  for (size_t i = 0; i < n; ++i) {
    ASSERT_EQ(sum[i], rank_sum * static_cast<float>(i % 1000 + 1)) << "element " << i;
    ASSERT_FLOAT_EQ(average[i], rank_sum * static_cast<float>(i % 1000 + 1) / size_) << "element " << i;
  }
}

TEST_F(MpiCommunicatorTest, AllReduceOfIntegersAndDoublesIsExact) {
  std::vector<int64_t> big{int64_t{1} << 40, rank_};
  comm_->all_reduce(Span<int64_t>(big), ReduceOp::kSum);
  EXPECT_EQ(big[0], size_ * (int64_t{1} << 40));
  EXPECT_EQ(big[1], size_ * (size_ - 1) / 2);
  EXPECT_EQ(comm_->all_reduce_value<int32_t>(rank_ * 10, ReduceOp::kMax), (size_ - 1) * 10);
  EXPECT_EQ(comm_->all_reduce_value<double>(0.5 * rank_, ReduceOp::kAverage), 0.25 * (size_ - 1));
}

TEST_F(MpiCommunicatorTest, AverageOfIntegersIsRefused) {
  std::vector<int32_t> values{1};
  EXPECT_THROW(comm_->all_reduce(Span<int32_t>(values), ReduceOp::kAverage), Error);
}

TEST_F(MpiCommunicatorTest, BroadcastFromEveryRoot) {
  for (int root = 0; root < size_; ++root) {
    std::vector<float> values(257, static_cast<float>(rank_));
    comm_->broadcast(Span<float>(values), root);
    for (float v : values) ASSERT_EQ(v, static_cast<float>(root));
  }
  std::vector<float> values(1);
  EXPECT_THROW(comm_->broadcast(Span<float>(values), size_), Error);
}

TEST_F(MpiCommunicatorTest, AllGatherPlacesEachRanksBlockAtItsRank) {
  std::vector<int32_t> sent{rank_, rank_ * rank_, -rank_};
  std::vector<int32_t> received(3 * size_, -999);
  comm_->all_gather(Span<const int32_t>(sent.data(), sent.size()), Span<int32_t>(received));
  for (int r = 0; r < size_; ++r) {
    EXPECT_EQ(received[3 * r], r);
    EXPECT_EQ(received[3 * r + 1], r * r);
    EXPECT_EQ(received[3 * r + 2], -r);
  }
}

TEST_F(MpiCommunicatorTest, AllGatherWithAWrongReceiveSizeIsRefusedBeforeCommunicating) {
  std::vector<float> sent(2), received(2 * size_ + 1);
  EXPECT_THROW(comm_->all_gather(Span<const float>(sent.data(), 2), Span<float>(received)), Error);
}

TEST_F(MpiCommunicatorTest, EmptyBufferAndBarrier) {
  std::vector<float> none;
  comm_->all_reduce(Span<float>(none), ReduceOp::kSum);
  comm_->barrier();
  SUCCEED();
}

}  // namespace
}  // namespace rt
