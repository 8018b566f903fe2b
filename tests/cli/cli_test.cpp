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

TEST_F(CliTest, TrainsWithTwoRanksAndWritesMetrics) {
  std::string metrics = dir_.file("metrics.jsonl");
  Outcome outcome =
      run(kMpi2 + kBinary + " train " + config(dir_.file("train"), dir_.file("test")) + " --set log.metrics=" + metrics);
  EXPECT_EQ(outcome.exit_code, 0) << outcome.output;
  EXPECT_NE(outcome.output.find("identical on all 2 ranks"), std::string::npos) << outcome.output;
  std::ifstream in(metrics);
  std::string line;
  ASSERT_TRUE(std::getline(in, line));
  EXPECT_NE(line.find("\"test_accuracy\""), std::string::npos) << line;
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
}

TEST_F(CliTest, InfoShowsEveryRankTheVersionsThePathsAndTheSchedulerVariables) {
  std::string path = config(dir_.file("train"), "${RT_TEST_DATA}/nowhere");
  Outcome outcome = run("RT_TEST_DATA=" + dir_.path() + " AZ_BATCHAI_INPUT_DATASET=/mnt/batchai/input " + kMpi2 +
                        "-x RT_TEST_DATA -x AZ_BATCHAI_INPUT_DATASET " + kBinary + " info " + path);
  EXPECT_EQ(outcome.exit_code, 0) << outcome.output;
  for (const std::string& needle :
       {std::string("ringtrain info: 2 rank(s)"), std::string("rank    1  host "), std::string("local rank 1 of 2"),
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

}  // namespace
}  // namespace rt
