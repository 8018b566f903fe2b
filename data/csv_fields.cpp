#include "data/csv_fields.h"

#include <charconv>
#include <climits>
#include <cmath>

namespace rt {

void split_csv_line(const std::string& line, std::vector<std::string>& fields) {
  size_t count = 0;
  auto next_field = [&]() -> std::string& {
    if (count == fields.size()) fields.emplace_back();
    std::string& field = fields[count++];
    field.clear();
    return field;
  };
  std::string* field = &next_field();
  const size_t n = line.size();
  for (size_t i = 0; i < n;) {
    // An unquoted run, appended whole (a plain loop: find_first_of searches the set per character).
    size_t stop = i;
    while (stop < n && line[stop] != ',' && line[stop] != '"' && line[stop] != '\r') ++stop;
    if (stop == n) {
      field->append(line, i, n - i);
      break;
    }
    field->append(line, i, stop - i);
    i = stop + 1;
    if (line[stop] == ',') {
      field = &next_field();
    } else if (line[stop] == '"') {
      // A quoted run: up to the closing quote, "" standing for one.
      while (i < n) {
        const size_t quote = line.find('"', i);
        if (quote == std::string::npos) {
          field->append(line, i, n - i);
          i = n;
        } else if (quote + 1 < n && line[quote + 1] == '"') {
          field->append(line, i, quote + 1 - i);
          i = quote + 2;
          continue;
        } else {
          field->append(line, i, quote - i);
          i = quote + 1;
        }
        break;
      }
    }
  }
  fields.resize(count);
}

std::vector<std::string> split_csv_line(const std::string& line) {
  std::vector<std::string> fields;
  split_csv_line(line, fields);
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
