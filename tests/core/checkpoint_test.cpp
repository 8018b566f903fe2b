// Checkpoints: what is saved loads back bit for bit, and a checkpoint damaged at any point of its
// writing (a truncated or altered file, a missing or partial manifest), or whose manifest, state
// or arenas hold what no run writes even with checksums that match, is never loaded: the newest
// one that verifies is used instead. Pruning keeps a run's valid checkpoints and never another's.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>

#include <nlohmann/json.hpp>

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
  state.run_id = "run-a";
  return state;
}

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::vector<std::string> names_in(const std::string& dir) {
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(dir)) names.push_back(entry.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
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
  EXPECT_EQ(names_in(dir_.path()), (std::vector<std::string>{"step-000000015", "step-000000020"}));
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


TEST_F(CheckpointTest, AManifestWithAMistypedOrMissingFieldIsSkippedNamingIt) {
  // One flipped bit turns "bytes" into "bxtes"; a key lost; a number written as a string; the
  // wrong shapes: each makes the newest checkpoint invalid, never an exception that stops a resume.
  const std::vector<std::pair<std::string, std::string>> damages = {
      {"\"bytes\"", "\"bxtes\""}, {"\"files\"", "\"filez\""}, {"\"crc32\": ", "\"crc32\": \"1\" , \"x\": "},
      {"\"step\": 20", "\"step\": \"20\""}, {"\"step\": 20", "\"step\": 19"},
      {"\"name\": \"state.json\"", "\"name\": \"parameters.f32\""},
      {"\"format_version\": 1", "\"format_version\": 1.5"}, {"\"files\": [", "\"files\": [7, "},
      {"{", "["}};
  for (const auto& [from, to] : damages) {
    testing::TempDir dir;
    CheckpointStore store(dir.path(), 10);
    std::vector<float> p = values(100, 1.0f), o = values(100, 2.0f);
    store.save(state_at(10), Span<const float>(p.data(), 100), Span<const float>(o.data(), 100));
    std::string newest = store.save(state_at(20), Span<const float>(p.data(), 100), Span<const float>(o.data(), 100));
    std::string manifest = read_text(newest + "/manifest.json");
    ASSERT_NE(manifest.find(from), std::string::npos) << from << " in " << manifest;
    manifest.replace(manifest.find(from), from.size(), to);
    std::ofstream(newest + "/manifest.json", std::ios::trunc) << manifest;
    std::optional<Checkpoint> loaded = store.load_newest();
    ASSERT_TRUE(loaded.has_value()) << to;
    EXPECT_EQ(loaded->state.step, 10) << to;
    std::string text = testing::error_message([&] { CheckpointStore::load(newest); });
    EXPECT_NE(text.find(newest + "/manifest.json"), std::string::npos) << to << ": " << text;
  }
}

TEST_F(CheckpointTest, AStateNoRunWritesIsInvalidEvenWithMatchingChecksums) {
  struct Damage {
    std::string key;
    nlohmann::json value;
    std::string said;  // what the error names
  };
  const std::vector<Damage> damages = {
      {"epoch", -1, "'epoch'"}, {"step", int64_t{1} << 62, "'step'"}, {"step", -5, "'step'"},
      {"step_in_epoch", 21, "'step_in_epoch'"}, {"skipped_steps", -1, "'skipped_steps'"},
      {"skipped_steps", 21, "'skipped_steps'"}, {"consecutive_nonfinite", 2, "'consecutive_nonfinite'"},
      {"ranks", 0, "'ranks'"}, {"ranks", 3, "one per rank"}, {"epoch_samples", {-1, 8}, "'epoch_samples'"},
      {"epoch_correct", {100, 2}, "100 correct of 80 samples"}, {"epoch_loss_sums", {"x", 1.0}, "'epoch_loss_sums'"},
      {"epoch_loss_sums", {-1.0, 1.0}, "'epoch_loss_sums'"}, {"config_hash", -3, "'config_hash'"},
      {"step", 20.5, "'step'"}, {"run_id", 7, "'run_id'"}, {"model", nullptr, "'model'"},
      {"format_version", 2, "format version 2"}};
  for (const auto& [key, value, said] : damages) {
    testing::TempDir dir;
    CheckpointStore store(dir.path(), 10);
    std::vector<float> p = values(100, 1.0f), o = values(100, 2.0f);
    store.save(state_at(10), Span<const float>(p.data(), 100), Span<const float>(o.data(), 100));
    std::string newest = store.save(state_at(20), Span<const float>(p.data(), 100), Span<const float>(o.data(), 100));
    nlohmann::json state = nlohmann::json::parse(read_text(newest + "/state.json"));
    state[key] = value;
    testing::rewrite_with_matching_checksum(newest, "state.json", state.dump(2));
    std::string text = testing::error_message([&] { CheckpointStore::load(newest); });
    EXPECT_NE(text.find(newest + "/state.json"), std::string::npos) << key << " = " << value << ": " << text;
    EXPECT_NE(text.find(said), std::string::npos) << key << " = " << value << ": " << text;
    ASSERT_TRUE(store.load_newest().has_value());
    EXPECT_EQ(store.load_newest()->state.step, 10) << key << " = " << value;
  }
}

TEST_F(CheckpointTest, ANonFiniteParameterOrOptimizerValueMakesTheCheckpointInvalid) {
  for (const char* name : {"parameters.f32", "optimizer.f32"}) {
    for (float bad : {std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity()}) {
      testing::TempDir dir;
      CheckpointStore store(dir.path(), 10);
      std::vector<float> p = values(100, 1.0f), o = values(100, 2.0f);
      store.save(state_at(10), Span<const float>(p.data(), 100), Span<const float>(o.data(), 100));
      std::string newest = store.save(state_at(20), Span<const float>(p.data(), 100), Span<const float>(o.data(), 100));
      std::vector<float> damaged = values(100, 1.0f);
      damaged[37] = bad;
      testing::rewrite_with_matching_checksum(newest, name,
                                     std::string(reinterpret_cast<const char*>(damaged.data()), 100 * sizeof(float)));
      std::string text = testing::error_message([&] { CheckpointStore::load(newest); });
      EXPECT_NE(text.find(newest + "/" + name + " holds 1 non-finite value(s), the first at index 37"),
                std::string::npos) << text;
      EXPECT_EQ(store.load_newest()->state.step, 10) << name;
    }
  }
}

// Broken step-290/301/313 beside valid 120-200, keep = 3: resuming from 200 and writing 201 and
// 202 keeps 200, 201, 202, removes the broken ones older than what it wrote only once it is past
// them, and never counts them against `keep`.
// checkpoint.keep_best: beside the newest, the checkpoint with the best evaluation stays, also
// when a new store (a resumed run) prunes; its evaluation loads back.
TEST_F(CheckpointTest, KeepBestKeepsTheBestEvaluatedBesideTheNewest) {
  CheckpointStore store(dir_.path(), 1, /*keep_best=*/true);
  std::vector<float> p(10), o(10);
  auto save_evaluated = [&](CheckpointStore& s, int64_t step, double accuracy) {
    TrainingState state = state_at(step);
    state.evaluated = accuracy >= 0;
    state.evaluation_accuracy = state.evaluation_score = std::max(0.0, accuracy);
    state.evaluation_loss = 1.0 - state.evaluation_accuracy;
    s.save(state, Span<const float>(p.data(), 10), Span<const float>(o.data(), 10));
  };
  save_evaluated(store, 10, 0.5);
  save_evaluated(store, 20, 0.9);
  save_evaluated(store, 30, 0.7);
  save_evaluated(store, 40, -1);  // not evaluated
  EXPECT_EQ(names_in(dir_.path()), (std::vector<std::string>{"step-000000020", "step-000000040"}));
  const Checkpoint best = CheckpointStore::load(dir_.file("step-000000020"));
  EXPECT_TRUE(best.state.evaluated);
  EXPECT_EQ(best.state.evaluation_accuracy, 0.9);
  CheckpointStore resumed(dir_.path(), 1, true);
  ASSERT_EQ(resumed.load_newest()->state.step, 40);
  save_evaluated(resumed, 50, 0.95);  // a new best: the old one goes
  EXPECT_EQ(names_in(dir_.path()), (std::vector<std::string>{"step-000000050"}));
  // Without keep_best the best is pruned like any other.
  CheckpointStore plain(dir_.path(), 1);
  save_evaluated(plain, 60, 0.1);
  EXPECT_EQ(names_in(dir_.path()), (std::vector<std::string>{"step-000000060"}));
}

TEST_F(CheckpointTest, PruningKeepsValidCheckpointsWhateverInvalidOnesHigherStepsSit) {
  std::vector<float> p = values(10, 1.0f), o = values(10, 2.0f);
  for (int64_t step : {120, 150, 200, 290, 301, 313}) {
    store_.save(state_at(step), Span<const float>(p.data(), 10), Span<const float>(o.data(), 10));
  }
  for (const char* broken : {"step-000000290", "step-000000301", "step-000000313"}) {
    fs::resize_file(dir_.file(broken) + "/parameters.f32", 7);
  }
  CheckpointStore resumed(dir_.path(), 3);
  ASSERT_EQ(resumed.load_newest()->state.step, 200);
  for (int64_t step : {201, 202}) {
    resumed.save(state_at(step), Span<const float>(p.data(), 10), Span<const float>(o.data(), 10));
  }
  EXPECT_EQ(names_in(dir_.path()),
            (std::vector<std::string>{"step-000000200", "step-000000201", "step-000000202", "step-000000290",
                                      "step-000000301", "step-000000313"}));
  EXPECT_EQ(CheckpointStore(dir_.path(), 3).load_newest()->state.step, 202);
  // Past them, the broken ones go; the valid ones stay three.
  resumed.save(state_at(302), Span<const float>(p.data(), 10), Span<const float>(o.data(), 10));
  EXPECT_EQ(names_in(dir_.path()),
            (std::vector<std::string>{"step-000000201", "step-000000202", "step-000000302", "step-000000313"}));
}

TEST_F(CheckpointTest, PruningNeverRemovesAnotherRunsCheckpoints) {
  std::vector<float> p = values(10, 1.0f), o = values(10, 2.0f);
  CheckpointStore store(dir_.path(), 2);
  for (int64_t step : {300, 400}) {
    store.save(state_at(step), Span<const float>(p.data(), 10), Span<const float>(o.data(), 10));
  }
  TrainingState other = state_at(0);
  other.run_id = "run-b";
  for (int64_t step : {10, 20, 30}) {
    other.step = step;
    store.save(other, Span<const float>(p.data(), 10), Span<const float>(o.data(), 10));
  }
  EXPECT_EQ(names_in(dir_.path()), (std::vector<std::string>{"step-000000020", "step-000000030", "step-000000300",
                                                             "step-000000400"}));
}

TEST_F(CheckpointTest, AFullDiskSaysSo) {
  if (!fs::exists("/dev/full")) GTEST_SKIP() << "no /dev/full on this machine";
  fs::create_directories(dir_.file("step-000000005"));
  fs::create_symlink("/dev/full", dir_.file("step-000000005/parameters.f32"));
  std::vector<float> p(10), o(10);
  std::string text = testing::error_message(
      [&] { store_.save(state_at(5), Span<const float>(p.data(), 10), Span<const float>(o.data(), 10)); });
  EXPECT_NE(text.find("parameters.f32: No space left on device"), std::string::npos) << text;
}

}  // namespace
}  // namespace rt

namespace rt {
namespace {

// What --resume names and what the run directory looks for: the folder of a checkpoint, with a
// trailing slash or not, absolute; the checkpoints of a folder, newest first, and nothing else.
TEST(CheckpointPaths, TheFolderOfACheckpointAndTheCheckpointsOfAFolder) {
  namespace fs = std::filesystem;
  testing::TempDir dir;
  const std::string folder = dir.file("ck");
  for (const char* name : {"step-000000004", "step-000000012", "step-", "step-12a", "other"}) {
    fs::create_directories(folder + "/" + name);
  }
  std::ofstream(folder + "/step-000000099") << "a file, not a checkpoint";
  EXPECT_EQ(CheckpointStore::checkpoint_paths_in(folder),
            (std::vector<std::string>{folder + "/step-000000012", folder + "/step-000000004"}));
  EXPECT_TRUE(CheckpointStore::checkpoint_paths_in(dir.file("missing")).empty());
  EXPECT_EQ(CheckpointStore::directory_of(folder + "/step-000000004"), folder);
  EXPECT_EQ(CheckpointStore::directory_of(folder + "/step-000000004/"), folder);
  const fs::path here = fs::current_path();
  fs::current_path(dir.path());
  EXPECT_EQ(CheckpointStore::directory_of("ck/step-000000004/"), folder);  // relative: made absolute
  fs::current_path(here);
}

}  // namespace
}  // namespace rt
