#include "data/csv_fields.h"

#include <charconv>
#include <climits>
#include <cmath>

namespace rt {

std::vector<std::string> split_csv_line(const std::string& line) {
  std::vector<std::string> fields(1);
  bool quoted = false;
  for (size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if (quoted) {
      if (c == '"' && i + 1 < line.size() && line[i + 1] == '"') {
        fields.back() += '"';
        ++i;
      } else if (c == '"') {
        quoted = false;
      } else {
        fields.back() += c;
      }
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      fields.emplace_back();
    } else if (c != '\r') {
      fields.back() += c;
    }
  }
  return fields;
}

std::string trimmed(const std::string& text) {
  const size_t begin = text.find_first_not_of(" \t"), end = text.find_last_not_of(" \t");
  return begin == std::string::npos ? std::string() : text.substr(begin, end - begin + 1);
}

std::optional<double> csv_number(const std::string& text) {
  const size_t begin = text.find_first_not_of(" \t"), end = text.find_last_not_of(" \t");
  if (begin == std::string::npos) return std::nullopt;
  double value = 0;
  const auto [at, error] = std::from_chars(text.data() + begin, text.data() + end + 1, value);
  if (error != std::errc() || at != text.data() + end + 1 || !std::isfinite(value)) return std::nullopt;
  return value;
}

std::optional<int64_t> csv_class_id(const std::string& text) {
  int64_t value = -1;
  const auto [at, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || at != text.data() + text.size() || value < 0 || value > INT32_MAX) return std::nullopt;
  return value;
}

}  // namespace rt
