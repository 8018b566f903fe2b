// RT_CHECK_MPI(call): throws rt::Error with MPI's own error text when an MPI call fails.
// MPI_COMM_WORLD's error handler is set to MPI_ERRORS_RETURN at start-up so that this sees errors.
#pragma once

#include <mpi.h>

#include "core/base/check.h"

namespace rt {
[[noreturn]] void throw_mpi_error(const char* file, int line, const char* call, int code);
}

#define RT_CHECK_MPI(call)                                                  \
  do {                                                                      \
    int rt_mpi_code_ = (call);                                              \
    if (rt_mpi_code_ != MPI_SUCCESS)                                        \
      ::rt::throw_mpi_error(__FILE__, __LINE__, #call, rt_mpi_code_);       \
  } while (0)
