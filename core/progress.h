// Rank 0's progress during training: step/total, epoch, smoothed loss, rate, step time, learning
// rate, data and gradient wait, ETA. On a terminal one line redrawn in place twice a second (or every
// `every_seconds` when that is shorter); not on a terminal (a scheduler's log file) a plain log
// line every `every_seconds` (0: every step).
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "core/step_meter.h"

namespace rt {

struct ProgressPlan {
  int64_t total_steps = 0;
  int64_t epochs = 0;
  int64_t global_batch = 0;
  int64_t context = 0;  // a language model's tokens per sample: its rate in tokens/s
  double every_seconds = 30;
};

class Progress {
 public:
  // Off (nothing printed, due() always false) unless `shown`.
  Progress(bool shown, const ProgressPlan& plan);
  ~Progress();
  // Each step, cheap: counts it.
  void add_step(double step_seconds, double data_wait_seconds, double gradient_wait_seconds);
  // True when a line is due (then the caller brings the loss sums up to date and calls update()).
  bool due() const;
  // `sums`: this rank's running sums of the epoch (they restart with each epoch).
  void update(int64_t step, int64_t epoch, double lr, const LossSums& sums);
  // Removes the redrawn line, if any.
  void stop();
  // The line itself, from the figures update() computed (for tests and the plain log).
  std::string line() const { return line_; }

 private:
  using Clock = std::chrono::steady_clock;
  bool shown_;
  bool terminal_;
  ProgressPlan plan_;
  double interval_seconds_;
  Clock::time_point last_;
  int64_t last_epoch_ = -1;
  LossSums last_sums_;
  int64_t steps_ = 0;
  double step_seconds_ = 0, data_wait_ = 0, gradient_wait_ = 0;
  double smoothed_loss_ = -1;
  double smoothed_steps_per_second_ = 0;
  std::string line_;
};

// "1h02m03s", "4m05s", "6s".
std::string format_duration(double seconds);

}  // namespace rt
