// Data-parallel training on GPUs under mpiexec: the ranks end bitwise identical, and the run
// tracks the same run on the CPU. Ranks that share a GPU sum through MPI (staged); NCCL is tested
// where each rank has a GPU of its own, and skipped otherwise, saying so.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "comm/nccl_communicator.h"
#include "core/base/environment.h"
#include "core/trainer.h"
#include "kernels/cuda/cuda_kernels.h"
#include "kernels/kernels.h"
#include "tests/test_support.h"

namespace rt {
namespace {

namespace cuda = kernels::cuda;

class CudaTrainingTest : public ::testing::Test {
 protected:
  void SetUp() override {
    comm_ = make_world_communicator();
    const int gpus = cuda::device_count();
    if (comm_->all_reduce_value<int32_t>(gpus, ReduceOp::kMin) == 0) GTEST_SKIP() << "no CUDA device visible";
    const Placement placement = detect_placement();
    cuda::set_device(placement.local_rank % gpus);
    own_gpu_ = comm_->all_reduce_value<int32_t>(placement.local_size <= gpus ? 1 : 0, ReduceOp::kMin) == 1;
    kernels::set_cpu_threads(1);
    std::vector<uint8_t> path(4096, 0);
    if (comm_->rank() == 0) {
      dir_ = std::make_unique<testing::TempDir>();
      testing::write_cluster_shards(dir_->path() + "/train", 640, 4, 12, 4, 11, 1);
      testing::write_cluster_shards(dir_->path() + "/test", 200, 2, 12, 4, 11, 2);
      std::memcpy(path.data(), dir_->path().data(), std::min(path.size() - 1, dir_->path().size()));
    }
    comm_->broadcast(Span<uint8_t>(path), 0);
    data_ = reinterpret_cast<const char*>(path.data());
  }
  void TearDown() override {
    if (comm_) comm_->barrier();
  }

  TrainConfig config(Device device, const std::string& backend) const {
    TrainConfig c;
    c.hidden = {32, 16};
    c.epochs = 2;
    c.global_batch = 64;  // 10 steps per epoch
    c.lr = 0.05f;
    c.train_dir = data_ + "/train";
    c.test_dir = data_ + "/test";
    c.eval_batch = 50;
    c.shuffle_window = 100;
    c.device = device;
    c.backend = parse_collective_backend(backend);
    c.bucket_mb = 0.001;  // several buckets even for this small model
    c.first_bucket_mb = 0.0005;
    return c;
  }

  // Trains, then checks that all ranks hold bitwise the same parameters; returns them.
  std::vector<float> train(const TrainConfig& c, std::string* transport = nullptr) {
    Trainer trainer(c, *comm_);
    if (transport) *transport = trainer.gradient_transport();
    TrainingResult result = trainer.run();
    EXPECT_EQ(result.epochs.size(), 2u);
    std::vector<float> parameters = trainer.parameters_on_host();
    testing::expect_bitwise_identical_across_ranks(*comm_, parameters);
    return parameters;
  }

  static double largest_difference(const std::vector<float>& a, const std::vector<float>& b) {
    double largest = 0;
    for (size_t i = 0; i < a.size(); ++i) largest = std::max(largest, static_cast<double>(std::abs(a[i] - b[i])));
    return largest;
  }

  std::unique_ptr<Communicator> comm_;
  std::unique_ptr<testing::TempDir> dir_;
  std::string data_;
  bool own_gpu_ = false;
};

TEST_F(CudaTrainingTest, RanksSharingAGpuThroughMpiTrackTheCpuRun) {
  std::vector<float> cpu = train(config(Device::kCpu, "auto"));
  std::string transport;
  std::vector<float> gpu = train(config(Device::kCuda, "mpi"), &transport);
  EXPECT_EQ(transport, "mpi-staged");
  EXPECT_LT(largest_difference(cpu, gpu), 1e-4);
}

TEST_F(CudaTrainingTest, OverlapAndBucketsDoNotChangeTheGpuResult) {
  TrainConfig plain = config(Device::kCuda, "mpi");
  plain.overlap = false;
  plain.bucket_mb = 0;
  std::vector<float> reference = train(plain);
  std::vector<float> bucketed = train(config(Device::kCuda, "mpi"));
  EXPECT_EQ(std::memcmp(reference.data(), bucketed.data(), reference.size() * sizeof(float)), 0);
}

// A GPT trained with bf16 products (from compute capability 8.0 on its layer norms, GELUs and
// loss gradient stored in bf16, and its attention on tensor cores) learns text with its ranks
// bitwise identical, and ends within 5% of the fp32 run's held-out loss.
TEST_F(CudaTrainingTest, AGptWithBf16ProductsLearnsTextAsInFp32WithRanksBitwiseIdentical) {
  std::unique_ptr<testing::TempDir> text;
  const std::string dir = testing::share_word_text_shards(*comm_, text);
  auto held_out_loss = [&](cuda::MatmulPrecision precision) {
    TrainConfig c = config(Device::kCuda, "mpi");
    c.model_kind = "gpt";
    c.layers = 1;
    c.heads = 2;
    c.width = 64;  // heads of 32: tensor-core attention where bf16 products are
    c.optimizer = "adamw";
    c.lr = 0.01f;
    c.weight_decay = 0.0f;
    c.clip_norm = 1.0;
    c.epochs = 3;
    c.global_batch = 16;
    c.train_dir = dir + "/shards/train";
    c.test_dir = dir + "/shards/test";
    c.precision = precision;
    Trainer trainer(c, *comm_);
    TrainingResult result = trainer.run();
    testing::expect_bitwise_identical_across_ranks(*comm_, trainer.parameters_on_host());
    return result.epochs.back().test_loss;
  };
  const double fp32 = held_out_loss(cuda::MatmulPrecision::kFp32), bf16 = held_out_loss(cuda::MatmulPrecision::kBf16);
  EXPECT_LT(fp32, 1.0);  // ln(256) = 5.5 nats per byte at the start
  EXPECT_NEAR(bf16, fp32, 0.05 * fp32);
}

TEST_F(CudaTrainingTest, NcclTrainingTracksTheMpiRun) {
  if (!NcclCommunicator::available()) GTEST_SKIP() << "this build has no NCCL";
  if (!own_gpu_) GTEST_SKIP() << "NCCL needs a GPU per rank; this host has fewer GPUs than ranks";
  std::vector<float> staged = train(config(Device::kCuda, "mpi"));
  std::string transport;
  std::vector<float> nccl = train(config(Device::kCuda, "auto"), &transport);
  EXPECT_EQ(transport, "nccl");
  EXPECT_LT(largest_difference(staged, nccl), 1e-4);
}

TEST_F(CudaTrainingTest, NcclWithRanksSharingAGpuIsRefusedOnEveryRank) {
  if (!NcclCommunicator::available()) GTEST_SKIP() << "this build has no NCCL";
  if (own_gpu_) GTEST_SKIP() << "every rank has a GPU of its own here";
  std::string message = testing::error_message([&] { Trainer trainer(config(Device::kCuda, "nccl"), *comm_); });
  EXPECT_NE(message.find("needs a GPU per rank"), std::string::npos) << message;
}

}  // namespace
}  // namespace rt
