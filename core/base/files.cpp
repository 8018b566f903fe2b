#include "core/base/files.h"

#include <filesystem>
#include <fstream>

#include "core/base/check.h"

namespace rt {

void replace_file(const std::string& path, const std::string& text) {
  const std::string temporary = path + ".tmp";
  {
    std::ofstream out(temporary, std::ios::out | std::ios::trunc);
    out << text;
    out.flush();
    RT_CHECK(out.good(), "cannot write {}", temporary);
  }
  std::error_code error;
  std::filesystem::rename(temporary, path, error);
  RT_CHECK(!error, "cannot replace {}: {}", path, error.message());
}

}  // namespace rt
