// Seeded fuzzing of what users and clusters hand ringtrain: a config, a shard and a checkpoint,
// each mutated (a flipped bit, a truncation, inserted bytes, a value of the wrong type or range),
// then given to the ringtrain binary, one process per case, under a time and a memory bound.
// Every case must end one of two ways:
//   - a clean error: exit code 1 and exactly one "error:" line, naming what was wrong;
//   - success with the unmutated input's result (the same parameter fingerprint), or for a config
//     that still parses to another valid configuration, success at all; a checkpoint that was
//     skipped must have been named in a warning.
// Anything else fails the test: a crash (a signal, an escaped exception), a hang (past the time
// bound) or a silent difference (success with another result). The cases are seeded: the same
// seed is the same mutation on every machine. tests/fuzz/regressions.txt keeps the seeds of the
// cases that ever failed; they run first, every time. FUZZ_CASES=N runs N cases per input kind
// (default 200).
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <sstream>

#include <fmt/format.h>

#include "core/base/random.h"
#include "tests/test_support.h"

namespace rt {
namespace {

namespace fs = std::filesystem;
using testing::Outcome;

// RINGTRAIN_FUZZ_BINARY fuzzes another build of ringtrain (an older one, to see what it missed).
const std::string kBinary = std::getenv("RINGTRAIN_FUZZ_BINARY") ? std::getenv("RINGTRAIN_FUZZ_BINARY") : RINGTRAIN_BINARY;
constexpr int kCaseSeconds = 20;

std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
}

// Values of another type or out of any key's range, for the type-confused mutations.
const char* const kConfusedValues[] = {"\"x\"", "[]", "{}", "-1", "1e308", "1.5", "true", "18446744073709551616",
                                        "-9223372036854775809", "\"\"", "[1, \"a\"]", "nan", "null"};

// One mutation of `bytes`, chosen by `rng`; `text` allows type confusion of a value after '=' or
// ':' (TOML, JSON). Half of the flips land in the first `hot` bytes (a shard's metadata: its
// superblock, object headers and chunk index), the rest anywhere. `what` says what was done, for
// the failure message.
std::string mutate(const std::string& bytes, Rng& rng, bool text, std::string& what, size_t hot = 0) {
  std::string out = bytes;
  const auto pick = [&](size_t n) { return n == 0 ? size_t{0} : static_cast<size_t>(rng.next_u64() % n); };
  switch (pick(text ? 4 : 3)) {
    case 0: {
      const size_t at = hot > 0 && pick(2) == 0 ? pick(std::min(hot, out.size())) : pick(out.size());
      const int bit = static_cast<int>(pick(8));
      out[at] = static_cast<char>(out[at] ^ (1 << bit));
      what = fmt::format("bit {} of byte {} flipped", bit, at);
      break;
    }
    case 1: {
      const size_t at = pick(out.size());
      out.resize(at);
      what = fmt::format("cut at byte {}", at);
      break;
    }
    case 2: {
      const size_t at = pick(out.size() + 1);
      std::string inserted(1 + pick(16), '\0');
      for (char& c : inserted) c = static_cast<char>(rng.next_u64());
      out.insert(at, inserted);
      what = fmt::format("{} bytes inserted at byte {}", inserted.size(), at);
      break;
    }
    default: {
      std::vector<size_t> values;  // where a value starts: after "= " or ": "
      for (size_t i = 0; i + 1 < out.size(); ++i) {
        if ((out[i] == '=' || out[i] == ':') && out[i + 1] == ' ') values.push_back(i + 2);
      }
      if (values.empty()) return mutate(bytes, rng, false, what, hot);
      const size_t start = values[pick(values.size())];
      size_t end = start;
      int depth = 0;
      while (end < out.size() && (depth > 0 || (out[end] != '\n' && out[end] != ','))) {
        if (out[end] == '[' || out[end] == '{') ++depth;
        if (out[end] == ']' || out[end] == '}') --depth;
        if (depth < 0) break;
        ++end;
      }
      const char* value = kConfusedValues[pick(std::size(kConfusedValues))];
      what = fmt::format("value '{}' at byte {} replaced by {}", out.substr(start, end - start), start, value);
      out.replace(start, end - start, value);
    }
  }
  return out;
}

enum class Verdict { kCleanError, kSameResult, kOtherValidConfig, kCrash, kHang, kUncleanError, kSilentDifference };

const char* name_of(Verdict verdict) {
  switch (verdict) {
    case Verdict::kCleanError: return "clean error";
    case Verdict::kSameResult: return "same result";
    case Verdict::kOtherValidConfig: return "another valid config";
    case Verdict::kCrash: return "crash";
    case Verdict::kHang: return "hang";
    case Verdict::kUncleanError: return "unclean or blocking error";
    case Verdict::kSilentDifference: return "silent difference";
  }
  return "?";
}

// Runs one case of `command` bounded in time (SIGKILL past it) and address space.
Outcome run_bounded(const std::string& command) {
  return testing::run(fmt::format("ulimit -v 4000000; timeout -s KILL {} {}", kCaseSeconds, command));
}

// Classifies a failed run: exit 1 with one "error:" line is clean; a signal or an escaped
// exception is a crash; the time bound's SIGKILL is a hang.
Verdict classify_failure(const Outcome& outcome) {
  if (outcome.exit_code == 128 + 9 || outcome.seconds >= kCaseSeconds) return Verdict::kHang;
  if (outcome.exit_code > 128 || outcome.output.find("terminate called") != std::string::npos ||
      outcome.output.find("Segmentation") != std::string::npos) {
    return Verdict::kCrash;
  }
  size_t errors = 0;
  for (size_t at = outcome.output.find("error: "); at != std::string::npos; at = outcome.output.find("error: ", at + 1)) {
    ++errors;
  }
  return outcome.exit_code == 1 && errors == 1 ? Verdict::kCleanError : Verdict::kUncleanError;
}

struct Case {
  uint64_t seed;
  bool regression;  // from regressions.txt
};

class FuzzTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    data_ = new testing::TempDir();
    // Shards of 3 chunks (1024, 1024 and 52 rows), 32 steps of 128 an epoch.
    testing::write_cluster_shards(data_->file("train"), 4200, 2, 6, 3, 5, 1);
    testing::write_cluster_shards(data_->file("test"), 64, 1, 6, 3, 5, 2);
    config_text_ = fmt::format(
        "# a small MLP\n[model]\nkind = \"mlp\"\nhidden = [16]\n\n[train]\nepochs = 2\nglobal_batch = 128\nseed = 3\n\n"
        "[optimizer]\nkind = \"sgd\"\nlr = 0.05\nmomentum = 0.9\nschedule = \"constant\"\n\n[data]\ntrain_dir = \"{}\"\n"
        "test_dir = \"{}\"\non_bad_shard = \"stop\"\n\n[runtime]\nthreads = 1\n\n[checkpoint]\nevery = 10\nkeep = 10\n",
        data_->file("train"), data_->file("test"));
    write_bytes(data_->file("job.toml"), config_text_);
    // The result every case with unchanged inputs must reproduce: 64 steps, uninterrupted.
    Outcome reference = run_bounded(kBinary + " train " + data_->file("job.toml") + " --set checkpoint.dir=" +
                                    data_->file("reference-ck"));
    reference_ = testing::fingerprint_of(reference.output);
    ASSERT_FALSE(reference_.empty()) << reference.output;
    // Checkpoints of the same run stopped after 25 steps (10, 20, 25): a resume from any of them
    // ends at the reference.
    Outcome stopped = run_bounded(kBinary + " train " + data_->file("job.toml") + " --set train.max_steps=25 --set " +
                                  "checkpoint.dir=" + data_->file("ck"));
    ASSERT_EQ(stopped.exit_code, 0) << stopped.output;
    ASSERT_TRUE(fs::exists(data_->file("ck/step-000000025/manifest.json"))) << stopped.output;
  }
  static void TearDownTestSuite() { delete data_; }

  // The regression seeds of `kind`, then `FUZZ_CASES` (default 200) seeded cases.
  static std::vector<Case> cases(const std::string& kind, uint64_t stream) {
    std::vector<Case> out;
    std::ifstream regressions(std::string(RINGTRAIN_SOURCE_DIR) + "/tests/fuzz/regressions.txt");
    std::string line;
    while (std::getline(regressions, line)) {
      std::istringstream fields(line);
      std::string name;
      uint64_t seed = 0;
      if (line.empty() || line[0] == '#' || !(fields >> name >> seed) || name != kind) continue;
      out.push_back({seed, true});
    }
    const char* count = std::getenv("FUZZ_CASES");
    const int n = count ? std::atoi(count) : 200;
    Rng seeds(20261207, stream);
    for (int i = 0; i < n; ++i) out.push_back({seeds.next_u64() % 1000000000, false});
    return out;
  }

  // Counts a verdict; a failing one fails the test, naming the seed to keep in regressions.txt.
  void count(const std::string& kind, const Case& c, Verdict verdict, const std::string& what,
             const Outcome& outcome) {
    ++verdicts_[verdict];
    const bool bad = verdict == Verdict::kCrash || verdict == Verdict::kHang || verdict == Verdict::kUncleanError ||
                     verdict == Verdict::kSilentDifference;
    EXPECT_FALSE(bad) << kind << " " << c.seed << (c.regression ? " (a regression case)" : "") << ": "
                      << name_of(verdict) << " after " << what << " (exit " << outcome.exit_code << ", "
                      << outcome.seconds << " s)\n"
                      << outcome.output;
  }

  void report(const std::string& kind) {
    std::string line = fmt::format("fuzz {}:", kind);
    int total = 0;
    for (Verdict v : {Verdict::kCleanError, Verdict::kSameResult, Verdict::kOtherValidConfig, Verdict::kCrash,
                      Verdict::kHang, Verdict::kUncleanError, Verdict::kSilentDifference}) {
      line += fmt::format(" {} {},", name_of(v), verdicts_[v]);
      total += verdicts_[v];
    }
    std::printf("%s %d cases\n", line.c_str(), total);
  }

  static testing::TempDir* data_;
  static std::string config_text_;
  static std::string reference_;
  std::map<Verdict, int> verdicts_;
  testing::TempDir dir_;
};
testing::TempDir* FuzzTest::data_ = nullptr;
std::string FuzzTest::config_text_;
std::string FuzzTest::reference_;

// A mutated config: a clean error naming the key or line, or it parses to a valid configuration
// and trains; where it still means the same configuration, to the same result.
TEST_F(FuzzTest, Configs) {
  for (const Case& c : cases("config", 1)) {
    Rng rng(c.seed);
    std::string what;
    const std::string config = dir_.file("mutated.toml");
    write_bytes(config, mutate(config_text_, rng, true, what));
    // At most 40 steps, so that a mutation that asks for more epochs or smaller batches stays quick.
    Outcome outcome = run_bounded(kBinary + " train " + config + " --set train.max_steps=40");
    Verdict verdict = outcome.exit_code == 0 ? Verdict::kOtherValidConfig : classify_failure(outcome);
    if (outcome.exit_code == 0 && testing::fingerprint_of(outcome.output).empty()) verdict = Verdict::kUncleanError;
    count("config", c, verdict, what, outcome);
  }
  report("configs");
}

// A mutated training shard: a clean error naming the shard (on_bad_shard = "stop"), or, where the
// mutation touched nothing the shard's data depends on, the reference result.
TEST_F(FuzzTest, Shards) {
  const std::string shard = data_->file("train/part-00001.h5");
  const std::string original = read_bytes(shard);
  for (const Case& c : cases("shard", 2)) {
    Rng rng(c.seed);
    std::string what;
    fs::remove_all(dir_.file("train"));
    fs::copy(data_->file("train"), dir_.file("train"));
    write_bytes(dir_.file("train/part-00001.h5"), mutate(original, rng, false, what, 4096));
    Outcome outcome = run_bounded(kBinary + " train " + data_->file("job.toml") + " --set data.train_dir=" +
                                  dir_.file("train"));
    Verdict verdict = classify_failure(outcome);
    if (outcome.exit_code == 0) {
      verdict = testing::fingerprint_of(outcome.output) == reference_ ? Verdict::kSameResult : Verdict::kSilentDifference;
    } else if (verdict == Verdict::kCleanError && outcome.output.find("part-00001.h5") == std::string::npos) {
      verdict = Verdict::kUncleanError;  // the error must name the shard
    }
    count("shard", c, verdict, what, outcome);
  }
  report("shards");
}

// The newest checkpoint (step 25) mutated in one of its files, then --resume auto: a damaged
// checkpoint is skipped with a warning naming it and the run resumes from the one before; either
// way it must end at the reference (any error fails: the resume would be blocked). JSON values are
// also confused with checksums made to match.
TEST_F(FuzzTest, Checkpoints) {
  const char* const files[] = {"manifest.json", "state.json", "parameters.f32", "optimizer.f32"};
  for (const Case& c : cases("checkpoint", 3)) {
    Rng rng(c.seed);
    const std::string file = files[rng.next_u64() % std::size(files)];
    const bool json = file.find(".json") != std::string::npos;
    const bool matching_checksum = file == "state.json" && rng.next_u64() % 2 == 0;
    fs::remove_all(dir_.file("ck"));
    fs::copy(data_->file("ck"), dir_.file("ck"), fs::copy_options::recursive);
    const std::string newest = dir_.file("ck/step-000000025");
    std::string what;
    std::string mutated = read_bytes(newest + "/" + file);
    if (matching_checksum) {
      mutated = mutate(mutated, rng, true, what);
      // Only a value of another type or range: a checksum cannot tell a value from a plausible one.
      what += " (checksum made to match)";
      testing::rewrite_with_matching_checksum(newest, file, mutated);
    } else {
      write_bytes(newest + "/" + file, mutate(mutated, rng, json, what));
    }
    what = file + ": " + what;
    Outcome outcome = run_bounded(kBinary + " train " + data_->file("job.toml") + " --resume auto --set checkpoint.dir=" +
                                  dir_.file("ck"));
    // An older valid checkpoint is always there: a resume that fails is one that a requeued job
    // would fail every time (a blocked resume), however cleanly it says so.
    Verdict verdict = classify_failure(outcome);
    if (verdict == Verdict::kCleanError) verdict = Verdict::kUncleanError;
    if (outcome.exit_code == 0) {
      const bool named = outcome.output.find("resumed from " + newest) != std::string::npos ||
                         outcome.output.find("skipping checkpoint " + newest) != std::string::npos;
      verdict = testing::fingerprint_of(outcome.output) == reference_ && named ? Verdict::kSameResult
                                                                      : Verdict::kSilentDifference;
    }
    count("checkpoint", c, verdict, what, outcome);
  }
  report("checkpoints");
}

}  // namespace
}  // namespace rt
