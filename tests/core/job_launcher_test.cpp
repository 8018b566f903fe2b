// The decisions of `ringtrain launch`: which hosts a failure lost, whether it was a preemption, how
// a restart resumes, and the hostfile it reads. (The whole loop runs for real in tests/faults and
// tests/cluster.)
#include "core/launch/job_launcher.h"

#include <gtest/gtest.h>

#include <fstream>

#include "core/base/check.h"
#include "tests/test_support.h"

namespace rt {
namespace {

TEST(JobLauncherTest, LostHostsAreTakenFromTheWatchdogAndOpenMpi) {
  const std::vector<std::string> output{
      "10:00:01 [rank 0/4 rt-h1] error: rank(s) 3 on host(s) rt-h4 gave no sign of life for 5.1 s (timeout 5 s)",
      "10:00:02 [rank 0/4 rt-h1] error: collective all_reduce #9 has waited 5.0 s (timeout 5 s) with no word from "
      "rank(s) 2, 3 on host(s) rt-h3, rt-h4; waiting up to 4 s for their reports, then ending the job",
      "10:00:03 [rank 1/4 rt-h2] error: collective barrier #2 timed out after 5.0 s (timeout 5 s): rank 0 on host "
      "rt-h1 does not answer (stopped, hung or lost); ending the job",
      "  Remote daemon: [[63214,0],4] on node rt-h5",
      "mpirun noticed that process rank 1 with PID 0 on node rt-h2 exited on signal 9 (Killed).",
  };
  EXPECT_EQ(lost_hosts(output), (std::vector<std::string>{"rt-h4", "rt-h3", "rt-h1", "rt-h5"}));
  // A rank that crashed names a process, not a lost host.
  EXPECT_TRUE(lost_hosts({output.back()}).empty());
}

TEST(JobLauncherTest, APreemptionIsToldFromTheRanksLines) {
  EXPECT_TRUE(preempted({"12:00:00 [rank 0/2 vm] exiting with code 143 (preempted, checkpoint /ck/step-000000040)"}));
  EXPECT_FALSE(preempted({"12:00:00 [rank 0/2 vm] error: rank(s) 1 on host(s) vm gave no sign of life"}));
}

TEST(JobLauncherTest, ARestartResumesFromTheNewestCheckpoint) {
  EXPECT_EQ(resuming({"ringtrain", "train", "a.toml", "--resume", "none", "--set", "x=1"}),
            (std::vector<std::string>{"ringtrain", "train", "a.toml", "--set", "x=1", "--resume", "auto"}));
  EXPECT_EQ(resuming({"ringtrain", "train", "a.toml", "--resume=ck/step-000000010"}),
            (std::vector<std::string>{"ringtrain", "train", "a.toml", "--resume", "auto"}));
  EXPECT_EQ(resuming({"ringtrain", "train", "a.toml"}),
            (std::vector<std::string>{"ringtrain", "train", "a.toml", "--resume", "auto"}));
}

TEST(JobLauncherTest, HostfilesAreReadAndBadLinesNamed) {
  testing::TempDir dir;
  std::ofstream(dir.file("hosts")) << "# the cluster\nrt-h1 slots=2\n\nrt-h2   # one slot\nrt-h3 slots=4 max_slots=4\n";
  const std::vector<HostSlots> hosts = read_hostfile(dir.file("hosts"));
  ASSERT_EQ(hosts.size(), 3u);
  EXPECT_EQ(hosts[0].host, "rt-h1");
  EXPECT_EQ(hosts[0].slots, 2);
  EXPECT_EQ(hosts[1].slots, 1);
  EXPECT_EQ(hosts[2].slots, 4);
  std::ofstream(dir.file("bad")) << "rt-h1 slots=2\nrt-h2 cpus=3\n";
  try {
    read_hostfile(dir.file("bad"));
    FAIL() << "a bad hostfile line was accepted";
  } catch (const Error& error) {
    EXPECT_NE(std::string(error.what()).find(dir.file("bad") + ":2"), std::string::npos) << error.what();
  }
}

}  // namespace
}  // namespace rt
