#include "core/progress.h"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "core/base/logging.h"

namespace rt {

std::string format_duration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "?";
  const int64_t total = static_cast<int64_t>(std::llround(seconds));
  const int64_t hours = total / 3600, minutes = total / 60 % 60, rest = total % 60;
  if (hours > 0) return fmt::format("{}h{:02}m{:02}s", hours, minutes, rest);
  if (minutes > 0) return fmt::format("{}m{:02}s", minutes, rest);
  return fmt::format("{}s", rest);
}

Progress::Progress(bool shown, const ProgressPlan& plan)
    : shown_(shown), terminal_(stdout_is_terminal()), plan_(plan),
      interval_seconds_(terminal_ ? std::min(0.5, plan.every_seconds) : plan.every_seconds), last_(Clock::now()) {}

Progress::~Progress() { stop(); }

void Progress::add_step(double step_seconds, double data_wait_seconds, double gradient_wait_seconds) {
  ++steps_;
  step_seconds_ += step_seconds;
  data_wait_ += data_wait_seconds;
  gradient_wait_ += gradient_wait_seconds;
}

bool Progress::due() const {
  return shown_ && steps_ > 0 && std::chrono::duration<double>(Clock::now() - last_).count() >= interval_seconds_;
}

void Progress::update(int64_t step, int64_t epoch, double lr, const LossSums& sums) {
  const Clock::time_point now = Clock::now();
  const double wall = std::chrono::duration<double>(now - last_).count();
  // The loss of rank 0's batches since the last line (the sums restart with each epoch).
  const LossSums from = epoch == last_epoch_ ? last_sums_ : LossSums{};
  const double rows = sums.rows - from.rows;
  if (rows > 0) {
    const double loss = (sums.loss - from.loss) / rows;
    smoothed_loss_ = smoothed_loss_ < 0 ? loss : 0.7 * smoothed_loss_ + 0.3 * loss;
  }
  const double steps_per_second = wall > 0 ? static_cast<double>(steps_) / wall : 0.0;
  smoothed_steps_per_second_ = smoothed_steps_per_second_ == 0 ? steps_per_second
                                                               : 0.7 * smoothed_steps_per_second_ + 0.3 * steps_per_second;
  const double rate = steps_per_second * static_cast<double>(plan_.global_batch);
  const std::string rate_text = plan_.context > 0
                                    ? fmt::format("{:.0f} tokens/s", rate * static_cast<double>(plan_.context))
                                    : fmt::format("{:.0f} samples/s", rate);
  const double eta = smoothed_steps_per_second_ > 0
                         ? static_cast<double>(plan_.total_steps - step) / smoothed_steps_per_second_
                         : std::nan("");
  line_ = fmt::format("step {}/{} ({:.1f}%) epoch {}/{} | loss {:.4f} | {} | {:.1f} ms/step | lr {:.3g} | "
                      "data {:.0f}% grad {:.0f}% | ETA {}",
                      step, plan_.total_steps, 100.0 * static_cast<double>(step) / static_cast<double>(plan_.total_steps),
                      epoch, plan_.epochs, smoothed_loss_ < 0 ? 0.0 : smoothed_loss_, rate_text,
                      1e3 * step_seconds_ / static_cast<double>(steps_), lr, 100.0 * data_wait_ / step_seconds_,
                      100.0 * gradient_wait_ / step_seconds_, format_duration(eta));
  if (terminal_) {
    set_status_line(line_);
  } else {
    log_info("{}", line_);
  }
  last_ = now;
  last_epoch_ = epoch;
  last_sums_ = sums;
  steps_ = 0;
  step_seconds_ = data_wait_ = gradient_wait_ = 0;
}

void Progress::stop() {
  if (terminal_ && shown_ && !line_.empty()) set_status_line("");
}

}  // namespace rt
