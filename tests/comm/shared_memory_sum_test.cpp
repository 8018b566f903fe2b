// Sums through a shared-memory window (comm/shared_memory_sum.h), under mpiexec -n 2 and -n 4 on
// one machine: every rank's result is, bit for bit, the pairwise tree over the ranks' values in
// rank order (for two ranks x0 + x1, MPI's own sum), at counts that span several pieces and both
// slots, in float32 and in 16 bits; and the communicator's sums through it equal its sums through
// MPI's messages.
#include <gtest/gtest.h>
#include <mpi.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "comm/mpi_communicator.h"
#include "comm/ordered_sum.h"
#include "comm/shared_memory_sum.h"
#include "core/base/check.h"
#include "core/base/half.h"
#include "tests/comm/sum_test_values.h"

namespace rt {
namespace {

using testing::rank_values;
using testing::world_rank;
using testing::world_size;

template <typename T, typename Convert>
std::vector<T> converted(const std::vector<float>& values, Convert convert) {
  std::vector<T> out(values.size());
  for (size_t i = 0; i < values.size(); ++i) out[i] = convert(values[i]);
  return out;
}

// Every rank's values (as T), rank after rank, summed locally in the tree.
template <typename T, typename Convert>
std::vector<T> expected_sum(size_t count, uint64_t seed, DType dtype, Convert convert) {
  std::vector<T> all;
  for (int r = 0; r < world_size(); ++r) {
    std::vector<T> values = converted<T>(rank_values(count, r, seed), convert);
    all.insert(all.end(), values.begin(), values.end());
  }
  if (count > 0) OrderedSum::add_in_tree(all.data(), world_size(), static_cast<int>(count), dtype);
  return std::vector<T>(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(count));
}

template <typename T>
bool bitwise_equal(const std::vector<T>& a, const std::vector<T>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(T)) == 0;
}

const size_t kPieceFloats = SharedMemorySum::kSlotBytes / sizeof(float);

TEST(SharedMemorySum, Float32SumsAreThePairwiseTreeOnEveryRank) {
  SharedMemorySum shared(MPI_COMM_WORLD);
  // Within a piece, exactly one, past it, and over several (both slots, turn about).
  for (size_t count : {size_t{0}, size_t{1}, size_t{3}, size_t{5}, size_t{1000}, kPieceFloats, kPieceFloats + 7,
                       3 * kPieceFloats + 1}) {
    const auto same = [](float v) { return v; };
    std::vector<float> values = rank_values(count, world_rank(), 5 + count);
    shared.sum(values.data(), count, DType::kFloat32);
    EXPECT_TRUE(bitwise_equal(values, expected_sum<float>(count, 5 + count, DType::kFloat32, same))) << count;
    if (world_size() == 2 && count > 0) {
      EXPECT_EQ(values[0], rank_values(1, 0, 5 + count)[0] + rank_values(1, 1, 5 + count)[0]);
    }
  }
}

TEST(SharedMemorySum, SixteenBitSumsRoundAfterEachAdditionAsOrderedSumsDo) {
  SharedMemorySum shared(MPI_COMM_WORLD);
  const size_t count = 2 * SharedMemorySum::kSlotBytes / sizeof(uint16_t) + 11;
  std::vector<bfloat16> brain = converted<bfloat16>(rank_values(count, world_rank(), 21), to_bfloat16);
  shared.sum(brain.data(), count, DType::kBFloat16);
  EXPECT_TRUE(bitwise_equal(brain, expected_sum<bfloat16>(count, 21, DType::kBFloat16, to_bfloat16)));
  std::vector<float16> half = converted<float16>(rank_values(count, world_rank(), 22), to_float16);
  shared.sum(half.data(), count, DType::kFloat16);
  EXPECT_TRUE(bitwise_equal(half, expected_sum<float16>(count, 22, DType::kFloat16, to_float16)));
}

// The check made while adding: a NaN on one rank, deep in the third piece, or sums that overflow
// to infinity though every rank's values are finite, make the answer false on every rank; the
// next sum, finite, is true again.
TEST(SharedMemorySum, ItsCheckSeesANonFiniteSumAnywhereOnEveryRank) {
  SharedMemorySum shared(MPI_COMM_WORLD);
  const size_t count = 3 * kPieceFloats - 5;
  auto checked = [&](std::vector<float>& values) {
    bool finite = false;
    shared.sum(values.data(), values.size(), DType::kFloat32, &finite);
    return finite;
  };
  std::vector<float> values = rank_values(count, world_rank(), 41);
  EXPECT_TRUE(checked(values));
  EXPECT_TRUE(bitwise_equal(values, expected_sum<float>(count, 41, DType::kFloat32, [](float v) { return v; })));
  for (size_t where : {size_t{0}, kPieceFloats + 1, count - 1}) {
    values = rank_values(count, world_rank(), 42);
    if (world_rank() == world_size() - 1) values[where] = std::nanf("");
    EXPECT_FALSE(checked(values)) << where;
  }
  std::vector<float> huge(count, 1.0f);
  huge[2 * kPieceFloats + 3] = 3e38f;  // finite on each rank, infinite summed
  EXPECT_FALSE(checked(huge));
  values = rank_values(count, world_rank(), 43);
  EXPECT_TRUE(checked(values));
  std::vector<float> none;
  EXPECT_TRUE(checked(none));
}

TEST(SharedMemorySum, RefusesWhatItDoesNotSum) {
  SharedMemorySum shared(MPI_COMM_WORLD);
  std::vector<int32_t> integers(4, 1);
  EXPECT_THROW(shared.sum(integers.data(), integers.size(), DType::kInt32), Error);
}

// The communicator on one machine sums floats through the window, and gets the bits of its sums
// through MPI's messages, for sums, averages and 16-bit sums, between other collectives.
TEST(SharedMemorySum, TheCommunicatorsSumsEqualItsSumsThroughMessages) {
  CommunicatorOptions with_window, with_messages;
  with_messages.shared_memory_sums = false;
  MpiCommunicator shared(with_window), messages(with_messages);
  EXPECT_NE(shared.backend().find("shared memory"), std::string::npos) << shared.backend();
  EXPECT_EQ(messages.backend().find("shared memory"), std::string::npos) << messages.backend();
  const size_t count = 5 * kPieceFloats + 3;  // several of the communicator's own pieces too
  for (ReduceOp op : {ReduceOp::kSum, ReduceOp::kAverage}) {
    std::vector<float> a = rank_values(count, world_rank(), 31), b = a;
    shared.all_reduce(Span<float>(a), op);
    messages.all_reduce(Span<float>(b), op);
    EXPECT_TRUE(bitwise_equal(a, b));
    EXPECT_EQ(shared.all_reduce_value(1, ReduceOp::kSum), world_size());  // an integer sum between
  }
  // Summed and checked: the same bits and the same answer, finite or not.
  for (bool poisoned : {false, true}) {
    std::vector<float> a = rank_values(count, world_rank(), 33), b = a;
    if (poisoned && world_rank() == 0) a[count / 2] = b[count / 2] = std::numeric_limits<float>::infinity();
    EXPECT_EQ(shared.sum_checking_finite(Span<float>(a)), !poisoned);
    EXPECT_EQ(messages.sum_checking_finite(Span<float>(b)), !poisoned);
    EXPECT_TRUE(bitwise_equal(a, b));
  }
  std::vector<bfloat16> a = converted<bfloat16>(rank_values(count, world_rank(), 32), to_bfloat16), b = a;
  shared.all_reduce(Span<bfloat16>(a), ReduceOp::kSum);
  messages.all_reduce(Span<bfloat16>(b), ReduceOp::kSum);
  EXPECT_TRUE(bitwise_equal(a, b));
}

}  // namespace
}  // namespace rt
