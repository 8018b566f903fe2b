// Logging with the rank in every line. Progress (info) is printed by rank 0 alone unless every
// rank is asked to speak (log.all_ranks); warnings and errors are printed by whichever rank has them.
#pragma once

#include <ostream>
#include <string>

#include <fmt/format.h>

namespace rt {

enum class LogLevel { kInfo, kWarning, kError };

// Called once the rank is known; before that, lines carry rank "?".
void set_log_identity(int rank, int size, const std::string& host);
void set_log_all_ranks(bool all_ranks);
// log.level = "debug" (or RINGTRAIN_LOG_LEVEL=debug in the environment): errors keep the source
// location that developers read ([file:line: condition]).
void set_log_debug(bool debug);
bool log_debug();

// Every line of this rank (its info lines too, whether or not it prints them) is also appended to
// `path`; empty stops it.
void set_log_file(const std::string& path);
// A line redrawn in place under the log on a terminal (rank 0's progress): log lines print above
// it. Empty removes it. Only where standard output is a terminal.
void set_status_line(const std::string& line);
bool stdout_is_terminal();
void log_line(LogLevel level, const std::string& message);
// A stream that discards what is written: where ranks other than 0 would repeat rank 0's text.
std::ostream& null_stream();

template <typename... Args>
void log_info(fmt::format_string<Args...> format, Args&&... args) {
  log_line(LogLevel::kInfo, fmt::format(format, std::forward<Args>(args)...));
}
template <typename... Args>
void log_warning(fmt::format_string<Args...> format, Args&&... args) {
  log_line(LogLevel::kWarning, fmt::format(format, std::forward<Args>(args)...));
}
template <typename... Args>
void log_error(fmt::format_string<Args...> format, Args&&... args) {
  log_line(LogLevel::kError, fmt::format(format, std::forward<Args>(args)...));
}

}  // namespace rt
