// RT_CHECK_HDF5(call, "context", args...): throws rt::Error when an HDF5 call returns a negative
// value (HDF5's failure convention), with HDF5's error stack folded into one line. The automatic
// printing of HDF5's error stack to stderr is switched off by silence_hdf5_errors() at start-up.
#pragma once

#include <string>

#include "core/base/check.h"

namespace rt {
[[noreturn]] void throw_hdf5_error(const char* file, int line, const char* call,
                                   const std::string& context);
// Turns off HDF5's default printing of error stacks; errors then reach us only as exceptions.
void silence_hdf5_errors();
}  // namespace rt

#define RT_CHECK_HDF5(call, ...)                                                        \
  ([&]() {                                                                              \
    auto rt_hdf5_result_ = (call);                                                      \
    if (rt_hdf5_result_ < 0)                                                            \
      ::rt::throw_hdf5_error(__FILE__, __LINE__, #call, fmt::format(__VA_ARGS__));      \
    return rt_hdf5_result_;                                                             \
  }())
