// The run's metrics as JSON lines (metrics.jsonl), with the same rows as CSV beside it
// (metrics.csv), written by rank 0.
//
// Rows are appended and never removed. A resumed run continues the same file: rows past the step
// it resumed from (written before the stop and repeated by the resume) are marked
// "superseded": true, so that the rows not superseded count every step exactly once. Kinds:
// "train" (steps first_step..step), "eval" (held-out loss and accuracy at a step) and "epoch"
// (an epoch's summary).
#pragma once

#include <cstdint>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace rt {

struct EpochMetrics {
  int64_t epoch = 0;
  int64_t steps = 0;
  double train_loss = 0;
  double train_accuracy = 0;
  double test_loss = 0;
  double test_accuracy = 0;
  double train_seconds = 0;
  double samples_per_second = 0;  // whole job
  double data_wait_seconds = 0;   // this rank, waiting on the loader
  double communication_seconds = 0;  // this rank, in the gradient all-reduce
  // A regression's: its losses are mean squared errors, the accuracies hold nothing, and test_r2
  // the coefficient of determination of the test targets.
  bool regression = false;
  double test_r2 = 0;

  // "test loss 0.3869, test accuracy 86.04%", or a regression's "test mse 0.0123, test R^2 0.9876".
  std::string test_text() const;
};

// The coefficient of determination, 1 - SSE / SST, from the summed squared error and the targets'
// sum and sum of squares over `count` samples; NaN where the targets do not vary.
double r_squared(double squared_error, double sum, double sum_of_squares, double count);

class MetricsLog {
 public:
  // Opens `path` for a run. A fresh run (no `resumed_step`) keeps an existing file's rows as
  // PATH.previous and starts an empty one; a resumed run marks the existing rows past
  // `resumed_step` superseded and appends. An empty path writes nothing.
  void open(const std::string& path, std::optional<int64_t> resumed_step);
  bool enabled() const { return !path_.empty(); }
  void write(const nlohmann::json& row);
  const std::string& path() const { return path_; }
  const std::string& csv_path() const { return csv_path_; }

 private:
  std::string path_;
  std::string csv_path_;
  std::ofstream out_;
  std::ofstream csv_;
};

// PATH with its extension replaced by .csv.
std::string metrics_csv_path(const std::string& path);
// A metrics file's rows, in order; a torn last line (a writer killed mid-line) is left out.
std::vector<nlohmann::json> read_metrics(const std::string& path);
// The CSV's columns, and one row as a CSV line (per-rank lists as their mean or maximum).
std::string metrics_csv_header();
std::string metrics_csv_line(const nlohmann::json& row);

}  // namespace rt
