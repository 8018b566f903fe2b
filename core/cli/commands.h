// The subcommands of the `ringtrain` executable. Each registers its options on the CLI11 app and
// returns the function that runs it once the command line is parsed: it returns the process's
// exit code, or -1 when its command was not the one given.
#pragma once

#include <functional>

#include <CLI/CLI.hpp>

#include "comm/communicator.h"

namespace rt {

using CommandRunner = std::function<int(Communicator&)>;

// The exit code of a run stopped by SIGTERM after writing its checkpoint (128 + SIGTERM, as a
// shell reports a process ended by it), so schedulers see it was cut short and can requeue it.
constexpr int kExitPreempted = 143;

// The options of the commands that score with a checkpoint on each rank (evaluate, predict):
// --batch (rows a forward pass) and --threads (CPU threads; 0: the rank's share of the cores).
struct ScoringOptions {
  int64_t batch = 1000;
  int threads = 0;
};
void add_scoring_options(CLI::App* command, ScoringOptions& options);
// Sets this rank's CPU threads as `options` says.
void use_scoring_threads(const ScoringOptions& options);

CommandRunner add_train_command(CLI::App& app);
CommandRunner add_shard_command(CLI::App& app);
CommandRunner add_info_command(CLI::App& app);
CommandRunner add_generate_command(CLI::App& app);
CommandRunner add_serve_command(CLI::App& app);
CommandRunner add_evaluate_command(CLI::App& app);
CommandRunner add_predict_command(CLI::App& app);
CommandRunner add_export_command(CLI::App& app);
CommandRunner add_report_command(CLI::App& app);
CommandRunner add_launch_command(CLI::App& app);

}  // namespace rt
