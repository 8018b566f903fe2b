// End-to-end data-parallel training under mpiexec -n 2 and -n 4: the loss falls, the model
// learns, and every rank ends with bitwise the same parameters.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>

#include "comm/communicator.h"
#include "core/base/check.h"
#include "core/base/random.h"
#include "core/trainer.h"
#include "data/shard_writer.h"
#include "kernels/kernels.h"
#include "tests/test_support.h"

namespace rt {
namespace {

class TrainingTest : public ::testing::Test {
 protected:
  void SetUp() override {
    comm_ = make_world_communicator();
    kernels::set_cpu_threads(1);
    // Rank 0 writes the data; every rank learns where.
    std::vector<uint8_t> path(4096, 0);
    if (comm_->rank() == 0) {
      dir_ = std::make_unique<testing::TempDir>();
      testing::write_cluster_shards(dir_->path() + "/train", 1500, 5, 12, 4, 11, 1);
      testing::write_cluster_shards(dir_->path() + "/test", 400, 2, 12, 4, 11, 2);
      std::memcpy(path.data(), dir_->path().data(), std::min(path.size() - 1, dir_->path().size()));
    }
    comm_->broadcast(Span<uint8_t>(path), 0);
    data_ = reinterpret_cast<const char*>(path.data());
  }
  void TearDown() override { comm_->barrier(); }  // rank 0 removes the data only when all are done

  TrainConfig config() const {
    TrainConfig c;
    c.hidden = {16};
    c.epochs = 3;
    c.global_batch = 32;
    c.lr = 0.1f;
    c.schedule = LrSchedule::kCosine;
    c.train_dir = data_ + "/train";
    c.test_dir = data_ + "/test";
    c.eval_batch = 64;
    c.shuffle_window = 100;
    return c;
  }

  std::unique_ptr<Communicator> comm_;
  std::unique_ptr<testing::TempDir> dir_;
  std::string data_;
};

TEST_F(TrainingTest, LossFallsAndRanksEndBitwiseIdentical) {
  Trainer trainer(config(), *comm_);
  TrainingResult result = trainer.run();
  ASSERT_EQ(result.epochs.size(), 3u);
  EXPECT_LT(result.epochs.back().train_loss, 0.5 * result.epochs.front().train_loss);
  EXPECT_GT(result.epochs.back().test_accuracy, 0.9);

  testing::expect_bitwise_identical_across_ranks(*comm_, trainer.parameters_on_host());
}

TEST_F(TrainingTest, ACnnLearnsImagesAndRanksEndBitwiseIdentical) {
  std::vector<uint8_t> path(4096, 0);
  std::unique_ptr<testing::TempDir> images;
  if (comm_->rank() == 0) {
    images = std::make_unique<testing::TempDir>();
    testing::write_cluster_shards(images->path() + "/train", 600, 3, 64, 4, 21, 1, {1, 8, 8});
    testing::write_cluster_shards(images->path() + "/test", 200, 1, 64, 4, 21, 2, {1, 8, 8});
    std::memcpy(path.data(), images->path().data(), std::min(path.size() - 1, images->path().size()));
  }
  comm_->broadcast(Span<uint8_t>(path), 0);
  const std::string dir = reinterpret_cast<const char*>(path.data());
  TrainConfig c = config();
  c.model_kind = "cnn";
  c.channels = {4, 8};
  c.hidden = {16};
  c.epochs = 10;
  c.train_dir = dir + "/train";
  c.test_dir = dir + "/test";
  Trainer trainer(c, *comm_);
  EXPECT_NE(trainer.model().summary().find("conv3x3_1to4 -> maxpool2 -> relu -> conv3x3_4to8"), std::string::npos)
      << trainer.model().summary();
  TrainingResult result = trainer.run();
  ASSERT_EQ(result.epochs.size(), 10u);
  EXPECT_LT(result.epochs.back().train_loss, 0.5 * result.epochs.front().train_loss);
  EXPECT_GT(result.epochs.back().test_accuracy, 0.9);
  testing::expect_bitwise_identical_across_ranks(*comm_, trainer.parameters_on_host());
  comm_->barrier();  // rank 0 removes the images only when every rank is done with them
}

TEST_F(TrainingTest, AdamWWithWarmupLinearDecayAndClippingLearnsWithRanksBitwiseIdentical) {
  TrainConfig c = config();
  c.optimizer = "adamw";
  c.lr = 0.01f;
  c.weight_decay = 0.01f;
  c.schedule = LrSchedule::kLinear;
  c.warmup_steps = 10;
  c.clip_norm = 1.0;
  Trainer trainer(c, *comm_);
  TrainingResult result = trainer.run();
  ASSERT_EQ(result.epochs.size(), 3u);
  EXPECT_LT(result.epochs.back().train_loss, 0.5 * result.epochs.front().train_loss);
  EXPECT_GT(result.epochs.back().test_accuracy, 0.9);
  testing::expect_bitwise_identical_across_ranks(*comm_, trainer.parameters_on_host());
}

TEST_F(TrainingTest, AGeluMlpWithLayerNormLearnsWithRanksBitwiseIdentical) {
  TrainConfig c = config();
  c.activation = "gelu";
  c.layer_norm = true;
  Trainer trainer(c, *comm_);
  EXPECT_NE(trainer.model().summary().find("layernorm16 -> gelu"), std::string::npos) << trainer.model().summary();
  TrainingResult result = trainer.run();  // checks at each epoch end that all ranks are bitwise identical
  EXPECT_LT(result.epochs.back().train_loss, 0.5 * result.epochs.front().train_loss);
  EXPECT_GT(result.epochs.back().test_accuracy, 0.9);
}

TEST_F(TrainingTest, ASiluMlpLearnsWithRanksBitwiseIdentical) {
  TrainConfig c = config();
  c.activation = "silu";
  Trainer trainer(c, *comm_);
  EXPECT_NE(trainer.model().summary().find("-> silu ->"), std::string::npos) << trainer.model().summary();
  TrainingResult result = trainer.run();  // checks at each epoch end that all ranks are bitwise identical
  EXPECT_LT(result.epochs.back().train_loss, 0.5 * result.epochs.front().train_loss);
  EXPECT_GT(result.epochs.back().test_accuracy, 0.9);
}

TEST_F(TrainingTest, DropoutTrainsWithRanksBitwiseIdenticalAndTheSameSeedRedrawsTheSameMasks) {
  TrainConfig c = config();
  c.dropout = 0.2;
  TrainingResult first = Trainer(c, *comm_).run();  // checks that all ranks end bitwise identical
  TrainingResult second = Trainer(c, *comm_).run();
  EXPECT_EQ(first.parameter_fingerprint, second.parameter_fingerprint);
  EXPECT_GT(first.epochs.back().test_accuracy, 0.9);
  c.dropout = 0.0;
  EXPECT_NE(Trainer(c, *comm_).run().parameter_fingerprint, first.parameter_fingerprint) << "dropout changed nothing";
}

TEST_F(TrainingTest, ClippingBoundsEveryStepsUpdate) {
  // Plain SGD without momentum: each step moves the parameters by lr x the clipped gradient, so
  // after S steps they have moved by at most S x lr x clip_norm in L2.
  TrainConfig c = config();
  c.epochs = 1;
  c.momentum = 0.0f;
  c.lr = 0.1f;
  c.schedule = LrSchedule::kConstant;
  c.clip_norm = 1e-3;
  Trainer trainer(c, *comm_);
  std::vector<float> before = trainer.parameters_on_host();
  TrainingResult result = trainer.run();
  std::vector<float> after = trainer.parameters_on_host();
  double moved = 0;
  for (size_t i = 0; i < before.size(); ++i) moved += std::pow(static_cast<double>(after[i]) - before[i], 2);
  moved = std::sqrt(moved);
  const double steps = static_cast<double>(result.epochs.back().steps);
  EXPECT_GT(moved, 0.0);
  EXPECT_LE(moved, steps * 0.1 * 1e-3 * (1 + 1e-4)) << "after " << steps << " steps";
}

TEST_F(TrainingTest, AGptLearnsTextFromTokenShardsWithRanksBitwiseIdentical) {
  std::unique_ptr<testing::TempDir> text;
  const std::string dir = testing::share_word_text_shards(*comm_, text);
  TrainConfig c = config();
  c.model_kind = "gpt";
  c.layers = 1;
  c.heads = 2;
  c.width = 16;
  c.optimizer = "adamw";
  c.lr = 0.01f;
  c.weight_decay = 0.0f;
  c.clip_norm = 1.0;
  c.epochs = 5;
  c.max_steps = 200;  // ends inside the fourth epoch (56 steps each)
  c.global_batch = 16;
  c.train_dir = dir + "/shards/train";
  c.test_dir = dir + "/shards/test";
  Trainer trainer(c, *comm_);
  TrainingResult result = trainer.run();
  ASSERT_EQ(result.epochs.size(), 4u);
  int64_t steps = 0;
  for (const EpochMetrics& epoch : result.epochs) steps += epoch.steps;
  EXPECT_EQ(steps, 200);
  EXPECT_LT(result.epochs.back().steps, result.epochs[0].steps);
  // ln(256) = 5.5 nats per byte at the start; within a word the next letter is certain.
  EXPECT_LT(result.epochs.back().test_loss, 1.0);
  testing::expect_bitwise_identical_across_ranks(*comm_, trainer.parameters_on_host());
}

TEST_F(TrainingTest, TheSameSeedTrainsTheSameModel) {
  TrainingResult first = Trainer(config(), *comm_).run();
  TrainingResult second = Trainer(config(), *comm_).run();
  EXPECT_EQ(first.parameter_fingerprint, second.parameter_fingerprint);
  EXPECT_EQ(first.epochs.back().train_loss, second.epochs.back().train_loss);
}

// A rank's thread count (runtime.threads, by default the cores divided among a machine's ranks)
// does not change the arithmetic, with Eigen or OpenBLAS: products wide and deep enough to be split over the threads end
// bitwise where one thread ends, so layouts that give their ranks other thread counts agree.
TEST_F(TrainingTest, TheThreadCountDoesNotChangeTheResult) {
  std::vector<uint8_t> path(4096, 0);
  std::unique_ptr<testing::TempDir> wide;
  if (comm_->rank() == 0) {
    wide = std::make_unique<testing::TempDir>();
    testing::write_cluster_shards(wide->path() + "/train", 256, 2, 800, 4, 31, 1);
    testing::write_cluster_shards(wide->path() + "/test", 64, 1, 800, 4, 31, 2);
    std::memcpy(path.data(), wide->path().data(), std::min(path.size() - 1, wide->path().size()));
  }
  comm_->broadcast(Span<uint8_t>(path), 0);
  const std::string dir = reinterpret_cast<const char*>(path.data());
  TrainConfig c = config();
  c.hidden = {320, 192};
  c.epochs = 1;
  c.global_batch = 128;
  c.train_dir = dir + "/train";
  c.test_dir = dir + "/test";
  for (kernels::CpuBlas blas : {kernels::CpuBlas::kEigen, kernels::CpuBlas::kOpenBlas}) {
    kernels::set_cpu_blas(blas);
    uint64_t fingerprints[2] = {0, 0};
    for (int threads : {1, 3}) {
      kernels::set_cpu_threads(threads);
      fingerprints[threads == 1 ? 0 : 1] = Trainer(c, *comm_).run().parameter_fingerprint;
    }
    EXPECT_EQ(fingerprints[0], fingerprints[1])
        << "1 thread and 3 threads end at different parameters with " << kernels::cpu_blas_description();
  }
  kernels::set_cpu_blas(kernels::CpuBlas::kEigen);
  kernels::set_cpu_threads(1);
  comm_->barrier();  // rank 0 removes the data only when every rank is done with it
}

// Trains one epoch with `change` applied and returns the parameters (the trainer itself checks
// at every epoch end that all ranks hold bitwise the same ones).
std::vector<float> train_parameters(TrainConfig config, Communicator& comm) {
  config.epochs = 1;
  Trainer trainer(config, comm);
  trainer.run();
  Span<float> p = trainer.model().parameters();
  return std::vector<float>(p.begin(), p.end());
}

float max_difference(const std::vector<float>& a, const std::vector<float>& b) {
  float worst = 0;
  for (size_t i = 0; i < a.size(); ++i) worst = std::max(worst, std::abs(a[i] - b[i]));
  return worst;
}

TEST_F(TrainingTest, EverySynchronisationModeTrainsTheSameModel) {
  TrainConfig plain = config();
  plain.overlap = false;
  plain.bucket_mb = 0;  // one all-reduce of the whole arena after backward
  std::vector<float> reference = train_parameters(plain, *comm_);

  TrainConfig overlapped = config();
  overlapped.overlap = true;
  overlapped.bucket_mb = 0;
  EXPECT_EQ(train_parameters(overlapped, *comm_), reference) << "overlap changed the arithmetic";

  TrainConfig buckets = config();
  buckets.first_bucket_mb = 100.0 / (1 << 20);  // 100 bytes: buckets cut the tensors
  buckets.bucket_mb = 1000.0 / (1 << 20);
  EXPECT_LT(max_difference(train_parameters(buckets, *comm_), reference), 1e-5f);

  TrainConfig accumulated = config();
  accumulated.accumulate = 2;
  EXPECT_LT(max_difference(train_parameters(accumulated, *comm_), reference), 1e-4f);

  TrainConfig compressed = config();
  compressed.wire = WireFormat::kBFloat16;
  EXPECT_LT(max_difference(train_parameters(compressed, *comm_), reference), 2e-2f);

  // Summed through MPI's messages instead of the shared-memory window: the same bits.
  CommunicatorOptions messages;
  messages.shared_memory_sums = false;
  std::unique_ptr<Communicator> through_messages = make_world_communicator(messages);
  EXPECT_EQ(train_parameters(plain, *through_messages), reference) << "the shared-memory sums changed the arithmetic";
  EXPECT_EQ(train_parameters(compressed, *through_messages), train_parameters(compressed, *comm_));

  setenv("RINGTRAIN_RANKS_PER_NODE", "2", 1);
  std::unique_ptr<Communicator> hierarchical = make_world_communicator({true});
  unsetenv("RINGTRAIN_RANKS_PER_NODE");
  EXPECT_LT(max_difference(train_parameters(config(), *hierarchical), reference), 1e-5f);
}

// Training data in which sample `poisoned` has a NaN feature (a corrupt record): the rank that
// reads it gets NaN gradients, the sum carries them to every rank, and every rank skips that step.
TEST_F(TrainingTest, NonFiniteGradientsOnOneRankAreSkippedByAllRanks) {
  std::vector<uint8_t> path(4096, 0);
  std::unique_ptr<testing::TempDir> dir;
  if (comm_->rank() == 0) {
    dir = std::make_unique<testing::TempDir>();
    testing::write_poisoned_shards(dir->path(), 640, 77);
    std::memcpy(path.data(), dir->path().data(), dir->path().size());
  }
  comm_->broadcast(Span<uint8_t>(path), 0);
  TrainConfig c = config();
  c.train_dir = reinterpret_cast<const char*>(path.data());
  c.epochs = 2;
  Trainer trainer(c, *comm_);
  TrainingResult result = trainer.run();  // checks at each epoch end that all ranks are identical
  EXPECT_EQ(result.skipped_steps, 2);  // the poisoned sample is in one step of each epoch
  for (float value : trainer.model().parameters()) ASSERT_TRUE(std::isfinite(value));
  EXPECT_GT(result.epochs.back().train_accuracy, 0.9);  // it learned (the test set is another problem)
  comm_->barrier();
}

TEST_F(TrainingTest, TooManyNonFiniteStepsInARowStopTheJobOnEveryRank) {
  TrainConfig c = config();
  c.lr = 1e30f;  // parameters overflow after the first step, and every gradient after is NaN
  c.max_nonfinite_steps = 3;
  Trainer trainer(c, *comm_);
  std::string text = testing::error_message([&] { trainer.run(); });
  EXPECT_NE(text.find("3 steps in a row had NaN or infinite gradients"), std::string::npos) << text;
}

TEST_F(TrainingTest, AGlobalBatchThatDoesNotSplitIsRefusedOnEveryRank) {
  TrainConfig c = config();
  c.global_batch = 4 * comm_->size() + 1;
  EXPECT_THROW(Trainer(c, *comm_), Error);
  c.global_batch = 4 * comm_->size();
  c.accumulate = 8;
  EXPECT_THROW(Trainer(c, *comm_), Error);
}

}  // namespace
}  // namespace rt
