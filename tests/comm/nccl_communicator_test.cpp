// The NCCL communicator and the GPU gradient synchronisers under mpiexec, with exact expected
// values. NCCL needs a GPU per rank: with fewer GPUs than ranks on this host the NCCL tests skip,
// saying so, while the MPI-staged synchroniser (which ranks sharing a GPU use) is tested anyway.
#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include <chrono>
#include <thread>
#include <vector>

#include "comm/device_gradient_sync.h"
#include "comm/nccl_communicator.h"
#include "core/base/environment.h"
#include "kernels/cuda/cuda_kernels.h"
#include "kernels/cuda/device_buffer.h"
#include "kernels/cuda/stream.h"
#include "tests/test_support.h"

namespace rt {
namespace {

namespace cuda = kernels::cuda;

class DeviceCommTest : public ::testing::Test {
 protected:
  void SetUp() override {
    comm_ = make_world_communicator();
    // Every rank must take the same decision to skip, or the others would hang in a collective.
    const int gpus = cuda::device_count();
    placement_ = detect_placement();
    if (comm_->all_reduce_value<int32_t>(gpus, ReduceOp::kMin) == 0) GTEST_SKIP() << "no CUDA device visible";
    cuda::set_device(placement_.local_rank % gpus);
    own_gpu_ = comm_->all_reduce_value<int32_t>(placement_.local_size <= gpus ? 1 : 0, ReduceOp::kMin) == 1;
  }
  // Why NCCL cannot run here, or empty. (GTEST_SKIP must be in the test body itself: in a helper
  // it would only leave the helper.)
  std::string why_no_nccl() const {
    if (!NcclCommunicator::available()) return "this build has no NCCL";
    if (!own_gpu_) return "NCCL needs a GPU per rank; this host has fewer GPUs than ranks";
    return "";
  }
  std::unique_ptr<Communicator> comm_;
  Placement placement_;
  bool own_gpu_ = false;
};

// Element i of rank r: r * 1000 + i, small integers, so every sum is exact in float.
std::vector<float> rank_values(int rank, size_t count) {
  std::vector<float> values(count);
  for (size_t i = 0; i < count; ++i) values[i] = static_cast<float>(rank * 1000 + static_cast<int>(i % 1000));
  return values;
}
float expected_sum(int size, size_t i) {
  float sum = 0;
  for (int r = 0; r < size; ++r) sum += static_cast<float>(r * 1000 + static_cast<int>(i % 1000));
  return sum;
}

TEST_F(DeviceCommTest, NcclCollectivesGiveExactValues) {
  if (std::string why = why_no_nccl(); !why.empty()) GTEST_SKIP() << why;
  NcclCommunicator nccl(*comm_, 60);
  EXPECT_EQ(nccl.rank(), comm_->rank());
  EXPECT_EQ(nccl.size(), comm_->size());
  const int size = comm_->size(), rank = comm_->rank();
  const size_t count = 100'003;

  cuda::DeviceBuffer<float> sum(rank_values(rank, count));
  nccl.all_reduce(Span<float>(sum.data(), count), ReduceOp::kSum);
  std::vector<float> got = sum.download();
  for (size_t i = 0; i < count; ++i) ASSERT_EQ(got[i], expected_sum(size, i)) << i;

  cuda::DeviceBuffer<double> maximum(std::vector<double>{static_cast<double>(rank), -static_cast<double>(rank)});
  nccl.all_reduce(Span<double>(maximum.data(), 2), ReduceOp::kMax);
  EXPECT_EQ(maximum.download(), (std::vector<double>{static_cast<double>(size - 1), 0.0}));

  cuda::DeviceBuffer<int64_t> broadcast(std::vector<int64_t>{rank == size - 1 ? 42 : -1, rank});
  nccl.broadcast(Span<int64_t>(broadcast.data(), 2), size - 1);
  EXPECT_EQ(broadcast.download(), (std::vector<int64_t>{42, size - 1}));

  cuda::DeviceBuffer<int32_t> sent(std::vector<int32_t>{rank, rank * 10});
  cuda::DeviceBuffer<int32_t> gathered(static_cast<size_t>(2 * size));
  nccl.all_gather(Span<const int32_t>(sent.data(), 2), Span<int32_t>(gathered.data(), 2 * size));
  std::vector<int32_t> all = gathered.download();
  for (int r = 0; r < size; ++r) {
    EXPECT_EQ(all[2 * r], r);
    EXPECT_EQ(all[2 * r + 1], r * 10);
  }
}

// Backward is mimicked by kernels that write the arena piece by piece on a compute stream,
// announcing each piece as final, so buckets start while later pieces are still being written.
void check_device_sync(Communicator& comm, const std::function<std::unique_ptr<GradientSynchronizer>(
                                               float*, size_t, GradientSyncOptions, void*)>& make) {
  const size_t count = 300'001;  // buckets cut it unevenly
  const int size = comm.size(), rank = comm.rank();
  for (bool overlap : {true, false}) {
    cuda::Stream compute;
    cuda::StreamScope scope(compute.handle());
    cuda::DeviceBuffer<float> gradients(count);
    gradients.poison();
    GradientSyncOptions options;
    options.first_bucket_bytes = 10'000 * sizeof(float);
    options.bucket_bytes = 70'000 * sizeof(float);
    options.overlap = overlap;
    auto sync = make(gradients.data(), count, options, compute.handle());
    EXPECT_EQ(sync->buckets().size(), 6u);
    std::vector<float> values = rank_values(rank, count);
    for (int step = 0; step < 3; ++step) {
      gradients.poison();
      for (size_t done = 0; done < count;) {
        const size_t piece = std::min<size_t>(45'000, count - done);
        cuda::copy_async(gradients.data() + done, values.data() + done, piece * sizeof(float), compute.handle());
        done += piece;
        sync->gradients_ready(done);
      }
      EXPECT_EQ(sync->wait(), SumCheck::kOnDevice);  // the check is the caller's, on the GPU
      std::vector<float> got(count);
      cuda::copy_async(got.data(), gradients.data(), count * sizeof(float), compute.handle());
      compute.synchronize();
      for (size_t i = 0; i < count; ++i) ASSERT_EQ(got[i], expected_sum(size, i)) << "step " << step << " element " << i;
    }
  }
}

TEST_F(DeviceCommTest, NcclBucketsSumTheArenaExactly) {
  if (std::string why = why_no_nccl(); !why.empty()) GTEST_SKIP() << why;
  check_device_sync(*comm_, [&](float* g, size_t n, GradientSyncOptions o, void* s) {
    return make_nccl_gradient_synchronizer(std::make_unique<NcclCommunicator>(*comm_, 60), g, n, o, s);
  });
}

TEST_F(DeviceCommTest, MpiStagedBucketsSumTheArenaExactly) {
  check_device_sync(*comm_, [&](float* g, size_t n, GradientSyncOptions o, void* s) {
    return make_staged_gradient_synchronizer(*comm_, g, n, o, s);
  });
}

void sleep_on_stream(void* seconds) {
  std::this_thread::sleep_for(std::chrono::duration<double>(*static_cast<double*>(seconds)));
}

TEST_F(DeviceCommTest, AStalledNcclCollectiveEndsInATimeoutNamingTheRank) {
  if (std::string why = why_no_nccl(); !why.empty()) GTEST_SKIP() << why;
  NcclCommunicator nccl(*comm_, 0.5);
  // The last rank's NCCL stream is held for 3 s: its collective cannot finish within 0.5 s, and
  // the others' cannot either, since they wait for it.
  static double hold = 3.0;
  if (comm_->rank() == comm_->size() - 1) {
    ASSERT_EQ(cudaLaunchHostFunc(static_cast<cudaStream_t>(nccl.stream()), sleep_on_stream, &hold), cudaSuccess);
  }
  cuda::DeviceBuffer<float> values(std::vector<float>(1000, 1.0f));
  const auto start = std::chrono::steady_clock::now();
  std::string message = testing::error_message([&] {
    nccl.all_reduce_sum_async(values.data(), 1000, nullptr);
    nccl.synchronize();
  });
  const double waited = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (comm_->size() == 1 || comm_->rank() == comm_->size() - 1) {
    EXPECT_NE(message.find(fmt::format("rank {}: an NCCL collective did not finish within 0.5 s", comm_->rank())),
              std::string::npos)
        << message;
    EXPECT_LT(waited, 2.5);
  }
  cudaDeviceSynchronize();  // let the held stream finish before the communicator goes
}

TEST_F(DeviceCommTest, SixteenBitWireIsRefusedForGpuGradients) {
  cuda::DeviceBuffer<float> gradients(100);
  GradientSyncOptions options;
  options.wire = WireFormat::kBFloat16;
  EXPECT_NE(testing::error_message([&] {
              make_staged_gradient_synchronizer(*comm_, gradients.data(), 100, options, nullptr);
            }).find("comm.wire"),
            std::string::npos);
}

}  // namespace
}  // namespace rt
