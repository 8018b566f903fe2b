#include "core/base/check.h"

#include <cstring>

namespace rt {

namespace {
// __FILE__ is an absolute path in most builds; keep it from the repository root on.
const char* relative_to_repository(const char* file) {
  for (const char* top : {"/core/", "/kernels/", "/comm/", "/data/", "/tests/", "/benchmarks/"}) {
    if (const char* at = std::strstr(file, top)) return at + 1;
  }
  return file;
}
}  // namespace

void throw_error(const char* file, int line, const char* expression, const std::string& message) {
  if (expression) {
    throw Error(fmt::format("{} [{}:{}: {}]", message, relative_to_repository(file), line, expression));
  }
  throw Error(fmt::format("{} [{}:{}]", message, relative_to_repository(file), line));
}

}  // namespace rt
