// The subcommands of the `ringtrain` executable. Each registers its options on the CLI11 app and
// returns the function that runs it once the command line is parsed.
#pragma once

#include <functional>

#include <CLI/CLI.hpp>

#include "comm/communicator.h"

namespace rt {

using CommandRunner = std::function<void(Communicator&)>;

CommandRunner add_train_command(CLI::App& app);
CommandRunner add_shard_command(CLI::App& app);

}  // namespace rt
