// What the training steps since the last metrics row cost: counted on each rank as they run, and
// turned into one "train" row of metrics.jsonl (the job's loss, accuracy and rate; each rank's
// data wait, gradient wait, CPU use and memory) with one small all-gather. Every rank calls
// finish() at the same step.
#pragma once

#include <cstdint>

#include <nlohmann/json_fwd.hpp>

#include "comm/communicator.h"
#include "core/base/process_usage.h"

namespace rt {

// This rank's running sums of loss, correct predictions and rows (the trainer's epoch sums).
struct LossSums {
  double loss = 0;
  double correct = 0;
  double rows = 0;
};

struct StepRowContext {
  int64_t epoch = 0;          // 1-based
  int64_t step = 0;           // the last step the row covers
  double lr = 0;
  int64_t global_batch = 0;   // samples per step, all ranks
  int64_t context = 0;        // a language model's tokens per sample (0: a classifier)
  bool regression = false;    // the loss is a mean squared error, and there is no accuracy
};

class StepMeter {
 public:
  // A new interval begins after `step`, with the epoch sums as they are now.
  void start(int64_t step, const LossSums& sums);
  void add_step(double step_seconds, double data_wait_seconds, double gradient_wait_seconds);
  int64_t steps() const { return steps_; }
  // The row for the steps since start(); a collective. `sums` are the epoch sums now.
  nlohmann::json finish(Communicator& comm, const StepRowContext& context, const LossSums& sums);

 private:
  int64_t first_step_ = 1;
  int64_t steps_ = 0;
  LossSums start_sums_;
  double step_seconds_ = 0;
  double step_seconds_max_ = 0;
  double data_wait_seconds_ = 0;
  double gradient_wait_seconds_ = 0;
  ProcessUsage usage_;
};

// Seconds since the Unix epoch, to the microsecond: the metrics' "time".
double unix_time_now();

}  // namespace rt
