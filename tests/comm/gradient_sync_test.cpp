// Every synchronisation mode against the plain single all-reduce of the whole arena, under
// mpiexec -n 2 and -n 4: bucketed and overlapped (bucket boundaries that cut tensors, a bucket
// larger than the arena, one tensor), 16-bit wire formats within their tolerance, hierarchical
// with pretend nodes; buckets summed at once and started without waiting (as across machines).
// In every mode all ranks end bitwise identical.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>

#include "comm/consistency.h"
#include "comm/gradient_sync.h"
#include "comm/mpi_communicator.h"
#include "core/base/check.h"
#include "core/base/random.h"
#include "tests/test_support.h"

namespace rt {
namespace {

class GradientSyncTest : public ::testing::Test {
 protected:
  void SetUp() override {
    comm_ = make_world_communicator();
    CommunicatorOptions options;
    options.started_all_reduces = CommunicatorOptions::StartedAllReduces::kNonBlocking;
    nonblocking_ = make_world_communicator(options);
  }
  // Both ways of summing buckets: at once (on one machine, the default) and started without
  // waiting, as across machines (asked for here).
  std::vector<Communicator*> both_communicators() const { return {comm_.get(), nonblocking_.get()}; }

  // This rank's gradients: different on every rank, fresh for each seed.
  std::vector<float> rank_gradients(size_t count, uint64_t seed) const {
    Rng rng(seed, static_cast<uint64_t>(comm_->rank()));
    std::vector<float> values(count);
    for (float& v : values) v = rng.uniform(-1.0f, 1.0f);
    return values;
  }
  // The plain single all-reduce of the whole arena that every mode must match.
  std::vector<float> plain_sum(std::vector<float> values) const {
    comm_->all_reduce(Span<float>(values), ReduceOp::kSum);
    return values;
  }
  // Runs a step the way backward does: the final prefix grows by `stride` elements at a time.
  void synchronise(HostGradientSynchronizer& sync, size_t count, size_t stride) {
    for (size_t ready = stride; ready < count; ready += stride) sync.gradients_ready(ready);
    sync.wait();
  }
  void expect_identical_on_all_ranks(const std::vector<float>& values) {
    EXPECT_NO_THROW(check_identical_across_ranks(*comm_, Span<const float>(values.data(), values.size()), "test"));
  }
  static void expect_close(const std::vector<float>& actual, const std::vector<float>& expected, float tolerance) {
    ASSERT_EQ(actual.size(), expected.size());
    for (size_t i = 0; i < actual.size(); ++i) ASSERT_NEAR(actual[i], expected[i], tolerance) << "element " << i;
  }

  std::unique_ptr<Communicator> comm_;
  std::unique_ptr<Communicator> nonblocking_;
};

TEST_F(GradientSyncTest, RanksOfOneMachineSumAtOnceUnlessAskedToStartWithoutWaiting) {
  EXPECT_FALSE(comm_->starts_all_reduces());
  EXPECT_TRUE(nonblocking_->starts_all_reduces());
}

// Started all-reduces: several started at once, finished in order, each the plain sum.
TEST_F(GradientSyncTest, StartedAllReducesFinishInOrderWithThePlainSums) {
  Communicator& comm = *nonblocking_;
  std::vector<std::vector<float>> buffers, expected;
  std::vector<uint64_t> tickets;
  for (size_t b = 0; b < 5; ++b) {
    buffers.push_back(rank_gradients(1000 * b + 3, 20 + b));  // sizes 3 .. 4003, one of them tiny
    expected.push_back(plain_sum(buffers.back()));
  }
  std::vector<float> empty;
  for (std::vector<float>& buffer : buffers) tickets.push_back(comm.start_all_reduce(Span<float>(buffer)));
  const uint64_t nothing = comm.start_all_reduce(Span<float>(empty));
  for (size_t b = 1; b < tickets.size(); ++b) EXPECT_EQ(tickets[b], tickets[b - 1] + 1);
  uint64_t done = 0;
  while ((done = comm.all_reduces_finished()) < nothing) std::this_thread::sleep_for(kSumPollInterval);
  EXPECT_EQ(done, nothing);
  EXPECT_FALSE(comm.collective_in_progress().has_value());
  for (size_t b = 0; b < buffers.size(); ++b) {
    expect_close(buffers[b], expected[b], 1e-6f);
    expect_identical_on_all_ranks(buffers[b]);
  }
}

// A started all-reduce is a collective like the others: its header is compared first, so ranks
// that would start different ones are named before any data moves.
TEST_F(GradientSyncTest, StartedAllReducesOfDifferentSizesAreNamedBeforeAnyDataMoves) {
  std::vector<float> values(nonblocking_->rank() == 1 ? 4 : 8, 1.0f);
  std::string text = testing::error_message([&] {
    const uint64_t ticket = nonblocking_->start_all_reduce(Span<float>(values));
    while (nonblocking_->all_reduces_finished() < ticket) std::this_thread::sleep_for(kSumPollInterval);
  });
  EXPECT_NE(text.find("ranks are about to call different collectives"), std::string::npos) << text;
  EXPECT_NE(text.find("rank 1 calls #1 all-reduce of 4 float32"), std::string::npos) << text;
  EXPECT_EQ(values[0], 1.0f) << "data moved";
}

TEST_F(GradientSyncTest, ANonFiniteValueOfOneRankIsSeenByEveryRankWithStartedSums) {
  for (bool overlap : {true, false}) {
    std::vector<float> gradients = rank_gradients(3000, 31);
    GradientSyncOptions options;
    options.first_bucket_bytes = 400;
    options.bucket_bytes = 4000;
    options.overlap = overlap;
    HostGradientSynchronizer sync(*nonblocking_, Span<float>(gradients), options);
    synchronise(sync, 3000, 300);  // all finite
    std::vector<float> fresh = rank_gradients(3000, 32);
    if (nonblocking_->rank() == nonblocking_->size() - 1) fresh[2500] = std::nanf("");  // a later bucket
    std::copy(fresh.begin(), fresh.end(), gradients.begin());
    sync.gradients_ready(3000);
    EXPECT_EQ(sync.wait(), SumCheck::kNonFinite) << "overlap " << overlap;
    std::copy(fresh.begin(), fresh.end(), gradients.begin());
    gradients[2500] = 0.0f;
    sync.gradients_ready(3000);
    EXPECT_EQ(sync.wait(), SumCheck::kFinite) << "overlap " << overlap << ": the next step starts clean";
  }
}

struct Mode {
  size_t first_bytes, bytes, stride;
  bool overlap;
};

TEST_F(GradientSyncTest, BucketedAndOverlappedEqualThePlainAllReduce) {
  const size_t count = 10007;  // prime: buckets never divide it
  for (Communicator* comm : both_communicators())
  for (Mode mode : {Mode{0, 0, 1000, true},            // one bucket for everything
                    Mode{0, size_t{25} << 20, 1000, true},  // a bucket larger than the arena
                    Mode{400, 4000, 333, true},        // buckets that cut every "tensor" of 333
                    Mode{400, 4000, 333, false},       // the same, after backward
                    Mode{4, 4, 10007, true},           // one element per bucket... from a single tensor
                    Mode{1 << 20, 1 << 20, 7, true}}) {
    if (mode.bytes == 4 && count > 2000) continue;
    std::vector<float> gradients = rank_gradients(count, mode.stride + mode.bytes);
    std::vector<float> expected = plain_sum(gradients);
    GradientSyncOptions options;
    options.first_bucket_bytes = mode.first_bytes;
    options.bucket_bytes = mode.bytes;
    options.overlap = mode.overlap;
    HostGradientSynchronizer sync(*comm, Span<float>(gradients), options);
    for (int step = 0; step < 2; ++step) {  // the synchroniser is reused step after step
      std::vector<float> fresh = rank_gradients(count, 100 * step + mode.stride);
      std::copy(fresh.begin(), fresh.end(), gradients.begin());
      expected = plain_sum(fresh);
      synchronise(sync, count, mode.stride);
      ASSERT_NO_FATAL_FAILURE(expect_close(gradients, expected, 1e-6f)) << comm->starts_all_reduces();
      expect_identical_on_all_ranks(gradients);
    }
  }
}

// A bucket larger than the communicator's all-reduce piece (4 MiB between ranks of one machine;
// the synchroniser's pieces are at most 1 MiB) is summed piece by piece, each piece checked for
// non-finite values: the sum matches the plain
// all-reduce, and a NaN in a later piece on one rank makes every rank's wait() report it.
TEST_F(GradientSyncTest, ABucketOfSeveralPiecesSumsAndChecksEachPiece) {
  ASSERT_GT(comm_->all_reduce_piece_bytes(), 0u) << "ranks of one machine";
  const size_t count = 2 * comm_->all_reduce_piece_bytes() / sizeof(float) + 1001;
  std::vector<float> gradients = rank_gradients(count, 11);
  const std::vector<float> expected = plain_sum(gradients);
  GradientSyncOptions options;
  options.first_bucket_bytes = 0;
  options.bucket_bytes = size_t{25} << 20;  // one bucket of three pieces
  HostGradientSynchronizer sync(*comm_, Span<float>(gradients), options);
  ASSERT_EQ(sync.buckets().size(), 1u);
  synchronise(sync, count, count);
  expect_close(gradients, expected, 1e-6f);
  expect_identical_on_all_ranks(gradients);

  std::vector<float> fresh = rank_gradients(count, 12);
  if (comm_->rank() == comm_->size() - 1) fresh[count - 10] = std::nanf("");  // in the last piece
  std::copy(fresh.begin(), fresh.end(), gradients.begin());
  sync.gradients_ready(count);
  EXPECT_EQ(sync.wait(), SumCheck::kNonFinite) << "a NaN in the last piece of one rank is seen by every rank";
}

TEST_F(GradientSyncTest, ManyTinyBucketsFromOneTensor) {
  for (Communicator* comm : both_communicators()) {
    std::vector<float> gradients = rank_gradients(257, 5);
    std::vector<float> expected = plain_sum(gradients);
    GradientSyncOptions options;
    options.first_bucket_bytes = 4;
    options.bucket_bytes = 12;
    HostGradientSynchronizer sync(*comm, Span<float>(gradients), options);
    EXPECT_EQ(sync.buckets().size(), 1u + 86u);
    synchronise(sync, 257, 257);
    expect_close(gradients, expected, 1e-6f);
    expect_identical_on_all_ranks(gradients);
  }
}

TEST_F(GradientSyncTest, SixteenBitWireFormatsStayWithinTheirPrecision) {
  // Sums of up to 4 values in [-1, 1]: bf16 keeps 8 bits of mantissa, fp16 11.
  for (Communicator* comm : both_communicators())
  for (auto [wire, tolerance] : {std::pair{WireFormat::kBFloat16, 6e-2f}, std::pair{WireFormat::kFloat16, 8e-3f}}) {
    std::vector<float> gradients = rank_gradients(5000, 9);
    std::vector<float> expected = plain_sum(gradients);
    GradientSyncOptions options;
    options.first_bucket_bytes = 1024;
    options.bucket_bytes = 8192;
    options.wire = wire;
    HostGradientSynchronizer sync(*comm, Span<float>(gradients), options);
    synchronise(sync, 5000, 500);
    expect_close(gradients, expected, tolerance);
    expect_identical_on_all_ranks(gradients);
    double error = 0;
    for (size_t i = 0; i < gradients.size(); ++i) error = std::max(error, double(std::abs(gradients[i] - expected[i])));
    EXPECT_GT(error, 0.0) << "16-bit rounding should show";
  }
}

// Two ranks a node: at 4 ranks two nodes of two; three a node: nodes of 3 and 1. At 2 ranks one
// node either way.
class HierarchicalTest : public GradientSyncTest, public ::testing::WithParamInterface<int> {};

TEST_P(HierarchicalTest, WithPretendNodesEqualsThePlainAllReduce) {
  const int per_node = GetParam();
  setenv("RINGTRAIN_RANKS_PER_NODE", std::to_string(per_node).c_str(), 1);
  MpiCommunicator hierarchical(CommunicatorOptions{true, 0, false});
  unsetenv("RINGTRAIN_RANKS_PER_NODE");
  const int nodes = (comm_->size() + per_node - 1) / per_node;
  EXPECT_EQ(hierarchical.nodes(), nodes);
  std::vector<float> gradients = rank_gradients(3001, 13);
  std::vector<float> expected = plain_sum(gradients);
  GradientSyncOptions options;
  options.first_bucket_bytes = 400;
  options.bucket_bytes = 4000;
  HostGradientSynchronizer sync(hierarchical, Span<float>(gradients), options);
  synchronise(sync, 3001, 300);
  expect_close(gradients, expected, 1e-6f);
  expect_identical_on_all_ranks(gradients);

  std::vector<int64_t> exact{comm_->rank() + 1};
  hierarchical.all_reduce(Span<int64_t>(exact), ReduceOp::kSum);
  EXPECT_EQ(exact[0], comm_->size() * (comm_->size() + 1) / 2);

  // bf16 through our own MPI operation, on small integers whose sums bf16 holds exactly.
  std::vector<bfloat16> halves(1001);
  for (size_t i = 0; i < halves.size(); ++i) halves[i] = to_bfloat16(static_cast<float>((i + comm_->rank()) % 7));
  hierarchical.all_reduce(Span<bfloat16>(halves), ReduceOp::kSum);
  for (size_t i = 0; i < halves.size(); ++i) {
    float sum = 0;
    for (int r = 0; r < comm_->size(); ++r) sum += static_cast<float>((i + r) % 7);
    ASSERT_EQ(to_float(halves[i]), sum) << "element " << i;
  }
}

INSTANTIATE_TEST_SUITE_P(RanksPerNode, HierarchicalTest, ::testing::Values(2, 3));

// comm.backend = "nccl" for GPU gradients is refused on every rank alike where some host has fewer
// GPUs than ranks (the ranks agree on it with a collective before any NCCL call).
TEST_F(GradientSyncTest, NcclWithoutAGpuPerRankIsRefusedOnEveryRank) {
  std::vector<float> gradients(10, 1.0f);
  GradientSyncPlacement placement;
  placement.device = Device::kCuda;
  placement.backend = CollectiveBackend::kNccl;
  placement.local_ranks = 2;
  placement.visible_gpus = comm_->rank() == 0 ? 1 : 2;  // rank 0's host lacks one
  if (comm_->size() == 1) return;
  const std::string message = testing::error_message(
      [&] { make_gradient_synchronizer(*comm_, Span<float>(gradients), GradientSyncOptions{}, placement); });
  EXPECT_NE(message.find("comm.backend = \"nccl\" needs a GPU per rank"), std::string::npos) << message;
}

TEST_F(GradientSyncTest, ADifferingRankIsNamedByTheConsistencyCheck) {
  std::vector<float> parameters(100, 0.5f);
  EXPECT_NO_THROW(check_identical_across_ranks(*comm_, Span<const float>(parameters.data(), 100), "step 1"));
  if (comm_->rank() == 1) parameters[42] = std::nextafter(0.5f, 1.0f);
  try {
    check_identical_across_ranks(*comm_, Span<const float>(parameters.data(), 100), "step 2");
    FAIL() << "the differing rank went unnoticed";
  } catch (const Error& error) {
    std::string text = error.what();
    EXPECT_NE(text.find("at step 2: rank(s) 1 ("), std::string::npos) << text;
  }
}

TEST_F(GradientSyncTest, CollectivesThatDifferBetweenRanksAreNamedWithinTheStep) {
  CommunicatorOptions options;
  options.verify_collectives = false;  // the per-step check alone
  std::unique_ptr<Communicator> comm = make_world_communicator(options);
  std::vector<float> same(8, 1.0f);
  comm->all_reduce(Span<float>(same), ReduceOp::kSum);
  EXPECT_FALSE(check_collectives_agree(*comm, false, "step 1"));
  EXPECT_TRUE(check_collectives_agree(*comm, comm->rank() == comm->size() - 1, "step 2"));  // one rank's flag
  // Rank 1 sums its 4 values as int64 where the others sum doubles: MPI moves the same bytes and
  // completes, silently mixing the two; the step's check catches it.
  if (comm->rank() == 1) {
    std::vector<int64_t> ints(4, 1);
    comm->all_reduce(Span<int64_t>(ints), ReduceOp::kSum);
  } else {
    std::vector<double> doubles(4, 1.0);
    comm->all_reduce(Span<double>(doubles), ReduceOp::kSum);
  }
  std::string text = testing::error_message([&] { check_collectives_agree(*comm, false, "step 3"); });
  EXPECT_NE(text.find("ranks called different collectives by step 3"), std::string::npos) << text;
  EXPECT_NE(text.find("rank(s) 1 last called #"), std::string::npos) << text;
  EXPECT_NE(text.find("all-reduce of 4 int64"), std::string::npos) << text;
}

TEST_F(GradientSyncTest, CollectivesOfDifferentSizesAreNamedBeforeAnyDataMoves) {
  CommunicatorOptions options;
  options.verify_collectives = true;
  std::unique_ptr<Communicator> comm = make_world_communicator(options);
  std::vector<float> same(8, 1.0f);
  comm->all_reduce(Span<float>(same), ReduceOp::kSum);
  EXPECT_EQ(same[0], static_cast<float>(comm->size()));
  // Rank 1 all-reduces 4 floats where the others all-reduce 8: refused on every rank, naming them.
  std::vector<float> values(comm->rank() == 1 ? 4 : 8, 1.0f);
  std::string text = testing::error_message([&] { comm->all_reduce(Span<float>(values), ReduceOp::kSum); });
  EXPECT_NE(text.find("ranks are about to call different collectives"), std::string::npos) << text;
  EXPECT_NE(text.find("rank 1 calls #2 all-reduce of 4 float32"), std::string::npos) << text;
  EXPECT_NE(text.find("rank 0 calls #2 all-reduce of 8 float32"), std::string::npos) << text;
  EXPECT_EQ(values[0], 1.0f) << "data moved";
}

}  // namespace
}  // namespace rt
