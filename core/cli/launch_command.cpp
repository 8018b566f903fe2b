// `ringtrain launch [--np N | --hostfile FILE] [--max-restarts N] -- COMMAND...`
// (core/launch/job_launcher.h): runs COMMAND under mpirun, restarting it on failure.
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "core/cli/commands.h"
#include "core/launch/job_launcher.h"

namespace rt {

namespace {
struct LaunchArguments {
  LaunchOptions options;
  std::string mpirun_args;
};
}  // namespace

CommandRunner add_launch_command(CLI::App& app) {
  auto a = std::make_shared<LaunchArguments>();
  CLI::App* command = app.add_subcommand(
      "launch",
      "Run a job under mpirun and, when it fails, again from its newest checkpoint (--resume auto), leaving out "
      "hosts it lost; exits 0, 143 when preempted, or the last failure's code");
  command->add_option("command", a->options.command, "The job, after --: ringtrain train CONFIG [...]")->required();
  command->add_option("--np", a->options.ranks, "Ranks on this machine (without --hostfile)")
      ->capture_default_str()
      ->check(CLI::Range(1, 1 << 20));
  command->add_option("--hostfile", a->options.hostfile,
                      "Open MPI hostfile (HOST slots=N a line): the ranks are its slots; a lost host is left out "
                      "of the next attempt")
      ->check(CLI::ExistingFile);
  command->add_option("--max-restarts", a->options.max_restarts, "Attempts after the first")
      ->capture_default_str()
      ->check(CLI::Range(0, 1000));
  command->add_option("--mpirun", a->options.mpirun, "The launcher to run")->capture_default_str();
  command->add_option("--mpirun-args", a->mpirun_args, "More arguments for it, e.g. \"-x RINGTRAIN_DATA\"");
  command->get_option("--hostfile")->excludes("--np");
  return [command, a](Communicator&) {
    if (!command->parsed()) return -1;
    std::istringstream words(a->mpirun_args);
    for (std::string word; words >> word;) a->options.mpirun_args.push_back(word);
    return launch_job(a->options);
  };
}

}  // namespace rt
