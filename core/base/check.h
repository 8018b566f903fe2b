// The one error type of ringtrain and the CHECK macros that throw it.
//
// Every failure carries the file, the line and the failed expression or call, so a message from
// rank 17 of a cluster job says where it came from. Library code throws; only main() decides to
// end the process (and the MPI job). Backend-specific checks (MPI, HDF5, CUDA, NCCL) live in
// check_<backend>.h and throw this same type.
// Users see the message alone (without_source_locations); log.level = "debug" shows the rest.
#pragma once

#include <stdexcept>
#include <string>

#include <fmt/format.h>

namespace rt {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& what) : std::runtime_error(what) {}
};

// Data that fails its own integrity checks (a checksum, the chunk index): reading it again gives
// the same answer, so readers do not retry it as they retry I/O errors.
class IntegrityError : public Error {
 public:
  explicit IntegrityError(const std::string& what) : Error(what) {}
};

// Builds "message [file:line: expression]" and throws it (as an IntegrityError if `integrity`).
[[noreturn]] void throw_error(const char* file, int line, const char* expression,
                              const std::string& message, bool integrity = false);

// An error's text for users: without the "[file:line: expression]" parts (kept for developers,
// shown with log.level = "debug").
std::string without_source_locations(const std::string& text);

}  // namespace rt

// RT_CHECK(cond, "format", args...): throws rt::Error when cond is false.
#define RT_CHECK(cond, ...)                                                         \
  do {                                                                              \
    if (!(cond)) ::rt::throw_error(__FILE__, __LINE__, #cond, fmt::format(__VA_ARGS__)); \
  } while (0)

// RT_CHECK_INTEGRITY(cond, "format", args...): throws rt::IntegrityError when cond is false.
#define RT_CHECK_INTEGRITY(cond, ...)                                                         \
  do {                                                                                        \
    if (!(cond)) ::rt::throw_error(__FILE__, __LINE__, #cond, fmt::format(__VA_ARGS__), true); \
  } while (0)

// RT_FAIL("format", args...): throws rt::Error unconditionally.
#define RT_FAIL(...) ::rt::throw_error(__FILE__, __LINE__, nullptr, fmt::format(__VA_ARGS__))
