#include "core/base/logging.h"

#include <chrono>
#include <cstdio>
#include <ctime>
#include <mutex>

namespace rt {

namespace {
struct LogState {
  std::mutex mutex;
  std::string prefix = "[rank ?]";
  bool speaks_info = true;
  bool all_ranks = false;
  int rank = 0;
};
LogState& state() {
  static LogState s;
  return s;
}
}  // namespace

void set_log_identity(int rank, int size, const std::string& host) {
  LogState& s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  s.rank = rank;
  s.prefix = fmt::format("[rank {}/{} {}]", rank, size, host);
  s.speaks_info = s.all_ranks || rank == 0;
}

void set_log_all_ranks(bool all_ranks) {
  LogState& s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  s.all_ranks = all_ranks;
  s.speaks_info = all_ranks || s.rank == 0;
}

void log_line(LogLevel level, const std::string& message) {
  LogState& s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  if (level == LogLevel::kInfo && !s.speaks_info) return;
  std::time_t now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm local{};
  localtime_r(&now, &local);
  char clock[16];
  std::strftime(clock, sizeof clock, "%H:%M:%S", &local);
  const char* tag = level == LogLevel::kInfo ? "" : level == LogLevel::kWarning ? "warning: " : "error: ";
  FILE* stream = level == LogLevel::kInfo ? stdout : stderr;
  fmt::print(stream, "{} {} {}{}\n", clock, s.prefix, tag, message);
  std::fflush(stream);
}

std::ostream& null_stream() {
  static std::ostream discard(nullptr);
  return discard;
}

}  // namespace rt
