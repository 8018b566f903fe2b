#include "data/csv_shards.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <climits>
#include <map>
#include <optional>
#include <set>

#include <fmt/format.h>

#include "core/base/check.h"
#include "data/shard_manifest.h"
#include "data/shard_writer.h"

namespace rt {

namespace {
// Splits one CSV line (RFC 4180 quoting within the line: "a,b" and "" for a quote).
std::vector<std::string> split(const std::string& line) {
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

std::optional<double> number(const std::string& text) {
  size_t begin = text.find_first_not_of(" \t"), end = text.find_last_not_of(" \t");
  if (begin == std::string::npos) return std::nullopt;
  double value = 0;
  const auto [at, error] = std::from_chars(text.data() + begin, text.data() + end + 1, value);
  if (error != std::errc() || at != text.data() + end + 1 || !std::isfinite(value)) return std::nullopt;
  return value;
}

std::string trimmed(const std::string& text) {
  const size_t begin = text.find_first_not_of(" \t"), end = text.find_last_not_of(" \t");
  return begin == std::string::npos ? std::string() : text.substr(begin, end - begin + 1);
}

// A non-negative integer class id (within int32), or none.
std::optional<int64_t> class_id(const std::string& text) {
  int64_t value = -1;
  const auto [at, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || at != text.data() + text.size() || value < 0 || value > INT32_MAX) return std::nullopt;
  return value;
}

// Bounds the first pass's set of names (a label column of real numbers is not classes).
constexpr size_t kMostClassNames = 100000;

// The column index of `name` in `header`, or an error naming the file.
size_t column(const std::vector<std::string>& header, const std::string& name, const std::string& file) {
  auto found = std::find(header.begin(), header.end(), name);
  RT_CHECK(found != header.end(), "{}: no column '{}' in its header", file, name);
  return static_cast<size_t>(found - header.begin());
}

// Reads every data row of the files, calling row(file, line number, fields) for each; checks
// that every header is the first one.
template <typename Row>
void for_each_row(const CsvConversion& conversion, std::vector<std::string>& header, Row row) {
  for (const std::string& file : conversion.files) {
    std::ifstream in(file);
    RT_CHECK(in.good(), "cannot read {}", file);
    std::string line;
    RT_CHECK(static_cast<bool>(std::getline(in, line)), "{} is empty: a CSV file needs a header line", file);
    const std::vector<std::string> this_header = split(line);
    if (header.empty()) header = this_header;
    RT_CHECK(this_header == header, "{}: its header differs from {}'s", file, conversion.files.front());
    for (int64_t number = 2; std::getline(in, line); ++number) {
      if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
      row(file, number, split(line));
    }
  }
}
}  // namespace

CsvShards convert_csv_to_shards(const CsvConversion& conversion) {
  RT_CHECK(!conversion.files.empty(), "no CSV file to convert");
  // The columns, from the first file's header.
  std::vector<std::string> header;
  {
    std::ifstream in(conversion.files.front());
    RT_CHECK(in.good(), "cannot read {}", conversion.files.front());
    std::string line;
    RT_CHECK(static_cast<bool>(std::getline(in, line)), "{} is empty: a CSV file needs a header line",
             conversion.files.front());
    header = split(line);
  }
  const size_t label = column(header, conversion.label, conversion.files.front());
  std::vector<size_t> features;
  if (conversion.features.empty()) {
    for (size_t c = 0; c < header.size(); ++c) {
      if (c != label) features.push_back(c);
    }
  } else {
    for (const std::string& name : conversion.features) features.push_back(column(header, name, conversion.files.front()));
  }
  RT_CHECK(!features.empty(), "{}: no feature column beside the label '{}'", conversion.files.front(), conversion.label);
  const int64_t width = static_cast<int64_t>(features.size());

  // A row's features, or the reason it is bad ("" when good).
  auto parse_features = [&](const std::string& file, int64_t line, const std::vector<std::string>& fields,
                            std::vector<float>& values) -> std::string {
    if (fields.size() != header.size()) {
      return fmt::format("{}, line {}: {} fields where the header has {}", file, line, fields.size(), header.size());
    }
    for (size_t f = 0; f < features.size(); ++f) {
      const std::optional<double> x = number(fields[features[f]]);
      if (!x) {
        return fmt::format("{}, line {}, column '{}': '{}' is not a number", file, line, header[features[f]],
                           fields[features[f]]);
      }
      values[f] = static_cast<float>(*x);
    }
    if (trimmed(fields[label]).empty()) {
      return fmt::format("{}, line {}, column '{}': the label is missing", file, line, header[label]);
    }
    return "";
  };

  // The classes: as given, or from a first pass over the labels (the bad rows the same both times).
  std::vector<std::string> names = conversion.class_names;
  int64_t classes = conversion.classes;
  bool mixed_labels = false;
  if (!names.empty()) {
    RT_CHECK(classes <= 0 || classes == static_cast<int64_t>(names.size()), "{} class names for --classes {}",
             names.size(), classes);
    classes = static_cast<int64_t>(names.size());
  } else if (classes <= 0) {
    std::set<std::string> found;  // the labels that are not class ids
    int64_t largest = -1, ids = 0, others = 0;
    std::vector<float> values(features.size());
    for_each_row(conversion, header, [&](const std::string& file, int64_t line, const std::vector<std::string>& fields) {
      const std::string bad = parse_features(file, line, fields, values);
      RT_CHECK(bad.empty() || conversion.skip_bad_rows, "{}", bad);
      if (!bad.empty()) return;
      const std::string text = trimmed(fields[label]);
      if (const std::optional<int64_t> id = class_id(text)) {
        largest = std::max(largest, *id);
        ++ids;
        return;
      }
      ++others;
      found.insert(text);
      RT_CHECK(found.size() <= kMostClassNames, "{}: more than {} distinct labels in column '{}': not classes", file,
               kMostClassNames, header[label]);
    });
    RT_CHECK(ids + others > 0, "{}: no row to convert", conversion.files.front());
    // Ids where any label is one (the others are then bad rows), names where none is.
    mixed_labels = ids > 0 && others > 0;
    if (ids > 0) {
      classes = largest + 1;
    } else {
      names.assign(found.begin(), found.end());
      classes = static_cast<int64_t>(names.size());
    }
  }
  std::map<std::string, int32_t> ids;
  for (size_t i = 0; i < names.size(); ++i) ids[names[i]] = static_cast<int32_t>(i);
  RT_CHECK(ids.size() == names.size(), "the class names repeat a name");
  // A row's class id, or the reason it is bad.
  auto parse_label = [&](const std::string& file, int64_t line, const std::string& field, int32_t& id) -> std::string {
    const std::string text = trimmed(field);
    if (!names.empty()) {
      auto found = ids.find(text);
      if (found == ids.end()) {
        return fmt::format("{}, line {}, column '{}': '{}' is not one of the {} class names", file, line,
                           header[label], text, names.size());
      }
      id = found->second;
      return "";
    }
    const std::optional<int64_t> value = class_id(text);
    if (!value || *value >= classes) {
      return fmt::format("{}, line {}, column '{}': '{}' is not a class id in [0, {}){}", file, line, header[label],
                         field, classes,
                         mixed_labels ? " (the column holds ids and other labels: for class names, give --class-names)"
                                      : "");
    }
    id = static_cast<int32_t>(*value);
    return "";
  };

  std::error_code error;
  std::filesystem::create_directories(conversion.output_dir, error);
  RT_CHECK(!error, "cannot create {}: {}", conversion.output_dir, error.message());
  const int64_t rows_per_shard = std::max<int64_t>(1, conversion.target_bytes / (4 * width));
  std::vector<float> shard_features;
  std::vector<int32_t> shard_labels;
  CsvShards result;
  ShardManifest manifest;
  auto flush = [&] {
    if (shard_labels.empty()) return;
    ShardInfo info;
    info.path = fmt::format("{}/{}-{:05d}.h5", conversion.output_dir, conversion.name,
                            static_cast<int64_t>(manifest.paths().size()));
    info.samples = static_cast<int64_t>(shard_labels.size());
    info.feature_shape = {width};
    info.classes = classes;
    info.feature_dtype = DType::kFloat32;
    info.feature_scale = 1.0;
    info.class_names = names;
    write_shard(info, shard_features.data(), shard_labels.data());
    manifest.add(info.path, info.samples);
    shard_features.clear();
    shard_labels.clear();
  };
  std::vector<float> values(features.size());
  for_each_row(conversion, header, [&](const std::string& file, int64_t line, const std::vector<std::string>& fields) {
    int32_t class_id = 0;
    std::string bad = parse_features(file, line, fields, values);
    if (bad.empty()) bad = parse_label(file, line, fields[label], class_id);
    if (!bad.empty()) {
      RT_CHECK(conversion.skip_bad_rows, "{}", bad);
      ++result.skipped;
      return;
    }
    shard_features.insert(shard_features.end(), values.begin(), values.end());
    shard_labels.push_back(class_id);
    ++result.rows;
    if (static_cast<int64_t>(shard_labels.size()) == rows_per_shard) flush();
  });
  flush();
  RT_CHECK(result.rows > 0, "{}: no row to convert", conversion.files.front());
  manifest.write(conversion.output_dir, conversion.name);
  result.paths = manifest.paths();
  result.class_names = names;
  return result;
}

}  // namespace rt
