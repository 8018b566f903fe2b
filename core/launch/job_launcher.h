// `ringtrain launch`: runs a job under mpirun and, when it fails, runs it again resuming from its
// newest checkpoint (--resume auto), leaving out the hosts the failure named as lost, until it
// succeeds, is preempted, or has failed max_restarts + 1 times (torchrun's --max-restarts, with
// ringtrain's exact resume). The pieces that decide are pure functions, tested on their own.
#pragma once

#include <string>
#include <vector>

namespace rt {

struct HostSlots {
  std::string host;
  int slots = 1;
};

// An Open MPI hostfile: "HOST [slots=N]" a line, '#' comments. Throws naming the file and line.
std::vector<HostSlots> read_hostfile(const std::string& path);
// The hosts that a failed job's output names as lost: ringtrain's watchdog ("rank(s) ... on
// host(s) A, B gave no sign of life | did not arrive") and Open MPI's ("Remote daemon: ... on
// node A", "lost communication with ... node A"). Each once, in order of first mention.
std::vector<std::string> lost_hosts(const std::vector<std::string>& output_lines);
// Whether the output shows a job that ended on purpose after a preemption checkpoint.
bool preempted(const std::vector<std::string>& output_lines);
// `command` with any "--resume X" (or "--resume=X") replaced by a final "--resume auto".
std::vector<std::string> resuming(const std::vector<std::string>& command);

struct LaunchOptions {
  std::vector<std::string> command;  // what mpirun runs on every rank: ringtrain train ...
  std::string hostfile;              // empty: `ranks` on this machine
  int ranks = 1;
  int max_restarts = 3;
  std::string mpirun = "mpirun";
  std::vector<std::string> mpirun_args;  // before the command, e.g. -x VARIABLE
};

// Runs the job as described at the top of the file; returns the exit code to end with: 0, 143
// for a preempted job (whatever mpirun returned), or the last attempt's code.
int launch_job(const LaunchOptions& options);

}  // namespace rt
