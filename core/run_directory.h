// The run directory: where a training run keeps its record.
//
//   DIR/config.toml        the configuration as resolved (overrides applied)
//   DIR/run.json           the machine: ringtrain's version, ranks and their hosts, device
//   DIR/report.html        the report (report/report.h), refreshed by rank 0 while training
//   DIR/metrics.jsonl      metrics rows (metrics_log.h), and metrics.csv beside it
//   DIR/logs/rank-R.log    every line of rank R
//   DIR/checkpoints/       checkpoints, unless checkpoint.dir says otherwise
//
// DIR is log.dir, or by default runs/<config name>-<UTC time>. `--resume` continues the run
// directory of the run it resumes: the one named in checkpoint.dir's RUN file, or (checkpoint.dir
// not set) the newest runs/<config name>-* holding checkpoints.
#pragma once

#include <string>

#include "comm/communicator.h"
#include "core/train_config.h"

namespace rt {

// Rank 0 chooses (and creates) the directory and checks that the checkpoint directory can be
// written, before any work; every rank then sets config.run_dir, the defaults that follow from it
// (checkpoint.dir, log.metrics) and its own log file. A collective.
void prepare_run_directory(TrainConfig& config, Communicator& comm);

// The name of a new run directory: NAME-YYYYMMDD-HHMMSS in UTC.
std::string new_run_directory_name(const std::string& config_name);

}  // namespace rt
