// This process's CPU use and memory, sampled for the run's metrics.
#pragma once

#include <chrono>

namespace rt {

class ProcessUsage {
 public:
  ProcessUsage();
  // CPU time (user + system, all threads) over wall time since the previous call (or since
  // construction), in percent of one core: 200 means two cores busy.
  double cpu_percent();
  // Resident memory now, in MiB.
  static double resident_mb();

 private:
  double last_cpu_seconds_;
  std::chrono::steady_clock::time_point last_wall_;
};

}  // namespace rt
