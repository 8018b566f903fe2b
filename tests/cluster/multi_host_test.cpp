// A job across separate network hosts, for real: network namespaces on one machine, each a host
// with its own address, link and hostname (scripts/netns-hosts.sh), joined by a bridge; mpirun
// launches into them through scripts/netns-agent.sh and the ranks talk TCP between hosts
// (scripts/netns-mpi-env.sh). Fashion-MNIST trains across 4 hosts x 1 rank and 2 hosts x 2 ranks
// to the parameters of 4 ranks on one host; the job specifications' own command lines run across
// the hosts; a host cut off mid-run ends the job, named, and `ringtrain launch` finishes it on the
// others.
// Needs root and network namespaces; skips, saying why, where they are missing.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

#include "core/checkpoint.h"
#include "tests/test_support.h"

namespace rt {
namespace {

using testing::Outcome;
using testing::run;

const std::string kSource = RINGTRAIN_SOURCE_DIR;
const std::string kBinary = RINGTRAIN_BINARY;
const std::string kBinaryDir = std::filesystem::path(RINGTRAIN_BINARY).parent_path().string();
const std::string kFashionMnist = "/usr/share/datasets/fashion-mnist";

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// The largest absolute difference between two parameter vectors of the same size.
double largest_difference(const std::vector<float>& a, const std::vector<float>& b) {
  double largest = 0;
  for (size_t i = 0; i < a.size(); ++i) largest = std::max(largest, static_cast<double>(std::abs(a[i] - b[i])));
  return largest;
}

// Replaces every occurrence of `from` in `text`.
std::string replace_all(std::string text, const std::string& from, const std::string& to) {
  for (size_t at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size())) {
    text.replace(at, from.size(), to);
  }
  return text;
}

class MultiHostTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    Outcome check = run("bash " + kSource + "/scripts/netns-hosts.sh check");
    if (check.exit_code != 0) {
      skip_reason_ = "no pretend hosts here: " + check.output;
      return;
    }
    if (!std::filesystem::exists(kFashionMnist + "/train-images-idx3-ubyte.gz")) {
      skip_reason_ = "Fashion-MNIST is not installed (Debian package dataset-fashion-mnist)";
      return;
    }
    data_ = new testing::TempDir();
    Outcome shard = run(kBinary + " shard --idx-dir " + kFashionMnist + " --output " + data_->path() +
                        " --train-shards 8 --test-shards 2");
    ASSERT_EQ(shard.exit_code, 0) << shard.output;
  }
  static void TearDownTestSuite() { delete data_; }

  void SetUp() override {
    if (!skip_reason_.empty()) GTEST_SKIP() << skip_reason_;
    Outcome up = run("bash " + kSource + "/scripts/netns-hosts.sh up 4");
    ASSERT_EQ(up.exit_code, 0) << up.output;
  }
  void TearDown() override {
    if (skip_reason_.empty()) run("bash " + kSource + "/scripts/netns-hosts.sh down");
  }

  // A hostfile of hosts rt-h1.. with these slots.
  std::string hostfile(const std::vector<int>& slots) {
    std::string path = dir_.file("hosts" + std::to_string(hostfiles_++));
    std::ofstream out(path);
    for (size_t h = 0; h < slots.size(); ++h) out << "rt-h" << h + 1 << " slots=" << slots[h] << "\n";
    return path;
  }
  // Runs a bash script with ringtrain on PATH, the data in RINGTRAIN_DATA and, with `across_hosts`,
  // Open MPI set up for the pretend hosts. Every run is bounded in time.
  Outcome run_script(const std::string& body, bool across_hosts = true, int seconds = 120) {
    std::string path = dir_.file("script" + std::to_string(scripts_++) + ".sh");
    std::ofstream out(path);
    out << "set -e\nexport PATH=" << kBinaryDir << ":$PATH RINGTRAIN_DATA=" << data_->path()
        << " OMPI_MCA_mpi_yield_when_idle=1 OMPI_MCA_rmaps_base_oversubscribe=1\n"
        << "if [ $(id -u) -eq 0 ]; then export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1; fi\n";
    if (across_hosts) out << "source " << kSource << "/scripts/netns-mpi-env.sh\n";
    out << body << "\n";
    out.close();
    return run("timeout " + std::to_string(seconds) + " bash " + path);
  }
  // The training options of the layout tests: small and quick, bitwise reproducible.
  std::string train_command(const std::string& checkpoints, const std::string& more = "") {
    return "ringtrain train " + kSource + "/examples/fashion_mnist/mlp.toml --set model.hidden=[64] " +
           "--set train.epochs=2 --set runtime.threads=1 --set log.all_ranks=true --set checkpoint.dir=" +
           checkpoints + " " + more;
  }
  static std::vector<float> final_parameters(const std::string& checkpoints) {
    std::optional<Checkpoint> newest = CheckpointStore(checkpoints, 3).load_newest();
    return newest ? newest->parameters : std::vector<float>();
  }

  static std::string skip_reason_;
  static testing::TempDir* data_;
  testing::TempDir dir_;
  int hostfiles_ = 0;
  int scripts_ = 0;
};
std::string MultiHostTest::skip_reason_;
testing::TempDir* MultiHostTest::data_ = nullptr;

// With defaults, a host to each rank sums the gradient buckets with non-blocking all-reduces and
// ranks that share a host with blocking ones; both add in the same order, so every layout ends
// bitwise where 4 ranks on one host do. Each rank has the default thread count (2 on each host of
// its own, 1 where 4 share the 2 cores, 1 where 2 share a host's).
TEST_F(MultiHostTest, TrainingAcrossHostsEndsWhereFourRanksOnOneHostDo) {
  const std::string threads = "--set runtime.threads=0 ";
  Outcome one_host = run_script("mpirun -np 4 -x RINGTRAIN_DATA " + train_command(dir_.file("one"), threads), false);
  Outcome one_host_nonblocking = run_script(
      "mpirun -np 4 -x RINGTRAIN_DATA " + train_command(dir_.file("one-nb"), threads + "--set comm.nonblocking=on"),
      false);
  Outcome four_hosts = run_script("mpirun --hostfile " + hostfile({1, 1, 1, 1}) + " -x RINGTRAIN_DATA " +
                                  train_command(dir_.file("4x1"), threads));
  Outcome two_hosts = run_script("mpirun --hostfile " + hostfile({2, 2}) + " -x RINGTRAIN_DATA " +
                                 train_command(dir_.file("2x2"), threads));
  Outcome hierarchical = run_script("mpirun --hostfile " + hostfile({2, 2}) + " -x RINGTRAIN_DATA " +
                                    train_command(dir_.file("2x2h"), threads + "--set comm.hierarchical=true"));
  for (const Outcome* outcome : {&one_host, &one_host_nonblocking, &four_hosts, &two_hosts, &hierarchical}) {
    ASSERT_EQ(outcome->exit_code, 0) << outcome->output;
    EXPECT_NE(outcome->output.find("identical on all 4 ranks"), std::string::npos) << outcome->output;
  }
  // Each rank knows its real host and its place on it, and has the threads its host gives it.
  EXPECT_NE(four_hosts.output.find("cpu, 2 thread(s)"), std::string::npos) << four_hosts.output;
  EXPECT_NE(one_host.output.find("cpu, 1 thread(s)"), std::string::npos) << one_host.output;
  EXPECT_NE(four_hosts.output.find("rank 3 of 4 on rt-h4 (local rank 0 of 1)"), std::string::npos) << four_hosts.output;
  EXPECT_NE(two_hosts.output.find("rank 3 of 4 on rt-h2 (local rank 1 of 2)"), std::string::npos) << two_hosts.output;
  EXPECT_NE(hierarchical.output.find("summed by mpi-hierarchical"), std::string::npos) << hierarchical.output;
  EXPECT_NE(four_hosts.output.find("summed by mpi-nonblocking"), std::string::npos) << four_hosts.output;
  EXPECT_NE(two_hosts.output.find("summed by mpi\n"), std::string::npos) << two_hosts.output;
  EXPECT_NE(one_host_nonblocking.output.find("summed by mpi-nonblocking"), std::string::npos);
  EXPECT_NE(one_host.output.find("summed by mpi (float sums in shared memory)\n"), std::string::npos) << one_host.output;

  for (auto [layout, alike] : {std::pair{"4x1", "one"}, std::pair{"one-nb", "one"}, std::pair{"2x2", "one"}, std::pair{"2x2h", "one"}}) {
    std::vector<float> reference = final_parameters(dir_.file(alike));
    ASSERT_FALSE(reference.empty()) << alike;
    std::vector<float> parameters = final_parameters(dir_.file(layout));
    ASSERT_EQ(parameters.size(), reference.size()) << layout;
    const double largest = largest_difference(parameters, reference);
    EXPECT_EQ(largest, 0.0) << layout << " differs from 4 ranks on one host (" << alike << ") by up to " << largest;
  }
}

// Over a wire with 300 us each way (scripts/netns-hosts.sh wire), a small all-reduce is slow, so
// the non-blocking buckets go four at a time; the sums are the same, so the run ends where 2
// ranks on one host with non-blocking buckets (one at a time there) do.
TEST_F(MultiHostTest, OverAWireWithLatencyMoreSumsGoAtOnceAndTrainingEndsAsOnOneHost) {
  const std::string delay_wire = kBinaryDir + "/benchmarks/delay_wire";
  if (!std::filesystem::exists(delay_wire)) GTEST_SKIP() << "no " << delay_wire;
  if (!std::filesystem::exists("/dev/net/tun")) GTEST_SKIP() << "no TUN devices here (/dev/net/tun)";
  Outcome wire = run("DELAY_WIRE=" + delay_wire + " bash " + kSource + "/scripts/netns-hosts.sh wire 300 10000");
  ASSERT_EQ(wire.exit_code, 0) << wire.output;
  const std::string training = "--set train.epochs=1 --set comm.nonblocking=on";
  Outcome one_host =
      run_script("mpirun -np 2 -x RINGTRAIN_DATA " + train_command(dir_.file("one"), training), false);
  Outcome over_wire = run_script("export OMPI_MCA_btl_tcp_if_include=10.78.0.0/24\nmpirun --hostfile " +
                                 hostfile({1, 1}) + " -x RINGTRAIN_DATA " + train_command(dir_.file("wire"), training));
  for (const Outcome* outcome : {&one_host, &over_wire}) {
    ASSERT_EQ(outcome->exit_code, 0) << outcome->output;
    EXPECT_NE(outcome->output.find("identical on all 2 ranks"), std::string::npos) << outcome->output;
  }
  EXPECT_NE(over_wire.output.find("summed by mpi-nonblocking, 4 sums at once"), std::string::npos) << over_wire.output;
  EXPECT_NE(one_host.output.find("summed by mpi-nonblocking\n"), std::string::npos) << one_host.output;
  std::vector<float> reference = final_parameters(dir_.file("one"));
  std::vector<float> parameters = final_parameters(dir_.file("wire"));
  ASSERT_FALSE(reference.empty());
  ASSERT_EQ(parameters.size(), reference.size());
  const double largest = largest_difference(parameters, reference);
  EXPECT_LT(largest, 1e-5) << "over the wire the run differs from one host by up to " << largest;
}

// The job specifications' command lines, as their schedulers would run them, across 2 hosts x 2
// slots, with the schedulers' variables set to local equivalents and one epoch instead of ten.
TEST_F(MultiHostTest, TheJobSpecificationsCommandLinesRunAcrossHosts) {
  const std::string hosts = hostfile({2, 2});
  const std::string local = "export RINGTRAIN_DEVICE=cpu RINGTRAIN_EPOCHS=1 RINGTRAIN_HOME=" + kSource + "\n";

  // Batch AI: the customMpiSettings command line, run by a shell on the first node.
  auto batchai = nlohmann::json::parse(read_file(kSource + "/examples/batchai/job.json"));
  std::string batchai_line = batchai["properties"]["customMpiSettings"]["commandLine"].get<std::string>();
  Outcome batchai_run = run_script(local + "export AZ_BATCHAI_MPI_HOST_FILE=" + hosts +
                                   " AZ_BATCHAI_INPUT_DATASET=" + data_->path() + " AZ_BATCHAI_OUTPUT_MODEL=" +
                                   dir_.file("batchai") + "\n" + batchai_line);

  // Azure ML: the command (a folded YAML block) in every process that its MPI launch starts.
  std::string yml = read_file(kSource + "/examples/azureml/job.yml");
  std::smatch block;
  ASSERT_TRUE(std::regex_search(yml, block, std::regex("\ncommand: >-\n((?:  .*\n)+)"))) << yml;
  std::string azureml_command = std::regex_replace(block[1].str(), std::regex("\n *"), " ");
  azureml_command = replace_all(azureml_command, "${{inputs.data}}", data_->path());
  azureml_command = replace_all(azureml_command, "${{outputs.checkpoints}}", dir_.file("azureml"));
  azureml_command = replace_all(azureml_command, "/opt/ringtrain", kSource);
  Outcome azureml_run = run_script(local + "mpirun --hostfile " + hosts +
                                   " -x RINGTRAIN_DEVICE -x RINGTRAIN_EPOCHS bash -c '" + azureml_command + "'");

  // Kubernetes MPI Operator: the launcher's command and args, with $(VAR) expanded from its env as
  // Kubernetes does, and the operator's hostfile.
  std::string mpijob = read_file(kSource + "/examples/kubernetes/mpijob.yaml");
  std::smatch args_line;
  ASSERT_TRUE(std::regex_search(mpijob, args_line, std::regex("args: (\\[.*\\])"))) << mpijob;
  std::string kubernetes_command = "mpirun";
  for (const auto& arg : nlohmann::json::parse(args_line[1].str())) {
    std::string value = arg.get<std::string>();
    value = replace_all(value, "$(RINGTRAIN_DEVICE)", "cpu");
    value = replace_all(value, "$(RINGTRAIN_EPOCHS)", "1");
    value = replace_all(value, "$(RINGTRAIN_CHECKPOINTS)", dir_.file("kubernetes"));
    value = replace_all(value, "/opt/ringtrain", kSource);
    kubernetes_command += " '" + value + "'";
  }
  Outcome kubernetes_run = run_script("export OMPI_MCA_orte_default_hostfile=" + hosts + "\n" + kubernetes_command);

  // Slurm: the batch script itself (its #SBATCH lines are comments to bash); mpirun takes the
  // allocation's nodes, here from a hostfile.
  Outcome slurm_run = run_script(local + "export OMPI_MCA_orte_default_hostfile=" + hosts +
                                 " RINGTRAIN_CHECKPOINTS=" + dir_.file("slurm") + "\nbash " + kSource +
                                 "/examples/slurm/train.sbatch");

  for (const Outcome* outcome : {&batchai_run, &azureml_run, &kubernetes_run, &slurm_run}) {
    EXPECT_EQ(outcome->exit_code, 0) << outcome->output;
    EXPECT_NE(outcome->output.find("rank 0 of 4 on rt-h1 (local rank 0 of 2)"), std::string::npos) << outcome->output;
    EXPECT_NE(outcome->output.find("identical on all 4 ranks"), std::string::npos) << outcome->output;
  }
  for (const char* job : {"batchai", "azureml", "kubernetes", "slurm"}) {
    EXPECT_FALSE(final_parameters(dir_.file(job)).empty()) << job << " wrote no checkpoint";
  }
}

// `ringtrain launch` across 4 hosts x 1 rank; rt-h4's link goes down once the job has committed
// its first checkpoint: the job ends within seconds naming the host, nothing is left on it, and
// launch runs the job again on the 3 hosts left, resuming, to the parameters of a 3-host run
// resumed from the same checkpoint by hand. No person, no flag for the lost host.
TEST_F(MultiHostTest, ALostHostIsLeftOutAndLaunchFinishesTheJobOnTheOthers) {
  const std::string checkpoints = dir_.file("ck");
  const std::string command = "ringtrain train " + kSource + "/examples/fashion_mnist/mlp.toml " +
                              "--set model.hidden=[64] --set train.epochs=2 --set train.global_batch=96 " +
                              "--set runtime.threads=1 --set comm.timeout_seconds=5 --set checkpoint.every=100 " +
                              "--set checkpoint.keep=100 --set checkpoint.dir=";
  Outcome launched = run_script(
      "ringtrain launch --hostfile " + hostfile({1, 1, 1, 1}) + " --max-restarts 1 --mpirun-args '-x RINGTRAIN_DATA' -- " +
          command + checkpoints + " > " + dir_.file("launch.log") + " 2>&1 & job=$!\n"
          "i=0; until ls " + checkpoints + "/*/manifest.json >/dev/null 2>&1 || [ $i -ge 600 ]; "
          "do sleep 0.05; i=$((i+1)); done\n"
          "cut=$(date +%s.%N); bash " + kSource + "/scripts/netns-hosts.sh cut rt-h4\n"
          // The first attempt's end: launch starts the second.
          "i=0; until grep -q 'attempt 2 of 2' " + dir_.file("launch.log") + " || [ $i -ge 1200 ]; "
          "do sleep 0.05; i=$((i+1)); done\n"
          "echo \"seconds from cut to the restart: $(awk \"BEGIN {print $(date +%s.%N) - $cut}\")\"\n"
          "i=0; while [ -n \"$(ip netns pids rt-h4)\" ] && [ $i -lt 300 ]; do sleep 0.05; i=$((i+1)); done\n"
          "echo \"left on rt-h4: $(ip netns pids rt-h4 | xargs -r ps -o comm= -p | tr '\\n' ' ')\"\n"
          "set +e; wait $job; status=$?\n"
          "echo \"seconds from cut to the job finished on 3 hosts: $(awk \"BEGIN {print $(date +%s.%N) - $cut}\")\"\n"
          "cat " + dir_.file("launch.log") + "\nexit $status",
      true, 240);
  EXPECT_EQ(launched.exit_code, 0) << launched.output;
  // Named by ringtrain (Open MPI's own message names it too, once its keepalive gives up).
  EXPECT_NE(launched.output.find("rank(s) 3 on host(s) rt-h4"), std::string::npos) << launched.output;
  EXPECT_NE(launched.output.find("leaving out the lost host(s) rt-h4"), std::string::npos) << launched.output;
  EXPECT_NE(launched.output.find("attempt 2 of 2, 3 rank(s) on rt-h1, rt-h2, rt-h3"), std::string::npos)
      << launched.output;
  EXPECT_NE(launched.output.find("left on rt-h4: \n"), std::string::npos) << "processes left on the lost host:\n"
                                                                           << launched.output;
  EXPECT_NE(launched.output.find("identical on all 3 ranks"), std::string::npos) << launched.output;
  for (const char* measured : {"seconds from cut to the restart: [0-9.]+",
                               "seconds from cut to the job finished on 3 hosts: [0-9.]+"}) {
    std::smatch seconds;
    if (std::regex_search(launched.output, seconds, std::regex(measured))) {
      std::cout << "[ measured ] " << seconds[0].str() << "\n";
    }
  }
  std::smatch resumed;
  ASSERT_TRUE(std::regex_search(launched.output, resumed, std::regex("resumed from (\\S+/step-[0-9]+)")))
      << launched.output;

  // The same checkpoint resumed by hand on the same 3 hosts ends at the same parameters.
  const std::string by_hand = dir_.file("by-hand");
  std::filesystem::create_directories(by_hand);
  std::filesystem::copy(resumed[1].str(), by_hand + "/" + std::filesystem::path(resumed[1].str()).filename().string(),
                        std::filesystem::copy_options::recursive);
  Outcome reference = run_script("mpirun --hostfile " + hostfile({1, 1, 1}) + " -x RINGTRAIN_DATA " + command +
                                 by_hand + " --resume auto");
  ASSERT_EQ(reference.exit_code, 0) << reference.output;
  EXPECT_EQ(testing::fingerprint_of(launched.output), testing::fingerprint_of(reference.output))
      << launched.output << reference.output;
}

}  // namespace
}  // namespace rt
