// The loader over shards of unequal sizes: every rank gets the same number of batches, the
// ranks' samples are disjoint and make up the epoch, the order follows the seed, features stay
// with their labels, a reading error reaches the caller naming the file, and an epoch over shards
// far larger than the loader's buffers stays within them and the prefetch budget.
#include <gtest/gtest.h>
#include <hdf5.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <set>

#include "core/base/check.h"
#include "data/loader.h"
#include "data/shard_format.h"
#include "tests/test_support.h"

namespace rt {
namespace {

const std::vector<int64_t> kSizes{37, 5, 91, 12, 60};  // 205 samples
constexpr int64_t kClasses = 3;

struct EpochSamples {
  std::vector<int64_t> ids;  // in delivery order
  int64_t batches = 0;
};

EpochSamples read_epoch(Loader& loader, int64_t epoch, int64_t first_batch = 0) {
  EpochSamples out;
  loader.start_epoch(epoch, first_batch);
  while (const Batch* batch = loader.next()) {
    ++out.batches;
    for (int64_t r = 0; r < batch->rows; ++r) {
      int64_t id = static_cast<int64_t>(batch->features[r * batch->feature_size]);
      EXPECT_EQ(batch->labels[r], id % kClasses) << "features and label separated for sample " << id;
      EXPECT_FLOAT_EQ(batch->features[r * batch->feature_size + 1], 0.5f);
      out.ids.push_back(id);
    }
  }
  return out;
}

LoaderOptions training(int rank, int size, int64_t batch, uint64_t seed = 7, int64_t window = 16) {
  LoaderOptions options;
  options.mode = LoaderMode::kTraining;
  options.batch = batch;
  options.rank = rank;
  options.size = size;
  options.seed = seed;
  options.shuffle_window = window;
  options.prefetch = 2;
  return options;
}

class LoaderTest : public ::testing::Test {
 protected:
  void SetUp() override { testing::write_indexed_shards(dir_.path(), kSizes, 4, kClasses); }
  testing::TempDir dir_;
};

TEST_F(LoaderTest, EveryRankGetsTheSameBatchCountAndTheRanksCoverTheEpochDisjointly) {
  for (int size : {1, 2, 3, 4}) {
    for (int64_t epoch : {0, 1, 2}) {
      const int64_t batch = 7;
      const int64_t expected_batches = 205 / (batch * size);
      std::set<int64_t> seen;
      for (int rank = 0; rank < size; ++rank) {
        Loader loader(ShardIndex(dir_.path()), training(rank, size, batch));
        EXPECT_EQ(loader.batches_per_epoch(), expected_batches);
        EpochSamples samples = read_epoch(loader, epoch);
        EXPECT_EQ(samples.batches, expected_batches) << "rank " << rank << " of " << size;
        EXPECT_EQ(static_cast<int64_t>(samples.ids.size()), expected_batches * batch);
        for (int64_t id : samples.ids) {
          ASSERT_TRUE(id >= 0 && id < 205);
          EXPECT_TRUE(seen.insert(id).second) << "sample " << id << " read twice (size " << size << ")";
        }
      }
      // The union is the epoch: every global batch, and only the remainder (< one global batch) left out.
      EXPECT_EQ(static_cast<int64_t>(seen.size()), expected_batches * batch * size);
      EXPECT_LT(205 - static_cast<int64_t>(seen.size()), batch * size);
    }
  }
}

TEST_F(LoaderTest, SameSeedSameOrderOtherEpochOrSeedAnotherOrder) {
  Loader a(ShardIndex(dir_.path()), training(0, 2, 5, 7));
  Loader b(ShardIndex(dir_.path()), training(0, 2, 5, 7));
  Loader c(ShardIndex(dir_.path()), training(0, 2, 5, 8));
  std::vector<int64_t> first = read_epoch(a, 0).ids;
  EXPECT_EQ(first, read_epoch(b, 0).ids);
  EXPECT_EQ(first, read_epoch(a, 0).ids);  // rereading an epoch repeats it
  EXPECT_NE(first, read_epoch(a, 1).ids);
  EXPECT_NE(first, read_epoch(c, 0).ids);
}

TEST_F(LoaderTest, OrderIsShuffledWithinTheRank) {
  Loader loader(ShardIndex(dir_.path()), training(0, 1, 10, 3, 1000));
  std::vector<int64_t> ids = read_epoch(loader, 0).ids;
  EXPECT_FALSE(std::is_sorted(ids.begin(), ids.end()));
}

TEST_F(LoaderTest, EvaluationReadsEverySampleOnceWithAShortLastBatch) {
  for (int size : {1, 3}) {
    std::multiset<int64_t> seen;
    for (int rank = 0; rank < size; ++rank) {
      LoaderOptions options = training(rank, size, 8);
      options.mode = LoaderMode::kEvaluation;
      Loader loader(ShardIndex(dir_.path()), options);
      EpochSamples samples = read_epoch(loader, 0);
      EXPECT_EQ(samples.batches, loader.batches_per_epoch());
      EXPECT_TRUE(std::is_sorted(samples.ids.begin(), samples.ids.end()));
      seen.insert(samples.ids.begin(), samples.ids.end());
    }
    ASSERT_EQ(seen.size(), 205u);
    for (int64_t id = 0; id < 205; ++id) EXPECT_EQ(seen.count(id), 1u) << id;
  }
}

TEST_F(LoaderTest, MicroBatchesOfAStepReadWhatTheWholeBatchWouldHave) {
  for (int rank = 0; rank < 2; ++rank) {
    Loader whole(ShardIndex(dir_.path()), training(rank, 2, 14));
    LoaderOptions options = training(rank, 2, 7);
    options.batches_per_step = 2;
    Loader micro(ShardIndex(dir_.path()), options);
    EXPECT_EQ(micro.batches_per_epoch(), 2 * whole.batches_per_epoch());
    EXPECT_EQ(read_epoch(micro, 1).ids, read_epoch(whole, 1).ids);
  }
}

TEST_F(LoaderTest, StartingAtAnyBatchGivesTheRestOfTheUninterruptedEpoch) {
  for (int64_t window : {16, 1000}) {  // the resume point inside the first window, and many windows in
    Loader loader(ShardIndex(dir_.path()), training(1, 2, 5, 7, window));
    std::vector<int64_t> whole = read_epoch(loader, 3).ids;
    for (int64_t first : {int64_t{0}, int64_t{1}, int64_t{3}, int64_t{7}, loader.batches_per_epoch() - 1,
                          loader.batches_per_epoch()}) {
      EpochSamples rest = read_epoch(loader, 3, first);
      EXPECT_EQ(rest.batches, loader.batches_per_epoch() - first);
      EXPECT_EQ(rest.ids, std::vector<int64_t>(whole.begin() + first * 5, whole.end())) << "from batch " << first;
    }
  }
}

TEST_F(LoaderTest, TooLittleDataForOneGlobalBatchIsAnError) {
  EXPECT_THROW(Loader(ShardIndex(dir_.path()), training(0, 4, 60)), Error);
}

TEST_F(LoaderTest, AbandoningAnEpochAndStartingAnotherDoesNotHang) {
  Loader loader(ShardIndex(dir_.path()), training(0, 1, 4));
  loader.start_epoch(0);
  ASSERT_NE(loader.next(), nullptr);
  EpochSamples samples = read_epoch(loader, 1);
  EXPECT_EQ(samples.batches, loader.batches_per_epoch());
}

TEST_F(LoaderTest, AReadErrorOnTheReadingThreadReachesTheCallerNamingTheFile) {
  // Damage the labels of the largest shard after the index has checked its header.
  ShardIndex index(dir_.path());
  std::string damaged = dir_.file("shard-00002.h5");
  hid_t file = H5Fopen(damaged.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
  ASSERT_GE(file, 0);
  hid_t labels = H5Dopen2(file, shard_format::kLabels, H5P_DEFAULT);
  std::vector<int32_t> bad(91, 99);
  H5Dwrite(labels, H5T_NATIVE_INT32, H5S_ALL, H5S_ALL, H5P_DEFAULT, bad.data());
  H5Dclose(labels);
  H5Fclose(file);

  Loader loader(std::move(index), training(0, 1, 5));
  loader.start_epoch(0);
  try {
    while (loader.next()) {
    }
    FAIL() << "expected the damaged shard to be reported";
  } catch (const Error& error) {
    EXPECT_NE(std::string(error.what()).find(damaged), std::string::npos) << error.what();
    EXPECT_NE(std::string(error.what()).find("label 99"), std::string::npos) << error.what();
  }
}

}  // namespace
}  // namespace rt

namespace rt {
namespace {

TEST(LoaderStoredFeatures, HandsOutTheStoredBytesOfUint8ShardsAndFloatsOtherwise) {
  testing::TempDir bytes_dir, float_dir;
  testing::write_byte_shards(bytes_dir.path(), {30, 17}, 5, 3);
  testing::write_indexed_shards(float_dir.path(), {30, 17}, 5, 3);
  LoaderOptions options = training(0, 1, 8, 5, 10);
  LoaderOptions stored = options;
  stored.stored_features = true;

  Loader floats(ShardIndex(bytes_dir.path()), options);
  Loader raw(ShardIndex(bytes_dir.path()), stored);
  floats.start_epoch(2);
  raw.start_epoch(2);
  int64_t batches = 0;
  while (const Batch* expected = floats.next()) {
    const Batch* batch = raw.next();
    ASSERT_NE(batch, nullptr);
    ASSERT_EQ(batch->features, nullptr);
    ASSERT_NE(batch->stored, nullptr);
    ASSERT_EQ(batch->rows, expected->rows);
    for (int64_t i = 0; i < batch->rows * 5; ++i) {
      ASSERT_EQ(static_cast<float>(batch->stored[i]) * batch->scale, expected->features[i]) << i;
    }
    for (int64_t r = 0; r < batch->rows; ++r) ASSERT_EQ(batch->labels[r], expected->labels[r]);
    ++batches;
  }
  EXPECT_EQ(raw.next(), nullptr);
  EXPECT_EQ(batches, 5);

  Loader float_shards(ShardIndex(float_dir.path()), stored);  // float32 shards: the option does not apply
  float_shards.start_epoch(0);
  const Batch* batch = float_shards.next();
  ASSERT_NE(batch, nullptr);
  EXPECT_NE(batch->features, nullptr);
  EXPECT_EQ(batch->stored, nullptr);
}

}  // namespace
}  // namespace rt

namespace rt {
namespace {

int64_t resident_bytes() {
  std::ifstream statm("/proc/self/statm");
  int64_t pages = 0, resident = 0;
  statm >> pages >> resident;
  return resident * sysconf(_SC_PAGESIZE);
}

TEST(LoaderMemory, AnEpochOverShardsFarLargerThanTheBudgetStaysWithinTheBudget) {
  testing::TempDir dir;
  // 48 MB of uint8 images in 6 shards; a shuffle window of 1,000 samples (2 windows: 4.8 MB).
  testing::write_cluster_shards(dir.path(), 20000, 6, 2400, 10, 3, 4, {3, 40, 20});
  LoaderOptions options = training(0, 1, 64, 5, 1000);
  options.stored_features = true;
  options.prefetch_shards = 3;
  options.prefetch_bytes = 10 << 20;  // one 8 MB shard at a time (the budget has no room for two)
  Loader loader(ShardIndex(dir.path()), options);
  const int64_t data_bytes = 20000 * 2400;
  EXPECT_LT(loader.buffer_bytes(), data_bytes / 8);
  const int64_t before = resident_bytes();
  int64_t peak = before;
  loader.start_epoch(0);
  int64_t samples = 0;
  while (const Batch* batch = loader.next()) {
    samples += batch->rows;
    if (samples % 3200 == 0) peak = std::max(peak, resident_bytes());
  }
  peak = std::max(peak, resident_bytes());
  EXPECT_EQ(samples, 20000 / 64 * 64);
  // The buffers were allocated (not touched) before; what an epoch adds is at most them and the
  // prefetch budget, plus HDF5's chunk cache and the reading threads' stacks (16 MB of slack),
  // far below the data.
  EXPECT_LT(peak - before, loader.buffer_bytes() + options.prefetch_bytes + (int64_t{16} << 20))
      << "an epoch over " << data_bytes / 1000000 << " MB of shards grew the process by " << (peak - before) / 1000000
      << " MB";
}

}  // namespace
}  // namespace rt
