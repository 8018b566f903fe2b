// The trainer's evaluation and its record: metrics rows and the report's refresh.
#include "core/trainer.h"

#include <cmath>
#include <filesystem>

#include <nlohmann/json.hpp>

#include "core/base/background_work.h"
#include "core/base/logging.h"
#include "core/report/report.h"
#include "kernels/kernels.h"

namespace rt {

void Trainer::evaluate(EpochMetrics& metrics) {
  int64_t samples = 0;
  const int64_t classes = model_->output_features();
  model_->set_mode(false, 0);
  const auto next_test_batch = [this] {
    StallWatch::Scope watched(*data_watch_);
    return test_batches_->next();
  };
  waiting_for_ = test_loader_.get();
  {
    StallWatch::Scope watched(*data_watch_);
    test_batches_->start_epoch(0);
  }
  while (const DeviceBatch* batch = next_test_batch()) {
    const Tensor& logits = model_->forward(batch->features);
    const LossRows loss = loss_rows(*batch);
    if (config_.regression) {
      kernels::squared_error(config_.device, logits.data<float>(), targets_of(loss.labels), loss.rows, 0.0f, nullptr,
                             loss_counter_.data<double>());
    } else {
      kernels::softmax_cross_entropy(config_.device, as_operand(logits), loss.labels, loss.rows, classes, 0.0f,
                                     nullptr, loss_counter_.data<double>());
      kernels::count_correct(config_.device, as_operand(logits), loss.labels, loss.rows, classes,
                             correct_counter_.data<int64_t>());
    }
    samples += loss.rows;
  }
  // Loss, correct, samples, and a regression's sums of targets and of their squares.
  double totals[5] = {0, 0, static_cast<double>(samples), 0, 0};
  take_counters(totals[0], totals[1], totals + 3);
  comm_.all_reduce(Span<double>(totals, 5), ReduceOp::kSum);
  metrics.regression = config_.regression;
  metrics.test_loss = totals[0] / totals[2];
  metrics.test_accuracy = totals[1] / totals[2];
  metrics.test_r2 = r_squared(totals[0], totals[3], totals[4], totals[2]);
}

void Trainer::write_train_row(std::vector<double>& sums, float lr) {
  add_counters(sums);
  const StepRowContext context{state_.epoch + 1, state_.step, lr, config_.global_batch, context_, config_.regression};
  const nlohmann::json row = step_meter_.finish(comm_, context, LossSums{sums[0], sums[1], sums[2]});
  if (comm_.rank() == 0) metrics_log_.write(row);
  refresh_report(false);
}

void Trainer::write_eval_row(const EpochMetrics& metrics) {
  evaluated_step_ = state_.step;
  evaluation_ = metrics;
  if (comm_.rank() != 0) return;
  nlohmann::json row = {{"kind", "eval"},         {"time", unix_time_now()},
                        {"epoch", state_.epoch + 1}, {"step", state_.step},
                        {"loss", metrics.test_loss}};
  if (config_.regression) {
    row["r2"] = metrics.test_r2;
  } else {
    row["accuracy"] = metrics.test_accuracy;
  }
  if (context_ > 0) row["bits_per_token"] = metrics.test_loss / std::log(2.0);
  metrics_log_.write(row);
  if (state_.step_in_epoch < steps_per_epoch_) log_info("evaluation at step {}: {}", state_.step, metrics.test_text());
}

void Trainer::refresh_report(bool now) {
  namespace fs = std::filesystem;
  if (comm_.rank() != 0 || config_.run_dir.empty() || report_failed_) return;
  // The report reads the run directory's metrics: not where log.metrics sends them elsewhere.
  if (fs::path(config_.metrics_path) != fs::path(config_.run_dir) / "metrics.jsonl") return;
  const auto clock = Clock::now();
  if (!now && (config_.report_every_seconds <= 0 || report_running_ ||
               std::chrono::duration<double>(clock - last_report_).count() < config_.report_every_seconds)) {
    return;
  }
  if (report_thread_.joinable()) report_thread_.join();
  last_report_ = clock;
  report_running_ = true;
  auto refresh = [this, directory = config_.run_dir] {
    try {
      write_report({directory}, (fs::path(directory) / "report.html").string());
    } catch (const Error& error) {
      report_failed_ = true;
      log_warning("the report cannot be written, training goes on without it: {}", error.what());
    }
    report_running_ = false;
  };
  if (now) {
    refresh();
  } else {
    // Reading a long run's metrics takes a while (1.1 s for 100,000 rows): not on the step's path.
    report_thread_ = std::thread([refresh] {
      run_as_background_work();
      refresh();
    });
  }
}

}  // namespace rt
