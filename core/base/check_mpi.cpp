#include "core/base/check_mpi.h"

namespace rt {

void throw_mpi_error(const char* file, int line, const char* call, int code) {
  char text[MPI_MAX_ERROR_STRING] = {};
  int length = 0;
  if (MPI_Error_string(code, text, &length) != MPI_SUCCESS) length = 0;
  throw_error(file, line, call, fmt::format("MPI error {}: {}", code, std::string(text, length)));
}

}  // namespace rt
