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

void throw_error(const char* file, int line, const char* expression, const std::string& message, bool integrity) {
  const std::string text = expression
                               ? fmt::format("{} [{}:{}: {}]", message, relative_to_repository(file), line, expression)
                               : fmt::format("{} [{}:{}]", message, relative_to_repository(file), line);
  if (integrity) throw IntegrityError(text);
  throw Error(text);
}

std::string without_source_locations(const std::string& text) {
  std::string result;
  size_t at = 0;
  while (at < text.size()) {
    // " [" and a repository folder: a location suffix, up to its matching bracket.
    bool location = false;
    if (text.compare(at, 2, " [") == 0) {
      for (const char* top : {"core/", "kernels/", "comm/", "data/", "tests/", "benchmarks/"}) {
        if (text.compare(at + 2, std::strlen(top), top) == 0) location = true;
      }
    }
    if (!location) {
      result += text[at++];
      continue;
    }
    int depth = 0;
    size_t end = at + 1;
    for (; end < text.size(); ++end) {
      if (text[end] == '[') ++depth;
      if (text[end] == ']' && --depth == 0) break;
    }
    at = end + 1;
  }
  return result;
}

}  // namespace rt
