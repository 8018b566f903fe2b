// Writing a whole file so that a reader (or a crash) sees the old contents or the new, never half.
#pragma once

#include <string>

namespace rt {

// Writes `text` to PATH.tmp, then renames it over `path`. Throws naming the file on failure.
void replace_file(const std::string& path, const std::string& text);

}  // namespace rt
