#include "core/base/process_usage.h"

#include <sys/resource.h>
#include <unistd.h>

#include <cstdio>

namespace rt {

namespace {
double cpu_seconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  auto seconds = [](const timeval& t) { return static_cast<double>(t.tv_sec) + 1e-6 * static_cast<double>(t.tv_usec); };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}
}  // namespace

ProcessUsage::ProcessUsage() : last_cpu_seconds_(cpu_seconds()), last_wall_(std::chrono::steady_clock::now()) {}

double ProcessUsage::cpu_percent() {
  const double cpu = cpu_seconds();
  const auto now = std::chrono::steady_clock::now();
  const double wall = std::chrono::duration<double>(now - last_wall_).count();
  const double percent = wall > 0 ? 100.0 * (cpu - last_cpu_seconds_) / wall : 0.0;
  last_cpu_seconds_ = cpu;
  last_wall_ = now;
  return percent;
}

double ProcessUsage::resident_mb() {
  // /proc/self/statm: total and resident size in pages.
  FILE* file = std::fopen("/proc/self/statm", "r");
  if (!file) return 0;
  long total = 0, resident = 0;
  const int read = std::fscanf(file, "%ld %ld", &total, &resident);
  std::fclose(file);
  if (read != 2) return 0;
  return static_cast<double>(resident) * static_cast<double>(sysconf(_SC_PAGESIZE)) / (1024.0 * 1024.0);
}

}  // namespace rt
