#include "core/base/logging.h"

#include "core/base/environment.h"

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <mutex>

#include <unistd.h>

namespace rt {

namespace {
struct LogState {
  std::mutex mutex;
  std::string prefix = "[rank ?]";
  bool speaks_info = true;
  bool all_ranks = false;
  int rank = 0;
  std::ofstream file;
  std::string status;  // shown under the log on a terminal
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

void set_log_file(const std::string& path) {
  LogState& s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  if (s.file.is_open()) s.file.close();
  if (!path.empty()) s.file.open(path, std::ios::out | std::ios::app);
}

namespace {
bool debug_from_environment() {
  const char* level = std::getenv("RINGTRAIN_LOG_LEVEL");
  return level && std::string(level) == "debug";
}
std::atomic<bool> debug_logging{debug_from_environment()};

bool detect_terminal() {
  if (isatty(fileno(stdout)) != 1) return false;
  if (!started_by_mpi_launcher()) return true;
  // Open MPI gives its ranks a pseudo-terminal as standard output whatever its own is, and copies
  // it there: a terminal only if mpirun's (this rank's parent's) standard output is one. A rank
  // under a remote daemon sees the daemon's socket: not a terminal.
  char target[256];
  const std::string link = fmt::format("/proc/{}/fd/1", getppid());
  const ssize_t length = readlink(link.c_str(), target, sizeof target - 1);
  if (length <= 0) return false;
  const std::string path(target, static_cast<size_t>(length));
  return path.rfind("/dev/pts/", 0) == 0 || path.rfind("/dev/tty", 0) == 0;
}
}  // namespace

void set_log_debug(bool debug) { debug_logging = debug || debug_from_environment(); }
bool log_debug() { return debug_logging; }

bool stdout_is_terminal() {
  static const bool terminal = detect_terminal();
  return terminal;
}

void set_status_line(const std::string& line) {
  if (!stdout_is_terminal()) return;
  LogState& s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  s.status = line;
  // Carriage return and erase-line: the status is drawn over itself.
  fmt::print(stdout, "\r\033[K{}", line);
  std::fflush(stdout);
}

void log_line(LogLevel level, const std::string& message) {
  LogState& s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  const bool prints = level != LogLevel::kInfo || s.speaks_info;
  if (!prints && !s.file.is_open()) return;
  std::time_t now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm local{};
  localtime_r(&now, &local);
  char clock[16];
  std::strftime(clock, sizeof clock, "%H:%M:%S", &local);
  const char* tag = level == LogLevel::kInfo ? "" : level == LogLevel::kWarning ? "warning: " : "error: ";
  const std::string line = fmt::format("{} {} {}{}\n", clock, s.prefix, tag, message);
  if (s.file.is_open()) {
    s.file << line;
    s.file.flush();
  }
  if (!prints) return;
  if (!s.status.empty()) fmt::print(stdout, "\r\033[K");  // the status line gives way to the log line
  FILE* stream = level == LogLevel::kInfo ? stdout : stderr;
  fmt::print(stream, "{}", line);
  std::fflush(stream);
  if (!s.status.empty()) {
    fmt::print(stdout, "{}", s.status);
    std::fflush(stdout);
  }
}

std::ostream& null_stream() {
  static std::ostream discard(nullptr);
  return discard;
}

}  // namespace rt
