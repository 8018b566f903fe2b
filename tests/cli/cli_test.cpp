// The ringtrain executable end to end. Bad input of every kind gets a one-line error naming the
// file or key and a non-zero exit; under mpiexec -n 2 the whole job ends quickly even when only
// one rank saw the problem.
#include <gtest/gtest.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <set>
#include <regex>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/metrics_log.h"
#include "data/shard_index.h"
#include "data/shard_reader.h"

#include "tests/test_support.h"

namespace rt {
namespace {

using testing::Outcome;
using testing::run;

const std::string kBinary = RINGTRAIN_BINARY;
// Two ranks, bounded: mpiexec itself kills the job after 60 s, so a hang fails instead of blocking.
const std::string kMpi2 = std::string(RINGTRAIN_MPIEXEC) + " -n 2 --oversubscribe --timeout 60 ";

class CliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    testing::write_cluster_shards(dir_.file("train"), 400, 3, 8, 3, 5, 1);
    testing::write_cluster_shards(dir_.file("test"), 100, 1, 8, 3, 5, 2);
  }
  // A config whose [data] points at `train` and `test`, plus `extra` lines.
  std::string config(const std::string& train, const std::string& test, const std::string& extra = "") {
    std::string path = dir_.file("job.toml");
    std::ofstream(path, std::ios::trunc) << "[model]\nhidden = [8]\n[train]\nepochs = 1\nglobal_batch = 16\n"
                                         << "[data]\ntrain_dir = \"" << train << "\"\ntest_dir = \"" << test
                                         << "\"\n[runtime]\nthreads = 1\n"
                                         << extra;
    return path;
  }
  // Trains 3 epochs on the shards in `train` (`launcher`: "" or mpiexec's prefix), evaluating on
  // `test`, and expects the run to learn them: test accuracy above 90%.
  void expect_learns(const std::string& launcher, const std::string& train, const std::string& test,
                     const std::string& run_dir) {
    Outcome trained =
        run(launcher + kBinary + " train " + config(train, test) + " --set train.epochs=3 --set log.dir=" + run_dir);
    ASSERT_EQ(trained.exit_code, 0) << trained.output;
    const std::string accuracy = testing::test_accuracy_of(trained.output);
    ASSERT_FALSE(accuracy.empty()) << trained.output;
    EXPECT_GT(std::stod(accuracy), 90.0) << trained.output;
  }
  void expect_failure(const Outcome& outcome, const std::string& needle) {
    EXPECT_NE(outcome.exit_code, 0) << outcome.output;
    EXPECT_NE(outcome.output.find(needle), std::string::npos) << "missing \"" << needle << "\" in:\n"
                                                              << outcome.output;
    EXPECT_LT(outcome.seconds, 45.0) << outcome.output;
  }
  testing::TempDir dir_;
};

TEST_F(CliTest, HelpListsTheCommands) {
  Outcome outcome = run(kBinary + " --help");
  EXPECT_EQ(outcome.exit_code, 0);
  EXPECT_NE(outcome.output.find("train"), std::string::npos);
  EXPECT_NE(outcome.output.find("shard"), std::string::npos);
  EXPECT_NE(run(kBinary + " train --help").output.find("--set"), std::string::npos);
  EXPECT_NE(run(kBinary).exit_code, 0);
  EXPECT_NE(run(kBinary + " train").exit_code, 0);
}

TEST_F(CliTest, TrainsAndExitsZero) {
  Outcome outcome = run(kBinary + " train " + config(dir_.file("train"), dir_.file("test")));
  EXPECT_EQ(outcome.exit_code, 0) << outcome.output;
  EXPECT_NE(outcome.output.find("done: test accuracy"), std::string::npos) << outcome.output;
}

// The run's record: by default runs/<config name>-<UTC time>/ in the working directory, with the
// resolved config, every rank's log, the metrics (JSON lines and CSV) and the checkpoints.
TEST_F(CliTest, TrainsWithTwoRanksIntoARunDirectory) {
  const std::string job = config(dir_.file("train"), dir_.file("test"));
  Outcome outcome = run("cd " + dir_.path() + " && " + kMpi2 + kBinary + " train " + job + " --set log.every=10");
  EXPECT_EQ(outcome.exit_code, 0) << outcome.output;
  EXPECT_NE(outcome.output.find("identical on all 2 ranks"), std::string::npos) << outcome.output;
  std::vector<std::filesystem::path> runs;
  for (const auto& entry : std::filesystem::directory_iterator(dir_.file("runs"))) runs.push_back(entry.path());
  ASSERT_EQ(runs.size(), 1u);
  const std::string name = runs[0].filename().string();
  EXPECT_TRUE(std::regex_match(name, std::regex(R"(job-\d{8}-\d{6})"))) << name;
  const std::string run_dir = runs[0].string();

  std::ifstream config_in(run_dir + "/config.toml");
  std::string config_text((std::istreambuf_iterator<char>(config_in)), std::istreambuf_iterator<char>());
  EXPECT_NE(config_text.find("every = 10"), std::string::npos) << config_text;  // the override resolved
  for (const char* rank : {"0", "1"}) {
    std::ifstream log_in(run_dir + "/logs/rank-" + rank + ".log");
    std::string log((std::istreambuf_iterator<char>(log_in)), std::istreambuf_iterator<char>());
    EXPECT_NE(log.find(std::string("[rank ") + rank + "/2"), std::string::npos) << rank << ":\n" << log;
    EXPECT_NE(log.find("done: test accuracy"), std::string::npos) << rank << ":\n" << log;
  }
  // 400 samples / 16 = 25 steps: rows at steps 10, 20 and the epoch's end, then its evaluation.
  const std::vector<nlohmann::json> rows = read_metrics(run_dir + "/metrics.jsonl");
  EXPECT_EQ(testing::train_rows_cover_each_step_once(run_dir + "/metrics.jsonl", 25), "");
  ASSERT_EQ(rows.size(), 5u);
  for (const char* key : {"time", "loss", "accuracy", "lr", "samples_per_second", "step_ms", "data_wait_seconds",
                          "gradient_wait_seconds", "cpu_percent", "memory_mb"}) {
    EXPECT_TRUE(rows[0].contains(key)) << key << " missing from " << rows[0];
  }
  EXPECT_EQ(rows[0]["cpu_percent"].size(), 2u) << rows[0];
  EXPECT_GT(rows[0]["memory_mb"][1].get<double>(), 1.0) << rows[0];
  EXPECT_EQ(rows[3].value("kind", ""), "eval");
  EXPECT_EQ(rows[4].value("kind", ""), "epoch");
  EXPECT_TRUE(rows[4].contains("test_accuracy")) << rows[4];
  EXPECT_EQ(rows[4]["test_accuracy"], rows[3]["accuracy"]) << rows[3] << rows[4];
  std::ifstream csv(run_dir + "/metrics.csv");
  int csv_lines = 0;
  for (std::string line; std::getline(csv, line);) ++csv_lines;
  EXPECT_EQ(csv_lines, 6);
  EXPECT_TRUE(std::filesystem::exists(run_dir + "/checkpoints/step-000000025/manifest.json"));

  // --resume auto continues the newest run of this config (nothing left to train here).
  Outcome resumed = run("cd " + dir_.path() + " && " + kMpi2 + kBinary + " train " + job + " --resume auto");
  EXPECT_EQ(resumed.exit_code, 0) << resumed.output;
  EXPECT_NE(resumed.output.find("run directory runs/" + name), std::string::npos) << resumed.output;
}

// checkpoint.keep_best with train.eval_every: a checkpoint at each evaluation; the newest and the
// one of the best evaluation stay.
// runtime.cpu_blas = "auto": both ranks time the model's products, agree on one library, keep the
// choice in the cache, and the next run reads it from there instead of measuring.
TEST_F(CliTest, AutoCpuBlasMeasuresOnceAndEveryRankAgrees) {
  const std::string cache = dir_.file("cache");
  const std::string command = "XDG_CACHE_HOME=" + cache + " " + kMpi2 + kBinary + " train " +
                              config(dir_.file("train"), dir_.file("test")) +
                              " --set runtime.cpu_blas=auto --set log.all_ranks=true --set log.dir=";
  Outcome measured = run(command + dir_.file("auto-1"));
  ASSERT_EQ(measured.exit_code, 0) << measured.output;
  const std::regex chose("rank ([01])/2[^\n]*products by (Eigen|OpenBLAS) \\(runtime.cpu_blas = \"auto\": the model's "
                         "([0-9]+) product shapes");
  std::set<std::string> choices;
  int ranks = 0;
  for (std::sregex_iterator m(measured.output.begin(), measured.output.end(), chose), end; m != end; ++m, ++ranks) {
    choices.insert((*m)[2]);
    EXPECT_GE(std::stoi((*m)[3]), 4) << "two Linear layers make at least four product shapes a pass";
  }
  EXPECT_EQ(ranks, 2) << measured.output;
  EXPECT_EQ(choices.size(), 1u) << measured.output;
  std::ifstream cache_file(cache + "/ringtrain/cpu-blas.json");
  const std::string cached((std::istreambuf_iterator<char>(cache_file)), std::istreambuf_iterator<char>());
  EXPECT_NE(cached.find("\"eigen_ms\""), std::string::npos) << cached;
  Outcome again = run(command + dir_.file("auto-2"));
  ASSERT_EQ(again.exit_code, 0) << again.output;
  EXPECT_NE(again.output.find("products by " + *choices.begin()), std::string::npos) << again.output;
  EXPECT_NE(again.output.find("as measured before on this processor"), std::string::npos) << again.output;
}

TEST_F(CliTest, KeepBestKeepsTheCheckpointOfTheBestEvaluation) {
  const std::string run_dir = dir_.file("run");
  Outcome outcome = run(kMpi2 + kBinary + " train " + config(dir_.file("train"), dir_.file("test")) +
                        " --set train.epochs=4 --set train.eval_every=7 --set checkpoint.keep=1 "
                        "--set checkpoint.keep_best=true --set log.dir=" + run_dir);
  ASSERT_EQ(outcome.exit_code, 0) << outcome.output;
  double best = -1;
  int64_t best_step = -1;
  for (const nlohmann::json& row : read_metrics(run_dir + "/metrics.jsonl")) {
    // The first of equals is kept only until a later equal one: the newest of equals stays.
    if (row.value("kind", "") == "eval" && row.value("accuracy", -1.0) >= best) {
      best = row.value("accuracy", -1.0);
      best_step = row.value("step", int64_t{-1});
    }
  }
  ASSERT_LT(best_step, 100) << "the newest is the best: this run cannot show an older best kept";
  std::set<std::string> expected = {"step-000000100", fmt::format("step-{:09d}", best_step)};
  std::set<std::string> found;
  for (const auto& entry : std::filesystem::directory_iterator(run_dir + "/checkpoints")) {
    if (entry.is_directory()) found.insert(entry.path().filename().string());
  }
  EXPECT_EQ(found, expected) << "best accuracy " << best << " at step " << best_step;
  std::ifstream state(run_dir + "/checkpoints/" + fmt::format("step-{:09d}", best_step) + "/state.json");
  const nlohmann::json saved = nlohmann::json::parse(state, nullptr, false);
  EXPECT_EQ(saved["evaluation"].value("accuracy", -1.0), best) << saved;
}

// Rank 0's progress: one line redrawn in place on a terminal, plain lines elsewhere.
TEST_F(CliTest, ProgressIsRedrawnOnATerminalAndPlainOnAPipe) {
  const std::string job = kMpi2 + kBinary + " train " + config(dir_.file("train"), dir_.file("test")) +
                          " --set log.dir=" + dir_.file("run") + " --set log.every_seconds=0";
  Outcome piped = run(job + " | cat");
  EXPECT_EQ(piped.exit_code, 0) << piped.output;
  EXPECT_NE(piped.output.find("] step 25/25 (100.0%) epoch 1/1 | loss "), std::string::npos) << piped.output;
  EXPECT_NE(piped.output.find(" samples/s | "), std::string::npos) << piped.output;
  EXPECT_EQ(piped.output.find('\033'), std::string::npos) << piped.output;

  // script(1) gives mpiexec a pseudo-terminal, as a user's shell would.
  Outcome terminal = run("script -qec '" + job + " --set log.dir=" + dir_.file("run2") + "' /dev/null");
  EXPECT_EQ(terminal.exit_code, 0) << terminal.output;
  EXPECT_NE(terminal.output.find("\r\033[Kstep 25/25 (100.0%)"), std::string::npos) << terminal.output;
}

TEST_F(CliTest, WritesATimelinePerRankWithLayersAndBuckets) {
  std::string timeline = dir_.file("trace.json");
  Outcome outcome = run(kMpi2 + kBinary + " train " + config(dir_.file("train"), dir_.file("test")) +
                        " --set log.timeline=" + timeline + " --set comm.bucket_mb=0.0001 --set train.accumulate=2" +
                        " --set comm.hierarchical=true --set comm.wire=fp16");
  EXPECT_EQ(outcome.exit_code, 0) << outcome.output;
  EXPECT_NE(outcome.output.find("mpi-hierarchical"), std::string::npos) << outcome.output;
  for (const char* rank : {"0", "1"}) {
    std::ifstream in(dir_.file(std::string("trace.rank") + rank + ".json"));
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    for (const char* event : {"\"all-reduce bucket\"", "\"linear8x8\"", "\"optimizer\"", "\"data wait\"", "\"traceEvents\""}) {
      EXPECT_NE(text.find(event), std::string::npos) << event << " missing from rank " << rank << "'s timeline";
    }
  }
  // One trace with every rank: a process per rank, named with its host, each with its events.
  std::ifstream in(timeline);
  const nlohmann::json merged = nlohmann::json::parse(in, nullptr, false);
  ASSERT_TRUE(merged.is_object() && merged.contains("traceEvents")) << "not JSON: " << timeline;
  std::map<int, int> optimizer_steps;
  std::set<std::string> process_names;
  for (const nlohmann::json& event : merged["traceEvents"]) {
    if (event.value("name", "") == "process_name") process_names.insert(event["args"].value("name", ""));
    if (event.value("name", "") == "optimizer") ++optimizer_steps[event.value("pid", -1)];
  }
  EXPECT_EQ(optimizer_steps.size(), 2u);
  EXPECT_EQ(optimizer_steps[0], optimizer_steps[1]);
  ASSERT_EQ(process_names.size(), 2u);
  EXPECT_EQ(process_names.begin()->rfind("rank 0 (", 0), 0u) << *process_names.begin();
}

TEST_F(CliTest, InfoShowsEveryRankTheVersionsThePathsAndTheSchedulerVariables) {
  std::string path = config(dir_.file("train"), "${RT_TEST_DATA}/nowhere");
  Outcome outcome = run("RT_TEST_DATA=" + dir_.path() + " AZ_BATCHAI_INPUT_DATASET=/mnt/batchai/input " + kMpi2 +
                        "-x RT_TEST_DATA -x AZ_BATCHAI_INPUT_DATASET " + kBinary + " info " + path);
  EXPECT_EQ(outcome.exit_code, 0) << outcome.output;
  for (const std::string& needle :
       {std::string("ringtrain info: 2 rank(s)"), std::string("\nringtrain: " RINGTRAIN_VERSION "\n"), std::string("rank    1  host "), std::string("local rank 1 of 2"),
        std::string("MPI: Open MPI"), std::string("HDF5: 1."), std::string("data.train_dir  " + dir_.file("train") + " (exists, "),
        std::string("data.test_dir   " + dir_.path() + "/nowhere (MISSING, "),
        std::string("AZ_BATCHAI_INPUT_DATASET=/mnt/batchai/input")}) {
    EXPECT_NE(outcome.output.find(needle), std::string::npos) << "missing \"" << needle << "\" in:\n" << outcome.output;
  }
}

TEST_F(CliTest, MissingDataDirectoryEndsTheJob) {
  expect_failure(run(kMpi2 + kBinary + " train " + config("/nonexistent/train", dir_.file("test"))),
                 "data directory /nonexistent/train does not exist");
}

TEST_F(CliTest, EmptyDataDirectoryEndsTheJob) {
  std::string empty = dir_.file("empty");
  std::filesystem::create_directories(empty);
  expect_failure(run(kMpi2 + kBinary + " train " + config(empty, dir_.file("test"))), "holds no shards");
}

TEST_F(CliTest, NonHdf5ShardEndsTheJob) {
  std::ofstream(dir_.file("train/part-00001.h5"), std::ios::trunc) << "not hdf5";
  expect_failure(run(kMpi2 + kBinary + " train " + config(dir_.file("train"), dir_.file("test"))),
                 dir_.file("train/part-00001.h5") + " is not an HDF5 file");
}

TEST_F(CliTest, WithOnBadShardSkipEveryRankLeavesTheSameBadShardOutAndTrains) {
  std::ofstream(dir_.file("train/part-00009.h5"), std::ios::trunc) << "not hdf5";
  Outcome outcome = run(kMpi2 + kBinary + " train " + config(dir_.file("train"), dir_.file("test")) +
                        " --set data.on_bad_shard=skip --set log.all_ranks=true");
  EXPECT_EQ(outcome.exit_code, 0) << outcome.output;
  for (const char* rank : {"[rank 0/2", "[rank 1/2"}) {
    EXPECT_NE(outcome.output.find(std::string(rank)), std::string::npos) << outcome.output;
  }
  size_t first = outcome.output.find("leaving out bad shard " + dir_.file("train/part-00009.h5"));
  ASSERT_NE(first, std::string::npos) << outcome.output;
  EXPECT_NE(outcome.output.find("leaving out bad shard", first + 1), std::string::npos) << "only one rank left it out";
  EXPECT_NE(outcome.output.find("identical on all 2 ranks"), std::string::npos) << outcome.output;
}

TEST_F(CliTest, UnknownConfigKeyIsNamed) {
  std::string path = config(dir_.file("train"), dir_.file("test"), "[optimizer]\nlearning_rate = 0.1\n");
  expect_failure(run(kMpi2 + kBinary + " train " + path), "config error in " + path + ": optimizer.learning_rate is not a known key");
}

TEST_F(CliTest, VersionAndAnUnknownCommandAreAnswered) {
  Outcome version = run(kBinary + " --version");
  EXPECT_EQ(version.exit_code, 0) << version.output;
  EXPECT_EQ(version.output.rfind("ringtrain " RINGTRAIN_VERSION "\n", 0), 0u) << version.output;
  expect_failure(run(kBinary + " bogus"), "unknown command 'bogus'; the commands are train, shard, info");
}

// Users read one plain line; the source location ([file:line: condition]) is for log.level = "debug".
TEST_F(CliTest, ErrorsCarryTheirSourceLocationOnlyAtDebugLevel) {
  const std::string job = config(dir_.file("nowhere"), dir_.file("test")) + " --set log.dir=" + dir_.file("run");
  Outcome plain = run(kBinary + " train " + job);
  expect_failure(plain, dir_.file("nowhere"));
  EXPECT_EQ(plain.output.find(".cpp:"), std::string::npos) << plain.output;
  Outcome debug = run(kBinary + " train " + job + " --set log.level=debug");
  expect_failure(debug, dir_.file("nowhere"));
  EXPECT_NE(debug.output.find(".cpp:"), std::string::npos) << debug.output;
}

// A checkpoint directory that cannot be written fails the run at start-up, before any training.
TEST_F(CliTest, AnUnwritableCheckpointDirEndsTheJobAtStartUp) {
  std::ofstream(dir_.file("a-file")) << "not a folder";
  Outcome outcome = run(kMpi2 + kBinary + " train " + config(dir_.file("train"), dir_.file("test")) +
                        " --set log.dir=" + dir_.file("run") + " --set checkpoint.dir=" + dir_.file("a-file/ck"));
  expect_failure(outcome, "checkpoint.dir " + dir_.file("a-file/ck") + " cannot be created");
  EXPECT_EQ(outcome.output.find("epoch 1/1"), std::string::npos) << "trained first:\n" << outcome.output;
}

// Resuming with another configuration says which keys differ, checkpoint -> now.
TEST_F(CliTest, AResumeWithAnotherConfigurationNamesEachDifference) {
  const std::string job = kBinary + " train " + config(dir_.file("train"), dir_.file("test")) + " --set log.dir=" +
                          dir_.file("run") + " --set train.max_steps=5";
  ASSERT_EQ(run(job).exit_code, 0);
  Outcome resumed = run(job + " --set train.max_steps=10 --set optimizer.lr=0.1 --resume auto");
  EXPECT_EQ(resumed.exit_code, 0) << resumed.output;
  EXPECT_NE(resumed.output.find("resuming anyway. Checkpoint -> now:\n    optimizer.lr: (not set) -> 0.1\n"
                                "    train.max_steps: 5 -> 10\n"),
            std::string::npos)
      << resumed.output;
}

// A checkpoint whose state puts it outside this run (its checksums made to match: a damaged value
// or another run's position) is skipped by --resume auto, which resumes from the one before, and
// is an error naming it with --resume DIR: never a resume blocked for good.
TEST_F(CliTest, ACheckpointOutsideThisRunIsSkippedByAutoAndNamedWhenAskedFor) {
  const std::string job = kBinary + " train " + config(dir_.file("train"), dir_.file("test")) + " --set log.dir=" +
                          dir_.file("run") + " --set train.epochs=2 --set train.max_steps=6 --set checkpoint.every=2 " +
                          "--set checkpoint.keep=5 --set checkpoint.dir=" + dir_.file("ck");
  ASSERT_EQ(run(job).exit_code, 0);
  const std::string newest = dir_.file("ck/step-000000006");
  std::ifstream in(newest + "/state.json");
  nlohmann::json state = nlohmann::json::parse(in);
  state["epoch"] = 5;  // a 2-epoch run never gets there
  testing::rewrite_with_matching_checksum(newest, "state.json", state.dump(2));
  expect_failure(run(job + " --resume " + newest), newest + ": the checkpoint is at epoch 6 step");
  Outcome resumed = run(job + " --set train.max_steps=8 --resume auto");
  EXPECT_EQ(resumed.exit_code, 0) << resumed.output;
  EXPECT_NE(resumed.output.find("skipping checkpoint " + newest + ": " + newest +
                                ": the checkpoint is at epoch 6 step"),
            std::string::npos)
      << resumed.output;
  EXPECT_NE(resumed.output.find("resumed from " + dir_.file("ck/step-000000004")), std::string::npos) << resumed.output;
}

TEST_F(CliTest, BadValueIsNamed) {
  std::string path = config(dir_.file("train"), dir_.file("test"));
  expect_failure(run(kBinary + " train " + path + " --set train.epochs=-1"),
                 "--set train.epochs=-1: train.epochs = -1 is out of range");
}

TEST_F(CliTest, MissingConfigFileIsNamed) {
  expect_failure(run(kBinary + " train /nonexistent/job.toml"), "/nonexistent/job.toml");
}

TEST_F(CliTest, AProblemSeenByOneRankAloneEndsTheWholeJob) {
  // Rank 1's data mount is missing, as when one node of a cluster lacks it; rank 0 is fine and
  // would otherwise wait in its first collective for ever.
  std::string path = config("${RT_TEST_DATA}/train", dir_.file("test"));
  std::string command = kMpi2 + "sh -c 'if [ \"$OMPI_COMM_WORLD_RANK\" = 1 ]; then RT_TEST_DATA=/missing; else RT_TEST_DATA=" +
                        dir_.path() + "; fi; export RT_TEST_DATA; exec " + kBinary + " train " + path + "'";
  Outcome outcome = run(command);
  expect_failure(outcome, "[rank 1/2");
  EXPECT_NE(outcome.output.find("data directory /missing/train does not exist"), std::string::npos) << outcome.output;
}

TEST_F(CliTest, ARankKilledMidTrainingEndsTheWholeJob) {
  // Rank 1 is killed (SIGKILL) a second into a long run; rank 0 must not wait for it for ever.
  std::string path = config(dir_.file("train"), dir_.file("test"));
  std::string command = kMpi2 + "sh -c 'if [ \"$OMPI_COMM_WORLD_RANK\" = 1 ]; then (sleep 1; kill -9 $$) & fi; exec " +
                        kBinary + " train " + path + " --set train.epochs=1000000'";
  Outcome outcome = run(command);
  EXPECT_NE(outcome.exit_code, 0) << outcome.output;
  EXPECT_NE(outcome.output.find("rank 1"), std::string::npos) << outcome.output;
  EXPECT_LT(outcome.seconds, 30.0) << outcome.output;
}

TEST_F(CliTest, ShardCommandConvertsIdxAndNamesMissingInput) {
  expect_failure(run(kBinary + " shard --images /nonexistent/i.gz --labels /nonexistent/l.gz --output " +
                     dir_.file("out")),
                 "cannot open IDX file /nonexistent/i.gz");
  EXPECT_NE(run(kBinary + " shard --output " + dir_.file("out")).exit_code, 0);
}

// Your own arrays: `shard --npy FEATURES.npy --labels LABELS.npy` writes shards a run trains on
// (float64 features stored as float32; uint8 kept as bytes, scaled as images); bad labels, a
// wrong length or a non-numeric dtype are named.
TEST_F(CliTest, ShardCommandConvertsNpyArraysAndTrainsOnThem) {
  constexpr int64_t kRows = 300, kFeatures = 6;
  std::vector<double> features(kRows * kFeatures);
  std::vector<int64_t> labels(kRows);
  std::vector<uint8_t> bytes(kRows * kFeatures);
  for (int64_t r = 0; r < kRows; ++r) {
    labels[r] = r % 3;
    for (int64_t f = 0; f < kFeatures; ++f) {
      features[r * kFeatures + f] = (f == labels[r] ? 2.0 : 0.0) + 0.01 * static_cast<double>((r * 7 + f) % 13);
      bytes[r * kFeatures + f] = static_cast<uint8_t>(features[r * kFeatures + f] * 100);
    }
  }
  testing::write_npy(dir_.file("x.npy"), "<f8", "(300, 2, 3)", features.data(), features.size() * sizeof(double));
  testing::write_npy(dir_.file("x8.npy"), "|u1", "(300, 6)", bytes.data(), bytes.size());
  testing::write_npy(dir_.file("y.npy"), "<i8", "(300,)", labels.data(), labels.size() * sizeof(int64_t));
  Outcome converted = run(kBinary + " shard --npy " + dir_.file("x.npy") + " --labels " + dir_.file("y.npy") +
                          " --shards 3 --output " + dir_.file("npy-train"));
  ASSERT_EQ(converted.exit_code, 0) << converted.output;
  ShardIndex index(dir_.file("npy-train"));
  ASSERT_EQ(index.shards().size(), 3u);
  EXPECT_EQ(index.total_samples(), kRows);
  EXPECT_EQ(index.shards()[0].feature_dtype, DType::kFloat32);
  EXPECT_EQ(index.shards()[0].feature_shape, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(index.shards()[0].classes, 3);
  ShardReader reader(index.shards()[1].path);
  std::vector<float> row(kFeatures);
  int32_t label = -1;
  reader.read(0, 1, row.data(), &label);  // the second shard's first row is row 100
  EXPECT_EQ(label, labels[100]);
  for (int64_t f = 0; f < kFeatures; ++f) EXPECT_EQ(row[f], static_cast<float>(features[100 * kFeatures + f]));
  expect_learns("", dir_.file("npy-train"), dir_.file("npy-train"), dir_.file("npy-run"));

  Outcome as_bytes = run(kBinary + " shard --npy " + dir_.file("x8.npy") + " --labels " + dir_.file("y.npy") +
                         " --classes 5 --output " + dir_.file("npy-bytes"));
  ASSERT_EQ(as_bytes.exit_code, 0) << as_bytes.output;
  ShardIndex byte_index(dir_.file("npy-bytes"));
  EXPECT_EQ(byte_index.shards()[0].feature_dtype, DType::kUInt8);
  EXPECT_EQ(byte_index.shards()[0].classes, 5);
  EXPECT_DOUBLE_EQ(byte_index.shards()[0].feature_scale, 1.0 / 255.0);

  std::vector<double> bad_labels(kRows, 1.0);
  bad_labels[7] = 1.5;
  testing::write_npy(dir_.file("half.npy"), "<f8", "(300,)", bad_labels.data(), bad_labels.size() * sizeof(double));
  expect_failure(run(kBinary + " shard --npy " + dir_.file("x.npy") + " --labels " + dir_.file("half.npy") +
                     " --output " + dir_.file("bad")),
                 dir_.file("half.npy") + ": labels must be integers, not dtype <f8");
  std::vector<int64_t> negative(kRows, 1);
  negative[7] = -2;
  testing::write_npy(dir_.file("negative.npy"), "<i8", "(300,)", negative.data(), negative.size() * sizeof(int64_t));
  expect_failure(run(kBinary + " shard --npy " + dir_.file("x.npy") + " --labels " + dir_.file("negative.npy") +
                     " --output " + dir_.file("bad")),
                 dir_.file("negative.npy") + ", row 7: label -2 is not a class id");
  testing::write_npy(dir_.file("short.npy"), "<i8", "(299,)", labels.data(), 299 * sizeof(int64_t));
  expect_failure(run(kBinary + " shard --npy " + dir_.file("x.npy") + " --labels " + dir_.file("short.npy") +
                     " --output " + dir_.file("bad")),
                 "holds 300 samples but " + dir_.file("short.npy") + " holds 299 labels");
  expect_failure(run(kBinary + " shard --labels " + dir_.file("y.npy") + " --output " + dir_.file("bad")),
                 "--labels");
}

// NumPy archives: `shard --npz` reads the arrays np.savez (stored) and np.savez_compressed
// (deflated) write, under --features-key and --labels-key: the same samples as the arrays, a run
// learns from them, the extracted files are gone; a missing key names the arrays there are, and an
// error in an array names the archive and the array.
TEST_F(CliTest, ShardCommandConvertsNpzArchives) {
  Outcome made = run(std::string(RINGTRAIN_PYTHON) + " -c \"import numpy as np\n"
                     "y = np.arange(300) % 3\n"
                     "x = (np.arange(300 * 4).reshape(300, 4) % 5) * 0.01 + (np.arange(4) == y[:, None]) * 2.0\n"
                     "np.savez('" + dir_.file("stored.npz") + "', x=x.astype(np.float32), y=y)\n"
                     "np.savez_compressed('" + dir_.file("deflated.npz") + "', features=x, labels=y.astype(np.int16))\n"
                     "np.savez('" + dir_.file("halves.npz") + "', x=x, y=y * 0.5)\" 2>&1");
  ASSERT_EQ(made.exit_code, 0) << made.output;
  for (const std::string& args : {dir_.file("stored.npz"), dir_.file("deflated.npz") +
                                                               " --features-key features --labels-key labels"}) {
    const std::string out = dir_.file(args.find("deflated") != std::string::npos ? "deflated" : "stored");
    Outcome converted = run(kBinary + " shard --npz " + args + " --output " + out);
    ASSERT_EQ(converted.exit_code, 0) << converted.output;
    ShardIndex index(out);
    EXPECT_EQ(index.total_samples(), 300);
    EXPECT_EQ(index.layout().classes, 3);
    ShardReader reader(index.shards()[0].path);
    float row[4];
    int32_t label = -1;
    reader.read(7, 1, row, &label);  // y = 1: feature 1 is 2 plus (29 % 5) * 0.01
    EXPECT_EQ(label, 1);
    EXPECT_FLOAT_EQ(row[1], 2.04f);
    EXPECT_FLOAT_EQ(row[0], 0.03f);
    for (const auto& entry : std::filesystem::directory_iterator(out)) {
      const std::string file = entry.path().filename().string();
      EXPECT_EQ(entry.path().extension(), file == "shard-manifest.json" || file == "shard-plan.json" ? ".json" : ".h5")
          << "left behind: " << entry.path();
    }
  }
  expect_learns("", dir_.file("stored"), dir_.file("deflated"), dir_.file("npz-run"));
  expect_failure(run(kBinary + " shard --npz " + dir_.file("deflated.npz") + " --output " + dir_.file("bad")),
                 dir_.file("deflated.npz") + " holds no array 'x' (it holds: features, labels)");
  expect_failure(run(kBinary + " shard --npz " + dir_.file("halves.npz") + " --output " + dir_.file("bad")),
                 dir_.file("halves.npz") + " (array y): labels must be integers");
  std::ofstream(dir_.file("text.npz")) << "not a zip archive";
  expect_failure(run(kBinary + " shard --npz " + dir_.file("text.npz") + " --output " + dir_.file("bad")),
                 "cannot read " + dir_.file("text.npz") + " as a .npz archive");
}

// CSV tables: `shard --csv FILE... --label COLUMN` cuts the files into shards of about --shard-mb
// of text a run trains on; a malformed value is named by file, line and column, or skipped and counted.
TEST_F(CliTest, ShardCommandConvertsCsvTablesAndNamesBadValues) {
  for (int part : {0, 1}) {
    std::ofstream out(dir_.file(fmt::format("table-{}.csv", part)));
    out << "id,a,b,\"kind\",c\n";
    for (int64_t r = 0; r < 150; ++r) {
      const int64_t y = (r + part) % 3;
      out << part * 150 + r << "," << (y == 0 ? 2.5 : 0.1 * (r % 7)) << "," << (y == 1 ? "2" : "-0.5") << "," << y
          << "," << (y == 2 ? 3 : 0) << "e0\n";
    }
  }
  const std::string tables = dir_.file("table-0.csv") + " " + dir_.file("table-1.csv");
  Outcome converted = run(kBinary + " shard --csv " + tables + " --label kind --features a b c --shard-mb 0.002 " +
                          "--output " + dir_.file("csv-train"));
  ASSERT_EQ(converted.exit_code, 0) << converted.output;
  // Each file cut into pieces of about 2 KiB of text, one shard a piece.
  EXPECT_NE(converted.output.find("wrote 4 shard(s) (300 rows)"), std::string::npos) << converted.output;
  ShardIndex index(dir_.file("csv-train"));
  EXPECT_EQ(index.total_samples(), 300);
  EXPECT_EQ(index.shards()[0].classes, 3);
  EXPECT_EQ(index.shards()[0].feature_shape, (std::vector<int64_t>{3}));
  ShardReader reader(index.shards()[0].path);
  float row[3];
  int32_t label = -1;
  reader.read(1, 1, row, &label);  // table-0's second row: r = 1, y = 1
  EXPECT_EQ(label, 1);
  EXPECT_FLOAT_EQ(row[0], 0.1f);
  EXPECT_FLOAT_EQ(row[1], 2.0f);
  EXPECT_FLOAT_EQ(row[2], 0.0f);
  expect_learns("", dir_.file("csv-train"), dir_.file("csv-train"), dir_.file("csv-run"));

  std::ofstream(dir_.file("bad.csv")) << "x,y\n1.5,0\n,1\n2.0,one\n3.0,2\n";
  expect_failure(run(kBinary + " shard --csv " + dir_.file("bad.csv") + " --label y --output " + dir_.file("bad")),
                 dir_.file("bad.csv") + ", line 3, column 'x': '' is not a number");
  Outcome skipped = run(kBinary + " shard --csv " + dir_.file("bad.csv") + " --label y --on-bad-row skip --output " +
                        dir_.file("skipped"));
  ASSERT_EQ(skipped.exit_code, 0) << skipped.output;
  EXPECT_NE(skipped.output.find("wrote 1 shard(s) (2 rows; 2 bad row(s) skipped)"), std::string::npos)
      << skipped.output;
  EXPECT_NE(skipped.output.find("2 bad row(s) skipped"), std::string::npos) << skipped.output;
  expect_failure(run(kBinary + " shard --csv " + dir_.file("bad.csv") + " --label z --output " + dir_.file("bad")),
                 dir_.file("bad.csv") + ": no column 'z' in its header");
  std::ofstream(dir_.file("other.csv")) << "x,w\n1,0\n";
  expect_failure(run(kBinary + " shard --csv " + dir_.file("table-0.csv") + " " + dir_.file("other.csv") +
                     " --label kind --output " + dir_.file("bad")),
                 dir_.file("other.csv") + ": its header differs");
}

// Labels that are class names: stored in the shards by sorted name, the same ids for a second part
// converted with --class-names, shown by evaluate; parts whose names differ are refused by train,
// and a label outside the given names is named.
TEST_F(CliTest, CsvClassNamesAreStoredTrainedOnAndShown) {
  const char* kinds[] = {"oak", "elm", "ash"};
  for (const char* part : {"train", "test"}) {
    std::ofstream out(dir_.file(fmt::format("trees-{}.csv", part)));
    out << "height,width,tree\n";
    for (int64_t r = 0; r < 240; ++r) {
      const int64_t k = r % 3;
      out << (k == 0 ? 2.0 : 0.1 * (r % 5)) << "," << (k == 1 ? 2.0 : -0.5) << "," << kinds[k] << "\n";
    }
  }
  Outcome train = run(kBinary + " shard --csv " + dir_.file("trees-train.csv") + " --label tree --output " +
                      dir_.file("trees/train"));
  ASSERT_EQ(train.exit_code, 0) << train.output;
  EXPECT_NE(train.output.find("3 classes, by id: 'ash' 'elm' 'oak'; convert the other parts of this data set with "
                              "--class-names 'ash' 'elm' 'oak'"),
            std::string::npos)
      << train.output;
  Outcome test = run(kBinary + " shard --csv " + dir_.file("trees-test.csv") +
                     " --label tree --class-names ash elm oak --output " + dir_.file("trees/test"));
  ASSERT_EQ(test.exit_code, 0) << test.output;
  for (const char* part : {"train", "test"}) {
    ShardIndex index(dir_.file(std::string("trees/") + part));
    EXPECT_EQ(index.layout().class_names, (std::vector<std::string>{"ash", "elm", "oak"}));
    ShardReader reader(index.shards()[0].path);
    float row[2];
    int32_t label = -1;
    reader.read(0, 1, row, &label);  // the first row: an oak
    EXPECT_EQ(label, 2);
  }
  expect_learns("", dir_.file("trees/train"), dir_.file("trees/test"), dir_.file("trees-run"));
  Outcome evaluated = run(kBinary + " evaluate " + dir_.file("trees-run/checkpoints") + " --data " +
                          dir_.file("trees/test") + " --json");
  ASSERT_EQ(evaluated.exit_code, 0) << evaluated.output;
  const nlohmann::json report = nlohmann::json::parse(evaluated.output.substr(evaluated.output.find('{')));
  EXPECT_EQ(report["classes"][2]["name"], "oak") << evaluated.output;

  // Converted alone, a part that lacks a class gets other ids: training refuses the pair.
  std::ofstream(dir_.file("two.csv")) << "height,width,tree\n1,2,elm\n2,1,oak\n";
  ASSERT_EQ(run(kBinary + " shard --csv " + dir_.file("two.csv") + " --label tree --output " + dir_.file("two")).exit_code, 0);
  expect_failure(run(kBinary + " train " + config(dir_.file("trees/train"), dir_.file("two")) + " --set log.dir="),
                 "name their classes [elm, oak], training shards");
  expect_failure(run(kBinary + " shard --csv " + dir_.file("two.csv") + " --label tree --class-names ash elm --output " +
                     dir_.file("bad")),
                 dir_.file("two.csv") + ", line 3, column 'tree': 'oak' is not one of the 2 class names");
}

// The Python recipe (examples/python/write_shards.py, h5py): its shards pass every check of the
// reader and a run learns from them.
TEST_F(CliTest, ShardsWrittenByThePythonRecipeTrain) {
  Outcome written = run(std::string(RINGTRAIN_PYTHON) + " " + RINGTRAIN_SOURCE_DIR +
                        "/examples/python/write_shards.py --demo " + dir_.file("py"));
  ASSERT_EQ(written.exit_code, 0) << written.output;
  ShardIndex index(dir_.file("py/train"));
  EXPECT_EQ(index.shards().size(), 3u);
  EXPECT_EQ(index.total_samples(), 2000);
  EXPECT_EQ(index.shards()[0].feature_dtype, DType::kFloat32);
  expect_learns(kMpi2, dir_.file("py/train"), dir_.file("py/test"), dir_.file("py-run"));
}

}  // namespace
}  // namespace rt
