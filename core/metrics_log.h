// Per-epoch metrics as JSON lines (one object per line), for scripts and benchmarks.
#pragma once

#include <cstdint>
#include <fstream>
#include <string>

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
};

class MetricsLog {
 public:
  // An empty path writes nothing.
  explicit MetricsLog(const std::string& path);
  void write(const EpochMetrics& metrics);

 private:
  std::string path_;
  std::ofstream out_;
};

}  // namespace rt
