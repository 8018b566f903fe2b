#include "core/base/check_hdf5.h"

#include <hdf5.h>

namespace rt {

namespace {
herr_t append_error(unsigned depth, const H5E_error2_t* error, void* out) {
  auto* text = static_cast<std::string*>(out);
  if (depth > 0) *text += "; ";
  *text += error->desc ? error->desc : "?";
  if (error->func_name) *text += fmt::format(" (in {})", error->func_name);
  return 0;
}
}  // namespace

void throw_hdf5_error(const char* file, int line, const char* call, const std::string& context) {
  std::string stack;
  H5Ewalk2(H5E_DEFAULT, H5E_WALK_DOWNWARD, append_error, &stack);
  H5Eclear2(H5E_DEFAULT);
  std::string message = context;
  if (!stack.empty()) message += ": " + stack;
  // HDF5's own Fletcher32 filter: "data error detected by Fletcher32 checksum".
  const bool checksum = stack.find("checksum") != std::string::npos;
  throw_error(file, line, call, message, checksum);
}

void silence_hdf5_errors() { H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr); }

}  // namespace rt
