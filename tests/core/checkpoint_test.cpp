// Checkpoints: what is saved loads back bit for bit, and a checkpoint damaged at any point of its
// writing (a truncated or altered file, a missing or partial manifest) is never loaded: the
// newest one that verifies is used instead.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "core/base/check.h"
#include "core/checkpoint.h"
#include "tests/test_support.h"

namespace rt {
namespace {

namespace fs = std::filesystem;

TrainingState state_at(int64_t step) {
  TrainingState state;
  state.step = step;
  state.epoch = step / 10;
  state.step_in_epoch = step % 10;
  state.epoch_loss_sums = {0.1 * step, 1.0 / 3.0};
  state.epoch_correct = {step, 2};
  state.epoch_samples = {4 * step, 8};
  state.skipped_steps = 1;
  state.config_hash = 0xfedcba9876543210ULL;
  state.ranks = 2;
  return state;
}

std::vector<float> values(size_t count, float base) {
  std::vector<float> v(count);
  for (size_t i = 0; i < count; ++i) v[i] = base + static_cast<float>(i) / 7.0f;
  return v;
}

class CheckpointTest : public ::testing::Test {
 protected:
  std::string save(int64_t step) {
    std::vector<float> p = values(1000, static_cast<float>(step)), o = values(1000, -static_cast<float>(step));
    return store_.save(state_at(step), Span<const float>(p.data(), p.size()), Span<const float>(o.data(), o.size()));
  }
  testing::TempDir dir_;
  CheckpointStore store_{dir_.path(), 10};
};

TEST_F(CheckpointTest, SavedStateAndArenasLoadBackBitForBit) {
  std::string path = save(42);
  Checkpoint loaded = CheckpointStore::load(path);
  EXPECT_EQ(loaded.parameters, values(1000, 42.0f));
  EXPECT_EQ(loaded.optimizer_state, values(1000, -42.0f));
  TrainingState expected = state_at(42);
  EXPECT_EQ(loaded.state.step, 42);
  EXPECT_EQ(loaded.state.epoch, 4);
  EXPECT_EQ(loaded.state.step_in_epoch, 2);
  EXPECT_EQ(loaded.state.epoch_loss_sums, expected.epoch_loss_sums);  // doubles exactly
  EXPECT_EQ(loaded.state.epoch_correct, expected.epoch_correct);
  EXPECT_EQ(loaded.state.config_hash, expected.config_hash);
  EXPECT_EQ(store_.load_newest()->state.step, 42);
}

TEST_F(CheckpointTest, KeepsOnlyTheNewestK) {
  CheckpointStore store(dir_.path(), 2);
  std::vector<float> p(10), o(10);
  for (int64_t step : {5, 10, 15, 20}) {
    store.save(state_at(step), Span<const float>(p.data(), 10), Span<const float>(o.data(), 10));
  }
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(dir_.path())) names.push_back(entry.path().filename().string());
  std::sort(names.begin(), names.end());
  EXPECT_EQ(names, (std::vector<std::string>{"step-000000015", "step-000000020"}));
}

TEST_F(CheckpointTest, ADamagedNewestCheckpointIsSkippedForThePreviousOne) {
  // Every file of the newest checkpoint, cut at many points (as a writer killed there would leave
  // it) or with one byte changed: the previous checkpoint is loaded, never the damaged one.
  for (const char* file : {"parameters.f32", "optimizer.f32", "state.json", "manifest.json"}) {
    for (double fraction : {0.0, 0.01, 0.25, 0.5, 0.99}) {
      for (bool flip : {false, true}) {
        testing::TempDir dir;
        CheckpointStore store(dir.path(), 10);
        std::vector<float> p = values(1000, 1.0f), o = values(1000, 2.0f);
        store.save(state_at(10), Span<const float>(p.data(), 1000), Span<const float>(o.data(), 1000));
        std::string newest = store.save(state_at(20), Span<const float>(p.data(), 1000), Span<const float>(o.data(), 1000));
        std::string target = newest + "/" + file;
        auto size = fs::file_size(target);
        if (flip) {
          std::fstream f(target, std::ios::in | std::ios::out | std::ios::binary);
          f.seekp(static_cast<std::streamoff>(size * fraction));
          char c = 0;
          f.seekg(static_cast<std::streamoff>(size * fraction));
          f.get(c);
          f.seekp(static_cast<std::streamoff>(size * fraction));
          f.put(static_cast<char>(c ^ 0x5a));
        } else {
          fs::resize_file(target, static_cast<uintmax_t>(size * fraction));
        }
        std::optional<Checkpoint> loaded = store.load_newest();
        ASSERT_TRUE(loaded.has_value()) << file << " " << fraction;
        EXPECT_EQ(loaded->state.step, 10) << file << (flip ? " with a byte changed at " : " cut at ") << fraction;
        EXPECT_THROW(CheckpointStore::load(newest), Error) << file << " " << fraction;
      }
    }
  }
}

TEST_F(CheckpointTest, AMissingManifestMeansTheCheckpointWasNeverCommitted) {
  save(10);
  std::string newest = save(20);
  fs::remove(newest + "/manifest.json");
  EXPECT_EQ(store_.load_newest()->state.step, 10);
  std::string text = testing::error_message([&] { CheckpointStore::load(newest); });
  EXPECT_NE(text.find(newest + "/manifest.json"), std::string::npos) << text;
}

TEST_F(CheckpointTest, NoCheckpointAtAll) {
  EXPECT_FALSE(store_.load_newest().has_value());
  EXPECT_FALSE(CheckpointStore(dir_.file("absent"), 3).load_newest().has_value());
}

}  // namespace
}  // namespace rt
