// Whole-shard prefetch: the bytes of each file in order, within the depth and the memory budget
// (one shard always allowed), a failed read reported naming the file; and the loader delivering
// bitwise the same batches with prefetch as without, resumed mid-epoch and in evaluation.
#include <gtest/gtest.h>
#include <sched.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <chrono>
#include <vector>

#include "data/loader.h"
#include "data/shard_prefetcher.h"
#include "tests/test_support.h"

namespace rt {
namespace {

std::vector<uint8_t> file_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), {});
}

// Files of these sizes, described as the index would (path and size) for the prefetcher.
std::vector<ShardInfo> write_files(const std::string& dir, const std::vector<size_t>& sizes) {
  std::vector<ShardInfo> files;
  for (size_t i = 0; i < sizes.size(); ++i) {
    ShardInfo file;
    file.path = fmt::format("{}/file{}", dir, i);
    file.file_bytes = static_cast<int64_t>(sizes[i]);
    std::string body(sizes[i], '\0');
    for (size_t b = 0; b < body.size(); ++b) body[b] = static_cast<char>((b * 31 + i) % 251);
    std::ofstream(file.path, std::ios::binary) << body;
    files.push_back(file);
  }
  return files;
}

TEST(ShardPrefetcher, HandsOutEachFileInOrderWithinTheDepthAndTheBudget) {
  testing::TempDir dir;
  const std::vector<size_t> sizes = {300000, 5, 1000000, 250000, 700000, 1};
  const std::vector<ShardInfo> files = write_files(dir.path(), sizes);
  struct Case {
    int depth;
    int64_t budget;
    int64_t bound;  // the most bytes that may be held at once
  };
  // Depth 3 with room for any three; a budget of 1.1 MB (the 1 MB file alone fits, never with
  // another over 100 KB); a budget of 1 byte (one file at a time, whatever its size).
  for (Case c : {Case{3, 10000000, 2000000}, Case{3, 1100000, 1100000}, Case{4, 1, 1000000}}) {
    ShardPrefetcher prefetcher(files, PrefetchOptions{c.depth, c.budget, {}, 4096});
    for (const ShardInfo& file : files) {
      std::shared_ptr<const ShardImage> image = prefetcher.take(file.path);
      ASSERT_EQ(std::vector<uint8_t>(image->data(), image->data() + image->size()), file_bytes(file.path))
          << file.path;
    }
    EXPECT_LE(prefetcher.peak_bytes(), c.bound) << "depth " << c.depth << ", budget " << c.budget;
    EXPECT_GE(prefetcher.peak_bytes(), 1000000);
  }
}

TEST(ShardPrefetcher, AFileThatCannotBeReadIsReportedByNameAfterItsRetries) {
  testing::TempDir dir;
  std::vector<ShardInfo> files = write_files(dir.path(), {10, 20});
  ShardInfo missing;
  missing.path = dir.path() + "/missing.h5";
  files.insert(files.begin() + 1, missing);
  ShardPrefetcher prefetcher(files, PrefetchOptions{2, 1 << 20, ReadRetries{2, 1}, 4096});
  EXPECT_EQ(prefetcher.take(files[0].path)->size(), 10u);
  const std::string message = testing::error_message([&] { prefetcher.take(files[1].path); });
  EXPECT_NE(message.find("missing.h5: cannot open"), std::string::npos) << message;
  EXPECT_NE(message.find("3 attempt(s)"), std::string::npos) << message;
  EXPECT_EQ(prefetcher.take(files[2].path)->size(), 20u);  // the files after it still come
  EXPECT_NE(testing::error_message([&] { prefetcher.take(files[0].path); }).find("asked for shard"),
            std::string::npos);
}

// With depth 1 the second file is not fetched while the first is held: a take() of it would wait
// for ever. After cancel() it fails at once, saying so, and the prefetcher still goes away.
TEST(ShardPrefetcher, ACancelledPrefetcherFailsTakeAtOnceInsteadOfWaiting) {
  testing::TempDir dir;
  const std::vector<ShardInfo> files = write_files(dir.path(), {1000, 2000});
  ShardPrefetcher prefetcher(files, PrefetchOptions{1, 1 << 20, {}, 4096});
  std::shared_ptr<const ShardImage> held = prefetcher.take(files[0].path);
  prefetcher.cancel();
  const std::string message = testing::error_message([&] { prefetcher.take(files[1].path); });
  EXPECT_NE(message.find("prefetch of shard " + files[1].path + " was cancelled"), std::string::npos) << message;
  EXPECT_EQ(held->size(), 1000u);
}

// The samples and labels of an epoch's batches, as delivered.
std::vector<float> epoch_values(Loader& loader, int64_t epoch, int64_t first_batch) {
  std::vector<float> values;
  loader.start_epoch(epoch, first_batch);
  while (const Batch* batch = loader.next()) {
    values.insert(values.end(), batch->features, batch->features + batch->rows * batch->feature_size);
    for (int64_t r = 0; r < batch->rows; ++r) values.push_back(static_cast<float>(batch->labels[r]));
  }
  return values;
}

TEST(LoaderPrefetch, DeliversBitwiseTheBatchesOfDirectReads) {
  testing::TempDir dir;
  testing::write_cluster_shards(dir.path(), 3000, 7, 20, 4, 3, 9);
  for (LoaderMode mode : {LoaderMode::kTraining, LoaderMode::kEvaluation}) {
    for (int rank : {0, 1}) {
      LoaderOptions options;
      options.mode = mode;
      options.batch = 32;
      options.rank = rank;
      options.size = 2;
      options.seed = 5;
      options.shuffle_window = 500;
      options.prefetch_shards = 0;
      Loader direct(ShardIndex(dir.path()), options);
      options.prefetch_shards = 3;
      options.prefetch_bytes = 1;  // one shard at a time also works
      Loader prefetched(ShardIndex(dir.path()), options);
      options.prefetch_bytes = 1 << 30;
      Loader ahead(ShardIndex(dir.path()), options);
      for (int64_t first_batch : {0, 17}) {
        if (mode == LoaderMode::kEvaluation && first_batch > 0) continue;
        const std::vector<float> expected = epoch_values(direct, 1, first_batch);
        ASSERT_FALSE(expected.empty());
        EXPECT_EQ(epoch_values(prefetched, 1, first_batch), expected) << "rank " << rank << " from " << first_batch;
        EXPECT_EQ(epoch_values(ahead, 1, first_batch), expected) << "rank " << rank << " from " << first_batch;
      }
    }
  }
}

// Batches of 32 from a small data set, read directly (no shard prefetch).
LoaderOptions small_epochs(LoaderMode mode, int64_t shuffle_window) {
  LoaderOptions options;
  options.mode = mode;
  options.batch = 32;
  options.seed = 5;
  options.shuffle_window = shuffle_window;
  options.prefetch_shards = 0;
  return options;
}

// Once an epoch's last window is read, the next epoch's first shards are fetched: with as many
// shards as the prefetch depth, the whole next epoch comes from memory (the files are moved away
// before it starts), and bitwise as read directly. Any other start drops them.
TEST(LoaderPrefetch, TheNextEpochsShardsAreFetchedAheadAndThatEpochComesFromThem) {
  testing::TempDir dir;
  const std::string shards = dir.path() + "/shards", moved = dir.path() + "/moved";
  testing::write_cluster_shards(shards, 1500, 2, 20, 4, 3, 9);
  for (LoaderMode mode : {LoaderMode::kTraining, LoaderMode::kEvaluation}) {
    LoaderOptions options = small_epochs(mode, 400);
    Loader direct(ShardIndex(shards), options);
    const std::vector<float> expected = epoch_values(direct, 1, 0), expected_later = epoch_values(direct, 4, 0);
    options.prefetch_shards = 2;
    Loader loader(ShardIndex(shards), options);
    EXPECT_EQ(loader.shards_fetched_ahead(), 0);
    epoch_values(loader, 0, 0);
    for (int wait = 0; wait < 1000 && loader.shards_fetched_ahead() < 2; ++wait) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    ASSERT_EQ(loader.shards_fetched_ahead(), 2);
    std::filesystem::rename(shards, moved);
    EXPECT_EQ(epoch_values(loader, 1, 0), expected) << "the next epoch, from the shards fetched ahead";
    std::filesystem::rename(moved, shards);
    // Fetched ahead for epoch 2, but epoch 4 is asked for (training): read afresh, as it should be.
    EXPECT_EQ(epoch_values(loader, 4, 0), mode == LoaderMode::kTraining ? expected_later : expected);
  }
}

// Without shard prefetch too, the next epoch's first window is read while an epoch ends: with a
// window as large as the rank's share, that is the whole next epoch, which then comes, bitwise as
// read directly, with the files moved away. A start at another epoch (training) reads afresh.
TEST(LoaderPrefetch, TheNextEpochsFirstWindowIsReadAheadAndThatEpochStartsFromIt) {
  testing::TempDir dir;
  const std::string shards = dir.path() + "/shards", moved = dir.path() + "/moved";
  testing::write_cluster_shards(shards, 1500, 3, 20, 4, 3, 9);
  for (LoaderMode mode : {LoaderMode::kTraining, LoaderMode::kEvaluation}) {
    LoaderOptions options = small_epochs(mode, 2000);  // every sample in one window
    options.retries = ReadRetries{0, 0};
    Loader direct(ShardIndex(shards), options);
    const std::vector<float> expected = epoch_values(direct, 1, 0), expected_later = epoch_values(direct, 4, 0);
    Loader loader(ShardIndex(shards), options);
    EXPECT_FALSE(loader.window_read_ahead());
    epoch_values(loader, 0, 0);
    for (int wait = 0; wait < 1000 && !loader.window_read_ahead(); ++wait) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    ASSERT_TRUE(loader.window_read_ahead());
    std::filesystem::rename(shards, moved);
    EXPECT_EQ(epoch_values(loader, 1, 0), expected) << "the next epoch, from its window read ahead";
    std::filesystem::rename(moved, shards);
    // Epoch 4 (the files were away when epoch 2's window was to be read ahead: nothing is).
    EXPECT_EQ(epoch_values(loader, 4, 0), mode == LoaderMode::kTraining ? expected_later : expected);
    // Read ahead for epoch 5, but epoch 7 is asked for: read afresh in training, the same window
    // in evaluation.
    for (int wait = 0; wait < 1000 && !loader.window_read_ahead(); ++wait) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    ASSERT_TRUE(loader.window_read_ahead());
    EXPECT_EQ(epoch_values(loader, 7, 0), mode == LoaderMode::kTraining ? epoch_values(direct, 7, 0) : expected);
    // From a later batch: never from a window read ahead.
    Loader resumed(ShardIndex(shards), options);
    epoch_values(resumed, 0, 0);
    const std::vector<float> tail = epoch_values(resumed, 1, 10);
    EXPECT_EQ(tail, epoch_values(direct, 1, 10));
  }
}

// Evaluation batches of 100, read once (one retry of 1 ms).
LoaderOptions evaluation(int prefetch_shards) {
  LoaderOptions options;
  options.mode = LoaderMode::kEvaluation;
  options.batch = 100;
  options.prefetch_shards = prefetch_shards;
  options.retries = ReadRetries{1, 1};
  return options;
}

// A byte changed inside a shard's feature data fails HDF5's Fletcher32 check when its chunk is
// read: reported naming the shard, whether HDF5 reads the file or decodes a prefetched image.
TEST(LoaderPrefetch, ACorruptChunkIsReportedNamingTheShardEitherWay) {
  testing::TempDir dir;
  testing::write_cluster_shards(dir.path(), 4000, 2, 200, 4, 3, 9);  // 800 KB of features per shard
  ShardIndex index(dir.path());  // the headers are fine: the index accepts both shards
  const std::string victim = index.shards()[1].path;
  testing::flip_middle_byte(victim);
  for (int prefetch : {0, 2}) {
    const LoaderOptions options = evaluation(prefetch);
    Loader loader(ShardIndex(dir.path()), options);
    const std::string message = testing::error_message([&] {
      loader.start_epoch(0);
      while (loader.next()) {
      }
    });
    EXPECT_NE(message.find(victim), std::string::npos) << "prefetch " << prefetch << ": " << message;
    EXPECT_NE(message.find("Fletcher32"), std::string::npos) << "prefetch " << prefetch << ": " << message;
  }
}

// With on_bad_shard = skip, a chunk that fails its checksum mid-epoch costs its rows, not the
// job: the epoch has the clean run's batch count, every sample delivered is a real one (its label
// matches its id), the bad chunk's samples are gone, and repeats stand in for them.
TEST(LoaderPrefetch, WithTheSkipPolicyACorruptChunksRowsAreReplacedAndTheBatchCountKept) {
  testing::TempDir dir;
  testing::write_indexed_shards(dir.path(), {3000, 3000}, 64, 5);  // 3 chunks of 1024 rows each
  const std::string victim = ShardIndex(dir.path()).shards()[0].path;
  testing::flip_middle_byte(victim);
  for (int prefetch : {0, 2}) {
    const LoaderOptions options = evaluation(prefetch);
    Loader loader(ShardIndex(dir.path(), BadShardPolicy::kSkip), options);
    std::vector<int> seen(6000, 0);
    int64_t samples = 0;
    loader.start_epoch(0);
    while (const Batch* batch = loader.next()) {
      for (int64_t r = 0; r < batch->rows; ++r) {
        const auto id = static_cast<int64_t>(batch->features[r * batch->feature_size]);
        ASSERT_TRUE(id >= 0 && id < 6000);
        ASSERT_EQ(batch->labels[r], id % 5) << "sample " << id << " lost its label";
        ++seen[static_cast<size_t>(id)];
      }
      samples += batch->rows;
    }
    EXPECT_EQ(samples, 6000) << "prefetch " << prefetch;
    const int64_t missing = std::count(seen.begin(), seen.end(), 0);
    const int64_t repeated = std::count_if(seen.begin(), seen.end(), [](int n) { return n > 1; });
    EXPECT_GT(missing, 0) << "the corrupt chunk's rows were delivered";
    EXPECT_LE(missing, 1024) << "more than one chunk was dropped";
    EXPECT_GT(repeated, 0);
    for (int64_t id = 3000; id < 6000; ++id) EXPECT_EQ(seen[static_cast<size_t>(id)], 1) << "the good shard's " << id;
    // The stop policy names the file instead.
    Loader stopping(ShardIndex(dir.path()), options);
    EXPECT_NE(testing::error_message([&] {
                stopping.start_epoch(0);
                while (stopping.next()) {
                }
              }).find(victim),
              std::string::npos);
  }
}

// The scheduling policy of every thread of this process but the calling one (field 41 of
// /proc/self/task/TID/stat).
std::vector<int> other_threads_policies() {
  std::vector<int> policies;
  const std::string self = std::to_string(syscall(SYS_gettid));
  for (const auto& task : std::filesystem::directory_iterator("/proc/self/task")) {
    if (task.path().filename() == self) continue;
    std::ifstream stat(task.path() / "stat");
    const std::string text((std::istreambuf_iterator<char>(stat)), {});
    if (text.empty()) continue;  // it ended meanwhile
    // Fields from the third on follow the command name, which is in parentheses.
    std::istringstream fields(text.substr(text.rfind(')') + 2));
    std::string field;
    for (int number = 3; number <= 41 && fields >> field;) ++number;
    policies.push_back(std::stoi(field));
  }
  return policies;
}

// The loader's threads (the producer, the window reads, the shard fetches) run as SCHED_BATCH, so
// that waking one (a batch slot freed by next()) does not preempt the training thread.
TEST(LoaderThreads, AllRunAsBatchWork) {
  testing::TempDir dir;
  testing::write_cluster_shards(dir.path(), 3000, 6, 20, 4, 3, 9);
  LoaderOptions options = small_epochs(LoaderMode::kTraining, 300);
  options.prefetch = 2;
  options.prefetch_shards = 2;
  ASSERT_TRUE(other_threads_policies().empty()) << "this test expects to start with one thread";
  Loader loader(ShardIndex(dir.path()), options);
  loader.start_epoch(0);
  ASSERT_NE(loader.next(), nullptr);
  std::this_thread::sleep_for(std::chrono::milliseconds(100));  // the producer fills the slots and waits
  const std::vector<int> policies = other_threads_policies();
  ASSERT_GE(policies.size(), 3u) << "the producer and two shard fetches";
  for (int policy : policies) EXPECT_EQ(policy, SCHED_BATCH);
}

}  // namespace
}  // namespace rt
