// Sums in an order fixed by the rank count (comm/ordered_sum.h), under mpiexec -n 2 and -n 4:
// every rank's result is, bit for bit, the pairwise tree over the ranks' values in rank order,
// whether the sum is blocking or started, through which communicator it goes, and at any count.
#include <gtest/gtest.h>
#include <mpi.h>

#include <cstdlib>
#include <cstring>
#include <vector>

#include "comm/mpi_communicator.h"
#include "comm/ordered_sum.h"
#include "core/base/half.h"
#include "tests/comm/sum_test_values.h"

namespace rt {
namespace {

using testing::rank_values;
using testing::world_rank;
using testing::world_size;

// Every rank's values, rank after rank, summed locally in the expected tree.
std::vector<float> expected_sum(int count, uint64_t seed) {
  const int size = world_size();
  std::vector<float> all;
  for (int r = 0; r < size; ++r) {
    std::vector<float> values = rank_values(count, r, seed);
    all.insert(all.end(), values.begin(), values.end());
  }
  if (count > 0) OrderedSum::add_in_tree(all.data(), size, count, DType::kFloat32);
  return std::vector<float>(all.begin(), all.begin() + count);
}

void expect_bitwise(const std::vector<float>& got, const std::vector<float>& expected, const char* what) {
  ASSERT_EQ(got.size(), expected.size()) << what;
  EXPECT_EQ(std::memcmp(got.data(), expected.data(), got.size() * sizeof(float)), 0) << what;
}

TEST(OrderedSumTree, AddsNeighboursFirstInRankOrder) {
  // Three ranks: (a + b) + c; five: ((a + b) + (c + d)) + e. 1e8 absorbs a 1 added to it alone.
  std::vector<float> three = {1e8f, 1.0f, -1e8f};
  OrderedSum::add_in_tree(three.data(), 3, 1, DType::kFloat32);
  EXPECT_EQ(three[0], (1e8f + 1.0f) + -1e8f);
  EXPECT_EQ(three[0], 0.0f);
  std::vector<float> five = {1.0f, 1e8f, -1e8f, 1.0f, 0.5f};
  OrderedSum::add_in_tree(five.data(), 5, 1, DType::kFloat32);
  EXPECT_EQ(five[0], ((1.0f + 1e8f) + (-1e8f + 1.0f)) + 0.5f);
  // Two elements a slice: each element its own tree.
  std::vector<float> two_slices = {1.0f, 2.0f, 10.0f, 20.0f, 100.0f, 200.0f};
  OrderedSum::add_in_tree(two_slices.data(), 3, 2, DType::kFloat32);
  EXPECT_EQ(two_slices[0], 111.0f);
  EXPECT_EQ(two_slices[1], 222.0f);
}

TEST(OrderedSumTree, SixteenBitSumsRoundAfterEachAddition) {
  std::vector<bfloat16> values = {to_bfloat16(256.0f), to_bfloat16(1.0f), to_bfloat16(1.0f)};
  OrderedSum::add_in_tree(values.data(), 3, 1, DType::kBFloat16);
  EXPECT_EQ(to_float(values[0]), 256.0f);  // 256 + 1 rounds to 256 in bf16, and again
}

TEST(OrderedSum, BlockingAndStartedSumsAreThePairwiseTreeOnEveryRank) {
  OrderedSum ordered(MPI_COMM_WORLD);
  for (int count : {0, 1, 3, 5, 1000, 4099}) {
    const std::vector<float> expected = expected_sum(count, 7 + count);
    std::vector<float> blocking = rank_values(count, world_rank(), 7 + count);
    ordered.sum(blocking.data(), count, DType::kFloat32);
    expect_bitwise(blocking, expected, "blocking");
    std::vector<float> started = rank_values(count, world_rank(), 7 + count);
    ordered.start(started.data(), count, DType::kFloat32);
    while (!ordered.test()) {
    }
    expect_bitwise(started, expected, "started");
  }
}

TEST(OrderedSum, AStartedSumIsDoneAfterWait) {
  OrderedSum ordered(MPI_COMM_WORLD);
  std::vector<float> values = rank_values(777, world_rank(), 3);
  ordered.start(values.data(), 777, DType::kFloat32);
  ordered.wait();
  EXPECT_TRUE(ordered.test());
  expect_bitwise(values, expected_sum(777, 3), "waited");
}

// Through the communicator: at once, started, and in the hierarchy of pretend nodes of two
// consecutive ranks (per node, then among the nodes: the same tree), the same bits.
TEST(OrderedSum, EveryWayOfSummingInTheCommunicatorGivesTheSameBits) {
  const int count = 100003;
  const std::vector<float> reference = [&] {
    MpiCommunicator blocking(CommunicatorOptions{false, 0, true, CommunicatorOptions::StartedAllReduces::kBlocking});
    std::vector<float> values = rank_values(count, world_rank(), 11);
    blocking.all_reduce(Span<float>(values), ReduceOp::kSum);
    return values;
  }();
  if (world_size() > 2) expect_bitwise(reference, expected_sum(count, 11), "blocking communicator");

  MpiCommunicator started(CommunicatorOptions{false, 0, true, CommunicatorOptions::StartedAllReduces::kNonBlocking});
  ASSERT_TRUE(started.starts_all_reduces());
  std::vector<float> values = rank_values(count, world_rank(), 11);
  const uint64_t ticket = started.start_all_reduce(Span<float>(values));
  while (started.all_reduces_finished() < ticket) {
  }
  expect_bitwise(values, reference, "started sums");

  setenv("RINGTRAIN_RANKS_PER_NODE", "2", 1);
  MpiCommunicator hierarchical(CommunicatorOptions{true, 0, false});
  unsetenv("RINGTRAIN_RANKS_PER_NODE");
  std::vector<float> in_hierarchy = rank_values(count, world_rank(), 11);
  hierarchical.all_reduce(Span<float>(in_hierarchy), ReduceOp::kSum);
  expect_bitwise(in_hierarchy, reference, "hierarchical, two ranks a node");
}

}  // namespace
}  // namespace rt
