// What clusters do to jobs, done for real to the ringtrain binary under mpiexec -n 2 (-n 4 for the
// resume with another rank count): SIGTERM, SIGKILL of the ranks at arbitrary moments (including
// while they write checkpoints, once every step), a rank that exits early. Each must end the job
// within its bound with no process left behind, and every resume must end with bitwise the same
// parameters as a run that was never interrupted. Also data gone bad on a blob mount.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <regex>
#include <thread>

#include <unistd.h>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "tests/test_support.h"

namespace rt {
namespace {

using testing::Outcome;
using testing::run;

const std::string kBinary = RINGTRAIN_BINARY;
const std::string kWatchdogJob = RINGTRAIN_WATCHDOG_JOB;
std::string mpiexec(int ranks) {
  return std::string(RINGTRAIN_MPIEXEC) + " -n " + std::to_string(ranks) + " --oversubscribe --timeout 100 ";
}

class FaultsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    data_ = new testing::TempDir();
    // Few features, so the clusters overlap and the loss stays well above zero all the run long.
    testing::write_cluster_shards(data_->file("train"), 1600, 4, 4, 4, 9, 1);
    testing::write_cluster_shards(data_->file("test"), 200, 1, 4, 4, 9, 2);
    // The uninterrupted run every resumed run must reproduce.
    Outcome reference = run(mpiexec(2) + kBinary + " train " + write_config(data_->file("reference.toml"), ""));
    reference_ = testing::fingerprint_of(reference.output);
    ASSERT_FALSE(reference_.empty()) << reference.output;
  }
  static void TearDownTestSuite() { delete data_; }

  // The job's config; `checkpoints` empty means no checkpoint section; `data` the folder that holds
  // train/ and test/ (the test suite's own by default).
  static std::string write_config(const std::string& path, const std::string& checkpoints, int every = 20,
                                  std::string data = "") {
    if (data.empty()) data = data_->path();
    std::ofstream out(path, std::ios::trunc);
    out << "[model]\nhidden = [256, 256]\n[train]\nepochs = 40\nglobal_batch = 16\n[data]\ntrain_dir = \""
        << data << "/train\"\ntest_dir = \"" << data << "/test\"\n[runtime]\nthreads = 1\n";
    if (!checkpoints.empty()) out << "[checkpoint]\ndir = \"" << checkpoints << "\"\nevery = " << every << "\n";
    return path;
  }
  // Runs `job` in the background until a checkpoint of `checkpoints` is committed, waits
  // `delay_seconds` more, then does `action` (a shell command; $job is the job's process id).
  // The job's first checkpoint comes at step 20 of 4000, and the look for it is made every 10 ms:
  // the action lands thousands of steps before the job's end even on a machine that trains a
  // step in tens of microseconds.
  Outcome run_until_checkpoint(const std::string& job, const std::string& checkpoints, double delay_seconds,
                               const std::string& action) {
    return run_until(job, "ls " + checkpoints + "/*/manifest.json", delay_seconds, action);
  }
  // As above, until the shell command `condition` succeeds.
  Outcome run_until(const std::string& job, const std::string& condition, double delay_seconds,
                    const std::string& action) {
    return run("sh -c '" + job + " & job=$!; i=0; until " + condition +
               " >/dev/null 2>&1 || [ $i -ge 3000 ]; do sleep 0.01; i=$((i+1)); done; sleep " +
               std::to_string(delay_seconds) + "; " + action + "; wait $job'");
  }
  // Runs the mpiexec `job`, whose ranks are to end on their own (a watchdog ends the job), timed to
  // the moment its last rank ended: `seconds` from the start, and `ended` (seconds since the
  // epoch). Open MPI 4.1's launcher can hang in its own shutdown (PMIx_server_finalize) after it
  // aborted a job with a stopped rank, every rank already ended; it is then killed 10 s later, and
  // its output says so.
  Outcome run_job_to_its_end(const std::string& job, double* ended = nullptr) {
    const std::string script = dir_.file("watch.sh"), launcher = dir_.file("launcher.sh"),
                      ended_at = dir_.file("job-ended-at");
    std::ofstream(launcher, std::ios::trunc) << "exec " << job << "\n";  // the launcher's process id is $!
    std::ofstream(script, std::ios::trunc)
        << "alive() { ps -p \"$1\" -o stat= 2>/dev/null | grep -qv '^Z'; }\n"
        << "sh " << launcher << " &\nlauncher=$!\nseen=0\n"
        << "while alive $launcher; do\n"
           "  if ps --ppid $launcher -o stat= | grep -qv '^Z'; then seen=1; elif [ $seen = 1 ]; then break; fi\n"
           "  sleep 0.02\n"
           "done\n"
        << "date +%s.%N > " << ended_at << "\n"
        << "i=0; while alive $launcher && [ $i -lt 500 ]; do sleep 0.02; i=$((i+1)); done\n"
           "if alive $launcher; then echo 'the launcher hung after every rank had ended (in its own shutdown); killed'; "
           "kill -9 $launcher; fi\n"
           "wait $launcher\n";
    const double started = std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
    std::filesystem::remove(ended_at);
    Outcome outcome = run("sh " + script);
    double end = 0;
    EXPECT_TRUE(std::ifstream(ended_at) >> end) << outcome.output;
    outcome.seconds = end - started;
    if (outcome.output.find("the launcher hung after every rank had ended") != std::string::npos) {
      std::printf("mpiexec hung in its own shutdown after every rank of the job had ended; killed\n");
    }
    if (ended) *ended = end;
    return outcome;
  }
  // The job's PREEMPTED record, or an empty object.
  static nlohmann::json preemption_record(const std::string& checkpoints) {
    std::ifstream in(checkpoints + "/PREEMPTED");
    if (!in) return nlohmann::json::object();
    return nlohmann::json::parse(in, nullptr, false);
  }
  // Seconds until no process of the job is left (at most `bound`): a rank blocked in the kernel on
  // a mount is freed only when the kernel gives up on the request.
  double seconds_until_no_process_left(const std::string& config, double bound) {
    const auto start = std::chrono::steady_clock::now();
    double waited = 0;
    while (run("pgrep -f '[r]ingtrain train " + config + "'").exit_code == 0 && waited < bound) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      waited = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    }
    return waited;
  }
  // No process of the job (its ranks name the config file) is left running.
  void expect_no_process_left(const std::string& config) {
    // "[r]ingtrain" matches the ranks' command lines but not this shell's own.
    expect_no_process_left_of("[r]ingtrain train " + config);
  }
  // No process whose command line matches `pattern` (with its arguments: an unreaped zombie, which
  // has none, is not a process left running).
  void expect_no_process_left_of(const std::string& pattern) {
    Outcome left = run("pgrep -af '" + pattern + "'");
    EXPECT_NE(left.exit_code, 0) << "processes left behind:\n" << left.output;
  }

  static testing::TempDir* data_;
  static std::string reference_;
  testing::TempDir dir_;
};
testing::TempDir* FaultsTest::data_ = nullptr;
std::string FaultsTest::reference_;

// SIGTERM to the ranks, as a scheduler that signals every process of the job sends it: each
// finishes its step, rank 0 commits a checkpoint and the PREEMPTED record, and mpiexec ends with
// the ranks' 143. The resumed run ends bitwise where the uninterrupted one does.
TEST_F(FaultsTest, SigtermWritesACheckpointAndTheResumedRunEndsLikeAnUninterruptedOne) {
  std::string config = write_config(dir_.file("job.toml"), dir_.file("ck"));
  std::string job = mpiexec(2) + kBinary + " train " + config + " --set log.dir=" + dir_.file("run");
  Outcome stopped = run_until_checkpoint(job, dir_.file("ck"), 0, "pkill -TERM -f \"^" + kBinary + " train " + config + "\"");
  EXPECT_EQ(stopped.exit_code, 143) << stopped.output;
  EXPECT_NE(stopped.output.find("exiting with code 143 (preempted, checkpoint"), std::string::npos) << stopped.output;
  EXPECT_NE(stopped.output.find("stopped by signal 15 (Terminated)"), std::string::npos) << stopped.output;
  EXPECT_LT(stopped.seconds, 60);
  expect_no_process_left(config);
  nlohmann::json record = preemption_record(dir_.file("ck"));
  EXPECT_EQ(record.value("signal", 0), 15) << record;
  const std::string checkpoint = record.value("checkpoint", "");
  EXPECT_EQ(checkpoint.rfind(dir_.file("ck/step-"), 0), 0u) << record;
  EXPECT_TRUE(std::filesystem::exists(checkpoint + "/manifest.json")) << record;
  EXPECT_EQ(checkpoint, dir_.file(fmt::format("ck/step-{:09d}", record.value("step", -1)))) << record;

  Outcome resumed = run(job + " --resume auto");
  EXPECT_EQ(resumed.exit_code, 0) << resumed.output;
  EXPECT_NE(resumed.output.find("resumed from " + checkpoint), std::string::npos) << resumed.output;
  EXPECT_EQ(testing::fingerprint_of(resumed.output), reference_) << resumed.output;
  EXPECT_FALSE(std::filesystem::exists(dir_.file("ck/PREEMPTED"))) << "the record outlived the resume";
  // The run's metrics: the stopped run's rows kept, the resumed run's appended, each step once.
  EXPECT_EQ(testing::train_rows_cover_each_step_once(dir_.file("run/metrics.jsonl"), 4000), "");
}

// SIGTERM to mpiexec itself (Open MPI 4.1 forwards it to the ranks, then ends with 1 whatever they
// return): the ranks checkpoint as above, and the PREEMPTED record tells a relauncher so. A
// signal that reaches one rank only stops every rank at the same step, and all name it.
TEST_F(FaultsTest, SigtermToTheLauncherOrToOneRankLeavesThePreemptionRecord) {
  // mpiexec relays the signal a few hundred milliseconds late: a job that cannot end before it.
  std::string config = write_config(dir_.file("job.toml"), dir_.file("ck"));
  std::string job = mpiexec(2) + kBinary + " train " + config + " --set train.epochs=100000";
  Outcome stopped = run_until_checkpoint(job, dir_.file("ck"), 0, "kill -TERM $job");
  EXPECT_NE(stopped.exit_code, 0) << stopped.output;
  expect_no_process_left(config);
  nlohmann::json record = preemption_record(dir_.file("ck"));
  ASSERT_TRUE(record.contains("checkpoint")) << record << stopped.output;
  EXPECT_TRUE(std::filesystem::exists(record["checkpoint"].get<std::string>() + "/manifest.json")) << record;

  // Resumed (the record goes once the run has restored its checkpoint), then rank 1 alone signalled.
  Outcome one_rank = run_until(mpiexec(2) + "sh -c \"exec " + kBinary + " train " + config +
                                   " --resume auto --set train.epochs=100000"
                                   " --set runtime.threads=\\$((OMPI_COMM_WORLD_RANK+1))\"",
                               "test ! -e " + dir_.file("ck/PREEMPTED"), 0,
                               "pkill -TERM -f \"^" + kBinary + " train " + config + ".*threads=2\"");
  EXPECT_EQ(one_rank.exit_code, 143) << one_rank.output;
  EXPECT_EQ(one_rank.output.find("signal 0"), std::string::npos) << one_rank.output;
  EXPECT_NE(one_rank.output.find("[rank 0/2"), std::string::npos) << one_rank.output;
  EXPECT_EQ(preemption_record(dir_.file("ck")).value("signal", 0), 15) << one_rank.output;
}

// `ringtrain launch`: rank 1 killed (SIGKILL, a crash) once the first attempt has committed a
// checkpoint; the launcher runs the job again with --resume auto, and it ends bitwise where the
// uninterrupted run ends.
TEST_F(FaultsTest, LaunchRestartsAFailedJobFromItsCheckpointToTheSameResult) {
  const std::string checkpoints = dir_.file("ck");
  std::string config = write_config(dir_.file("job.toml"), checkpoints);
  Outcome outcome = run(kBinary + " launch --np 2 --max-restarts 2 --mpirun " + RINGTRAIN_MPIEXEC +
                        " --mpirun-args '--oversubscribe --timeout 100' -- sh -c 'if [ \"$RINGTRAIN_LAUNCH_ATTEMPT\" = 1 ] "
                        "&& [ \"$OMPI_COMM_WORLD_RANK\" = 1 ]; then (until ls " + checkpoints +
                        "/*/manifest.json >/dev/null 2>&1; do sleep 0.01; done; kill -KILL $$) & fi; exec " + kBinary +
                        " train " + config + " \"$@\"' sh");
  EXPECT_EQ(outcome.exit_code, 0) << outcome.output;
  EXPECT_NE(outcome.output.find("launch: attempt 1 failed"), std::string::npos) << outcome.output;
  EXPECT_NE(outcome.output.find("launch: attempt 2 of 3"), std::string::npos) << outcome.output;
  EXPECT_NE(outcome.output.find("resumed from " + checkpoints + "/step-"), std::string::npos) << outcome.output;
  EXPECT_EQ(testing::fingerprint_of(outcome.output), reference_) << outcome.output;
  expect_no_process_left(config);
}

// Where a host is lost, Open MPI's mpirun can wait for ever once the job has aborted: launch gives
// it 15 s from the abort, then stops it and goes on (here a stand-in mpirun that prints the abort
// and hangs, keeping the output pipe open in a child of its own).
TEST_F(FaultsTest, LaunchStopsAnMpirunThatHangsAfterTheJobAborted) {
  const std::string stand_in = dir_.file("hanging-mpirun.sh");
  std::ofstream(stand_in) << "#!/bin/sh\necho 'MPI_ABORT was invoked on rank 0 in communicator MPI_COMM_WORLD'\n"
                             "sleep 1000 &\nexec sleep 1000\n";
  std::filesystem::permissions(stand_in, std::filesystem::perms::owner_all);
  Outcome outcome = run("timeout 60 " + kBinary + " launch --np 2 --max-restarts 0 --mpirun " + stand_in + " -- true");
  EXPECT_NE(outcome.exit_code, 0) << outcome.output;
  EXPECT_NE(outcome.exit_code, 124) << "launch did not stop the hanging mpirun:\n" << outcome.output;
  EXPECT_NE(outcome.output.find("has not exited 15 s after the job began to end; stopping it"), std::string::npos)
      << outcome.output;
  EXPECT_LT(outcome.seconds, 15 + 10) << outcome.output;
  run("pkill -f '^sleep 1000$'");
}

// SIGTERM to `ringtrain launch` (as a scheduler stops the job's first process): it goes on to
// mpirun and the ranks, which commit a checkpoint; launch ends with 143, where mpirun ends with 1,
// and starts no new attempt.
TEST_F(FaultsTest, APreemptedLaunchEndsWith143) {
  const std::string checkpoints = dir_.file("ck");
  std::string config = write_config(dir_.file("job.toml"), checkpoints);
  Outcome outcome = run_until_checkpoint(kBinary + " launch --np 2 --mpirun " + RINGTRAIN_MPIEXEC +
                                             " --mpirun-args \"--oversubscribe --timeout 100\" -- " + kBinary + " train " +
                                             config + " --set train.epochs=100000",
                                         checkpoints, 0, "kill -TERM $job");
  EXPECT_EQ(outcome.exit_code, 143) << outcome.output;
  EXPECT_EQ(outcome.output.find("attempt 2"), std::string::npos) << outcome.output;
  EXPECT_TRUE(preemption_record(checkpoints).contains("checkpoint")) << outcome.output;
  expect_no_process_left(config);
}

// A new run in a checkpoint.dir that holds another run's checkpoints is refused before it trains
// (its pruning, and a later --resume auto, would mix the two), and the checkpoints stay.
TEST_F(FaultsTest, ANewRunInACheckpointDirOfAnotherRunIsRefused) {
  std::string config = write_config(dir_.file("job.toml"), dir_.file("ck"));
  Outcome first = run(mpiexec(2) + kBinary + " train " + config + " --set train.epochs=1");
  ASSERT_EQ(first.exit_code, 0) << first.output;
  std::vector<std::string> before;
  for (const auto& entry : std::filesystem::directory_iterator(dir_.file("ck"))) before.push_back(entry.path());
  Outcome second = run(mpiexec(2) + kBinary + " train " + config + " --set train.epochs=2");
  EXPECT_NE(second.exit_code, 0) << second.output;
  EXPECT_NE(second.output.find("checkpoint.dir " + dir_.file("ck") + " already holds another run's checkpoints"),
            std::string::npos) << second.output;
  EXPECT_EQ(second.output.find("epoch 1/2"), std::string::npos) << second.output;
  std::vector<std::string> after;
  for (const auto& entry : std::filesystem::directory_iterator(dir_.file("ck"))) after.push_back(entry.path());
  EXPECT_EQ(before, after);
  expect_no_process_left(config);
}

TEST_F(FaultsTest, RanksKilledAtAnyMomentEvenWhileCheckpointingResumeToTheSameResult) {
  // A checkpoint every step, so the kills land in the middle of writing one as often as not.
  std::string config = write_config(dir_.file("job.toml"), dir_.file("ck"), 1);
  std::string job = mpiexec(2) + kBinary + " train " + config + " --resume auto";
  for (int kill = 1; kill <= 4; ++kill) {
    Outcome killed = run_until_checkpoint(job, dir_.file("ck"), 0.13 * kill,
                                          "pkill -KILL -f \"^" + kBinary + " train " + config + "\"");
    EXPECT_NE(killed.exit_code, 0) << killed.output;
    EXPECT_LT(killed.seconds, 60);
    EXPECT_EQ(killed.output.find("error:"), std::string::npos) << "a resume failed:\n" << killed.output;
    expect_no_process_left(config);
  }
  Outcome finished = run(job);
  EXPECT_EQ(finished.exit_code, 0) << finished.output;
  EXPECT_EQ(testing::fingerprint_of(finished.output), reference_) << finished.output;
  // Every resume continued the run directory the checkpoints name (ck/RUN); a row written after
  // the last checkpoint before a kill is superseded, and every step is counted once.
  std::ifstream record(dir_.file("ck/RUN"));
  std::string run_directory;
  ASSERT_TRUE(std::getline(record, run_directory));
  EXPECT_EQ(testing::train_rows_cover_each_step_once(run_directory + "/metrics.jsonl", 4000), "");
}

TEST_F(FaultsTest, ACheckpointOfTwoRanksResumesWithFourAndWithOne) {
  std::string config = write_config(dir_.file("job.toml"), dir_.file("ck"));
  Outcome first = run(mpiexec(2) + kBinary + " train " + config + " --set train.epochs=1");
  ASSERT_EQ(first.exit_code, 0) << first.output;
  for (int ranks : {4, 1}) {
    std::filesystem::copy(dir_.file("ck"), dir_.file("ck" + std::to_string(ranks)), std::filesystem::copy_options::recursive);
    Outcome more = run(mpiexec(ranks) + kBinary + " train " + config + " --set checkpoint.dir=" +
                       dir_.file("ck" + std::to_string(ranks)) + " --set train.epochs=2 --resume auto");
    EXPECT_EQ(more.exit_code, 0) << more.output;
    EXPECT_NE(more.output.find("written by 2 ranks, resuming with " + std::to_string(ranks)), std::string::npos)
        << more.output;
    EXPECT_NE(more.output.find("epoch 2/2"), std::string::npos) << more.output;
    EXPECT_EQ(more.output.find("epoch 1/2"), std::string::npos) << "epoch 1 was trained again:\n" << more.output;
  }
}

TEST_F(FaultsTest, AStoppedRankIsNamedByTheWatchdogAndTheJobEnds) {
  // Rank 2 of 4 is frozen (SIGSTOP, as a hung process or a swapping VM is) once the job has
  // committed its first checkpoint, so every rank is training: past the collective timeout the
  // others report, and rank 0 ends the job naming rank 2; with blocking all-reduces and with
  // non-blocking ones (as across hosts), whose oldest unfinished bucket is the collective the
  // watchdog sees. (Frozen a fixed second into the run, rank 2 was sometimes still starting on a
  // loaded machine: AStoppedRankAtStartUpEndsTheJob.)
  for (const char* nonblocking : {"off", "on"}) {
    const std::string checkpoints = dir_.file(std::string("ck-") + nonblocking);
    const std::string stopped_at = dir_.file(std::string("stopped-") + nonblocking);
    std::string config = write_config(dir_.file("job.toml"), checkpoints);
    double ended = 0;
    Outcome outcome = run_job_to_its_end(mpiexec(4) + "sh -c 'if [ \"$OMPI_COMM_WORLD_RANK\" = 2 ]; then (i=0; until ls " + checkpoints +
                          "/*/manifest.json >/dev/null 2>&1; do [ $i -lt 1200 ] || exit; i=$((i+1)); sleep 0.05; "
                          "done; date +%s.%N > " + stopped_at + "; kill -STOP $$) & fi; exec " + kBinary + " train " + config +
                          " --set comm.timeout_seconds=3 --set train.epochs=100000 --set comm.nonblocking=" +
                          nonblocking + "'", &ended);
    EXPECT_NE(outcome.exit_code, 0) << outcome.output;
    EXPECT_TRUE(std::regex_search(outcome.output,
                                  std::regex("rank\\(s\\) 2 on host\\(s\\) \\S+ (did not arrive|gave no sign of life)")))
        << outcome.output;
    double stopped = 0;
    ASSERT_TRUE(std::ifstream(stopped_at) >> stopped) << "rank 2 was never stopped:\n" << outcome.output;
    EXPECT_LT(ended - stopped, 3 + 5 + 10) << outcome.output;  // timeout, gathering, slack
    expect_no_process_left(config);
  }
}

// Rank 0 frozen as an evaluation of 100,000 test samples begins (its train row of step 10 is in
// the metrics, written just before): the other ranks have seconds of evaluation left before their
// next collective, yet they hear rank 0's heartbeats stop and end the job within the timeout and
// 2 s, naming rank 0 and its host.
TEST_F(FaultsTest, AStoppedRankZeroEndsTheJobWithinTheTimeoutAndTwoSecondsWhileOthersEvaluate) {
  const std::string test_data = dir_.file("data");
  std::filesystem::create_directories(test_data);
  std::filesystem::create_symlink(data_->file("train"), test_data + "/train");
  testing::write_cluster_shards(test_data + "/test", 100000, 2, 4, 4, 9, 3);
  const std::string run_dir = dir_.file("run");
  const std::string stopped_at = dir_.file("stopped");
  std::string config = write_config(dir_.file("job.toml"), "", 20, test_data);
  double ended = 0;
  Outcome outcome = run_job_to_its_end(mpiexec(4) + "sh -c 'if [ \"$OMPI_COMM_WORLD_RANK\" = 0 ]; then (i=0; until grep -q train " +
                        run_dir + "/metrics.jsonl 2>/dev/null; do [ $i -lt 3000 ] || exit; i=$((i+1)); sleep 0.01; "
                        "done; date +%s.%N > " + stopped_at + "; kill -STOP $$) & fi; exec " + kBinary + " train " +
                        config + " --set comm.timeout_seconds=3 --set model.hidden=[2048,2048] --set log.every=10 "
                        "--set train.eval_every=10 --set log.dir=" + run_dir + "'", &ended);
  EXPECT_NE(outcome.exit_code, 0) << outcome.output;
  EXPECT_TRUE(std::regex_search(outcome.output, std::regex("rank\\(s\\) 0 on host\\(s\\) \\S+ gave no sign of life for "
                                                           "3\\.\\d s \\(timeout 3 s\\)")))
      << outcome.output;
  EXPECT_EQ(outcome.output.find("rank(s)  on host(s)"), std::string::npos) << outcome.output;
  double stopped = 0;
  ASSERT_TRUE(std::ifstream(stopped_at) >> stopped) << "rank 0 was never stopped:\n" << outcome.output;
  std::printf("rank 0 stopped as the others evaluate: the job ended %.2f s later (timeout 3 s)\n", ended - stopped);
  EXPECT_LT(ended - stopped, 3 + 2) << outcome.output;  // the timeout and 2 s
  expect_no_process_left(config);
}

TEST_F(FaultsTest, AStoppedRankAtStartUpEndsTheJob) {
  // Rank 2 of 4 stops between MPI's start and the communicator's: the others wait in the
  // communicator's first collectives, before its watchdog runs, and end the job after the
  // collective timeout (2 s) instead of waiting for mpiexec's own limit (100 s).
  Outcome outcome = run_job_to_its_end(mpiexec(4) + kWatchdogJob + " stopped-at-start-up");
  EXPECT_NE(outcome.exit_code, 0) << outcome.output;
  EXPECT_NE(outcome.output.find("setting up the communicator has waited 2 s"), std::string::npos) << outcome.output;
  EXPECT_EQ(outcome.output.find("constructed"), std::string::npos) << outcome.output;
  EXPECT_LT(outcome.seconds, 2 + 15) << outcome.output;  // the timeout, start-up and the abort
  expect_no_process_left_of("[w]atchdog_job stopped-at-start-up");
}

TEST_F(FaultsTest, ARankAliveButLateToACollectiveIsNamedAndTheJobEnds) {
  // Rank 2 of 4 is busy (its heartbeats go on) while the others wait in a barrier: past the
  // timeout (2 s) they report, and rank 0 ends the job naming rank 2 as the one that did not arrive.
  Outcome outcome = run_job_to_its_end(mpiexec(4) + kWatchdogJob + " late");
  EXPECT_NE(outcome.exit_code, 0) << outcome.output;
  EXPECT_TRUE(std::regex_search(outcome.output, std::regex("timed out after 2\\.\\d s \\(timeout 2 s\\): rank\\(s\\) 2 on "
                                                           "host\\(s\\) \\S+ did not arrive")))
      << outcome.output;
  EXPECT_EQ(outcome.output.find("gave no sign of life"), std::string::npos) << outcome.output;
  EXPECT_LT(outcome.seconds, 2 + 5 + 10) << outcome.output;  // the timeout, rank 0's gathering, start-up
  expect_no_process_left_of("[w]atchdog_job late");
}

TEST_F(FaultsTest, ARankStoppedAfterTheLastCollectiveEndsTheJobNamingIt) {
  // Rank 2 of 4 stops after the job's last collective, before its communicator ends: the others
  // have nothing left to wait in, but their watchdogs wait for every rank's goodbye and end the job
  // naming rank 2, instead of leaving the launcher waiting for it for ever.
  Outcome outcome = run_job_to_its_end(mpiexec(4) + kWatchdogJob + " stopped-after-the-last-collective");
  EXPECT_NE(outcome.exit_code, 0) << outcome.output;
  EXPECT_TRUE(std::regex_search(outcome.output, std::regex("rank\\(s\\) 2 on host\\(s\\) \\S+ gave no sign of life for "
                                                           "2\\.\\d s \\(timeout 2 s\\): stopped, hung or lost, after "
                                                           "this rank finished its work")))
      << outcome.output;
  EXPECT_LT(outcome.seconds, 2 + 10) << outcome.output;  // the timeout, start-up, the abort
  expect_no_process_left_of("[w]atchdog_job stopped-after");
}

TEST_F(FaultsTest, ARankAliveButSlowToFinishIsWaitedFor) {
  // Rank 2 of 4 is busy for three timeouts after the last collective: the others' watchdogs wait
  // for its goodbye, hearing its heartbeats, and the job ends well.
  Outcome outcome = run(mpiexec(4) + kWatchdogJob + " slow-to-finish");
  EXPECT_EQ(outcome.exit_code, 0) << outcome.output;
  for (int rank = 0; rank < 4; ++rank) {
    EXPECT_NE(outcome.output.find(fmt::format("rank {}: finished", rank)), std::string::npos) << outcome.output;
  }
  EXPECT_EQ(outcome.output.find("gave no sign of life"), std::string::npos) << outcome.output;
}

// An Azurite blob container mounted with rclone (scripts/blob-mount.sh), unmounted and stopped
// when the test ends, whatever happens in it.
class BlobMount {
 public:
  // `latency_ms`: every request to the storage service that much late (a distant, slow mount).
  // `request_timeout`: the kernel aborts the mount when a request waits this many seconds (0: never).
  explicit BlobMount(const std::string& dir, int latency_ms = 0, int request_timeout = 0)
      : dir_(dir), request_timeout_(request_timeout) {
    Outcome started = run((latency_ms > 0 ? "BLOB_LATENCY_MS=" + std::to_string(latency_ms) + " " : std::string()) +
                          start_command());
    ok_ = started.exit_code == 0;
    no_request_timeout_ = started.exit_code == 3;
    log_ = started.output;
  }
  // The kernel has no FUSE request timeout (before Linux 6.14): a process blocked on the mount
  // could not be freed.
  bool no_request_timeout() const { return no_request_timeout_; }
  // The storage service stops answering (frozen, as a storage account that went away).
  void stop_storage() { run("kill -STOP $(cat " + dir_ + "/azurite.pid)"); }
  // Everything stopped and started again on the same stored blobs, as after an outage.
  bool restart() {
    run(std::string(RINGTRAIN_SOURCE_DIR) + "/scripts/blob-mount.sh stop " + dir_);
    Outcome started = run(start_command());
    log_ += started.output;
    return started.exit_code == 0;
  }
  ~BlobMount() { run(std::string(RINGTRAIN_SOURCE_DIR) + "/scripts/blob-mount.sh stop " + dir_); }
  bool ok() const { return ok_; }
  const std::string& log() const { return log_; }
  std::string mount() const { return dir_ + "/mnt"; }
  // Every attempt of the emulator (or the latency proxy) to look up or reach another host, one per
  // line (scripts/loopback-only.js): none may be made.
  std::string outside_attempts() const {
    std::ifstream in(dir_ + "/outside.log");
    return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  }
  void upload(const std::string& local, const std::string& name) {
    run(std::string(RINGTRAIN_SOURCE_DIR) + "/scripts/blob-mount.sh upload " + dir_ + " " + local + " " + name);
  }

 private:
  std::string start_command() const {
    return (request_timeout_ > 0 ? "FUSE_REQUEST_TIMEOUT=" + std::to_string(request_timeout_) + " " : std::string()) +
           RINGTRAIN_SOURCE_DIR + "/scripts/blob-mount.sh start " + dir_ + " " + std::to_string(20000 + getpid() % 10000);
  }
  std::string dir_, log_;
  int request_timeout_ = 0;
  bool ok_ = false;
  bool no_request_timeout_ = false;
};

TEST_F(FaultsTest, TrainingReadsAndCheckpointsOnABlobMountAndResumesFromIt) {
  BlobMount blob(dir_.file("blob"));
  ASSERT_TRUE(blob.ok()) << blob.log();
  blob.upload(data_->file("train"), "data/train");
  blob.upload(data_->file("test"), "data/test");
  std::string config = write_config(dir_.file("job.toml"), blob.mount() + "/ck", 20, blob.mount() + "/data");
  std::string job = mpiexec(2) + kBinary + " train " + config;
  Outcome stopped = run_until_checkpoint(job, blob.mount() + "/ck", 0, "pkill -TERM -f \"^" + kBinary + " train " + config + "\"");
  EXPECT_NE(stopped.output.find("exiting with code 143 (preempted, checkpoint " + blob.mount() + "/ck/step-"),
            std::string::npos) << stopped.output;
  Outcome resumed = run(job + " --resume auto");
  EXPECT_EQ(resumed.exit_code, 0) << resumed.output;
  EXPECT_NE(resumed.output.find("resumed from " + blob.mount() + "/ck/step-"), std::string::npos) << resumed.output;
  EXPECT_EQ(testing::fingerprint_of(resumed.output), reference_) << resumed.output;
  expect_no_process_left(config);
  EXPECT_EQ(blob.outside_attempts(), "") << "the storage emulator tried to reach beyond this machine";
}

// The storage service behind the mount stops answering mid-run, while the ranks read shards from
// it (checkpoints on local disk) and while rank 0 writes a checkpoint to it (shards on local
// disk): the job ends after data.timeout_seconds or checkpoint.timeout_seconds, naming the file,
// with no process left (the mount's kernel request timeout frees a rank blocked in a read or a
// close); once storage and mount are back, --resume auto ends where an uninterrupted run does.
TEST_F(FaultsTest, StorageThatStopsAnsweringEndsTheJobNamingTheFileAndTheJobResumes) {
  for (const bool reads : {true, false}) {
    const std::string where = reads ? "reads" : "writes";
    BlobMount blob(dir_.file("blob-" + where), 0, 5);
    if (blob.no_request_timeout()) GTEST_SKIP() << "no FUSE request timeout in this kernel:\n" << blob.log();
    ASSERT_TRUE(blob.ok()) << blob.log();
    blob.upload(data_->file("train"), "data/train");
    blob.upload(data_->file("test"), "data/test");
    const std::string checkpoints = reads ? dir_.file("ck-" + where) : blob.mount() + "/ck";
    std::string config = write_config(dir_.file("job-" + where + ".toml"), checkpoints, 20,
                                      reads ? blob.mount() + "/data" : data_->path());
    std::ofstream(config, std::ios::app) << "timeout_seconds = 3\n";  // checkpoint.timeout_seconds
    const std::string job = mpiexec(2) + kBinary + " train " + config + " --set data.timeout_seconds=3";
    const std::string resume = job + " --resume auto";
    Outcome stalled = run_until_checkpoint(job, checkpoints, 0,
                                           "kill -STOP $(cat " + dir_.file("blob-" + where) + "/azurite.pid); "
                                           "date +%s.%N > " + dir_.file("stopped-" + where));
    const double ended = std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
    EXPECT_NE(stalled.exit_code, 0) << stalled.output;
    if (reads) {
      EXPECT_NE(stalled.output.find("no batch for 3 s (data.timeout_seconds): reading shard " + blob.mount() +
                                    "/data/"),
                std::string::npos) << stalled.output;
    } else {
      EXPECT_TRUE(std::regex_search(stalled.output, std::regex("checkpoint " + blob.mount() + "/ck\\S* has not been "
                                                               "written or read in 3 s")))
          << stalled.output;
    }
    double stopped = 0;
    ASSERT_TRUE(std::ifstream(dir_.file("stopped-" + where)) >> stopped) << stalled.output;
    // The job ends after the timeout; a rank blocked in the kernel on the mount, once the kernel
    // gives up on its request (5 s, looked at every 15 s) or rclone on its upload (10 s, twice).
    const double freed = ended - stopped + seconds_until_no_process_left(config, 45);
    std::printf("storage stopped during %s: the job ended %.1f s later, its last process %.1f s later\n",
                where.c_str(), ended - stopped, freed);
    EXPECT_LT(ended - stopped, 3 + 5) << stalled.output;
    EXPECT_LT(freed, 45) << stalled.output;
    expect_no_process_left(config);

    ASSERT_TRUE(blob.restart()) << blob.log();
    Outcome resumed = run(resume);
    EXPECT_EQ(resumed.exit_code, 0) << resumed.output;
    EXPECT_NE(resumed.output.find("resumed from " + checkpoints + "/step-"), std::string::npos) << resumed.output;
    EXPECT_EQ(testing::fingerprint_of(resumed.output), reference_) << resumed.output;
    expect_no_process_left(config);
  }
}

// Through a mount whose every request is 20 ms late, 2 ranks train to the very parameters of
// the run from local disk (whole shards fetched ahead, each epoch's first window read while the
// one before ends), in bounded time, and nothing is left running.
TEST_F(FaultsTest, TrainingFromASlowMountEndsWithTheResultOfALocalRun) {
  BlobMount blob(dir_.file("blob"), 20);
  ASSERT_TRUE(blob.ok()) << blob.log();
  blob.upload(data_->file("train"), "data/train");
  blob.upload(data_->file("test"), "data/test");
  const std::string config = write_config(dir_.file("job.toml"), "", 20, blob.mount() + "/data");
  Outcome outcome = run(mpiexec(2) + kBinary + " train " + config);
  EXPECT_EQ(outcome.exit_code, 0) << outcome.output;
  EXPECT_EQ(testing::fingerprint_of(outcome.output), reference_) << outcome.output;
  EXPECT_LT(outcome.seconds, 90) << outcome.output;
  expect_no_process_left(config);
  EXPECT_EQ(blob.outside_attempts(), "") << "the storage emulator tried to reach beyond this machine";
}

// A shard on the mount whose data is corrupt (a chunk fails its Fletcher32 checksum; the header is
// fine, so the index accepts it): under mpiexec -n 2 the job ends naming the file, or with
// on_bad_shard = skip it trains to the end without the chunk's rows.
TEST_F(FaultsTest, ACorruptChunkOnABlobMountStopsTheJobNamingItOrWithSkipCostsOnlyItsRows) {
  testing::write_cluster_shards(dir_.file("bad/train"), 4000, 2, 64, 4, 9, 1);  // 2 shards of 2 chunks
  testing::write_cluster_shards(dir_.file("bad/test"), 200, 1, 64, 4, 9, 2);
  testing::flip_middle_byte(dir_.file("bad/train/part-00001.h5"));
  BlobMount blob(dir_.file("blob"));
  ASSERT_TRUE(blob.ok()) << blob.log();
  blob.upload(dir_.file("bad/train"), "data/train");
  blob.upload(dir_.file("bad/test"), "data/test");
  const std::string config = dir_.file("job.toml");
  std::ofstream(config) << "[model]\nhidden = [16]\n[train]\nepochs = 1\nglobal_batch = 64\n[data]\ntrain_dir = \""
                        << blob.mount() << "/data/train\"\ntest_dir = \"" << blob.mount()
                        << "/data/test\"\nread_retries = 1\nretry_backoff_ms = 10\n[runtime]\nthreads = 1\n";
  const std::string job = mpiexec(2) + kBinary + " train " + config;
  Outcome stopped = run(job);
  EXPECT_NE(stopped.exit_code, 0) << stopped.output;
  EXPECT_NE(stopped.output.find(blob.mount() + "/data/train/part-00001.h5"), std::string::npos) << stopped.output;
  EXPECT_NE(stopped.output.find("Fletcher32"), std::string::npos) << stopped.output;
  EXPECT_LT(stopped.seconds, 60) << stopped.output;
  Outcome skipped = run(job + " --set data.on_bad_shard=skip");
  EXPECT_EQ(skipped.exit_code, 0) << skipped.output;
  EXPECT_NE(skipped.output.find("part-00001.h5: rows ["), std::string::npos) << skipped.output;
  EXPECT_NE(skipped.output.find("done: test accuracy"), std::string::npos) << skipped.output;
  expect_no_process_left(config);
  EXPECT_EQ(blob.outside_attempts(), "") << "the storage emulator tried to reach beyond this machine";
}

TEST_F(FaultsTest, ARankThatExitsEarlyEndsTheWholeJob) {
  std::string config = write_config(dir_.file("job.toml"), "");
  Outcome outcome = run(mpiexec(2) + "sh -c 'if [ \"$OMPI_COMM_WORLD_RANK\" = 1 ]; then exit 3; fi; exec " + kBinary +
                        " train " + config + "'");
  EXPECT_NE(outcome.exit_code, 0) << outcome.output;
  EXPECT_LT(outcome.seconds, 30) << outcome.output;
  expect_no_process_left(config);
}

}  // namespace
}  // namespace rt
