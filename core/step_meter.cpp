#include "core/step_meter.h"

#include <algorithm>
#include <chrono>
#include <vector>

#include <nlohmann/json.hpp>

namespace rt {

double unix_time_now() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

void StepMeter::start(int64_t step, const LossSums& sums) {
  first_step_ = step + 1;
  steps_ = 0;
  start_sums_ = sums;
  step_seconds_ = step_seconds_max_ = data_wait_seconds_ = gradient_wait_seconds_ = 0;
}

void StepMeter::add_step(double step_seconds, double data_wait_seconds, double gradient_wait_seconds) {
  ++steps_;
  step_seconds_ += step_seconds;
  step_seconds_max_ = std::max(step_seconds_max_, step_seconds);
  data_wait_seconds_ += data_wait_seconds;
  gradient_wait_seconds_ += gradient_wait_seconds;
}

nlohmann::json StepMeter::finish(Communicator& comm, const StepRowContext& context, const LossSums& sums) {
  // Per rank: loss, correct and rows of the interval, its waits, CPU use and memory.
  constexpr size_t kFields = 8;
  const double mine[kFields] = {sums.loss - start_sums_.loss, sums.correct - start_sums_.correct,
                                sums.rows - start_sums_.rows,  data_wait_seconds_,
                                gradient_wait_seconds_,        usage_.cpu_percent(),
                                ProcessUsage::resident_mb(),   step_seconds_};
  std::vector<double> all(kFields * static_cast<size_t>(comm.size()));
  comm.all_gather(Span<const double>(mine, kFields), Span<double>(all));

  double loss = 0, correct = 0, rows = 0, wall = 0;
  nlohmann::json data_wait = nlohmann::json::array(), gradient_wait = nlohmann::json::array(),
                 cpu = nlohmann::json::array(), memory = nlohmann::json::array();
  for (int r = 0; r < comm.size(); ++r) {
    const double* field = all.data() + kFields * static_cast<size_t>(r);
    loss += field[0];
    correct += field[1];
    rows += field[2];
    data_wait.push_back(field[3]);
    gradient_wait.push_back(field[4]);
    cpu.push_back(field[5]);
    memory.push_back(field[6]);
    wall = std::max(wall, field[7]);  // the job goes at its slowest rank's pace
  }
  const double samples_per_second = wall > 0 ? static_cast<double>(steps_ * context.global_batch) / wall : 0.0;
  nlohmann::json row = {{"kind", "train"},
                        {"time", unix_time_now()},
                        {"epoch", context.epoch},
                        {"first_step", first_step_},
                        {"step", context.step},
                        {"loss", rows > 0 ? loss / rows : 0.0},
                        {"lr", context.lr},
                        {"samples_per_second", samples_per_second},
                        {"step_ms", steps_ > 0 ? 1e3 * step_seconds_ / static_cast<double>(steps_) : 0.0},
                        {"step_ms_max", 1e3 * step_seconds_max_},
                        {"data_wait_seconds", data_wait},
                        {"gradient_wait_seconds", gradient_wait},
                        {"cpu_percent", cpu},
                        {"memory_mb", memory}};
  if (!context.regression) row["accuracy"] = rows > 0 ? correct / rows : 0.0;
  if (context.context > 0) row["tokens_per_second"] = samples_per_second * static_cast<double>(context.context);
  start(context.step, sums);
  return row;
}

}  // namespace rt
