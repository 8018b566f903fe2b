#include "data/csv_shards.h"

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/base/check.h"
#include "data/csv_fields.h"
#include "data/shard_writer.h"

namespace rt {

namespace fs = std::filesystem;

namespace {
// Bounds the first pass's set of names (a label column of real numbers is not classes).
constexpr size_t kMostClassNames = 100000;

std::string header_of(const std::string& file) {
  std::ifstream in(file, std::ios::binary);
  RT_CHECK(in.good(), "cannot read {}", file);
  std::string line;
  RT_CHECK(static_cast<bool>(std::getline(in, line)), "{} is empty: a CSV file needs a header line", file);
  return line;
}

// The column index of `name` in `header`, or an error naming the file.
size_t column(const std::vector<std::string>& header, const std::string& name, const std::string& file) {
  auto found = std::find(header.begin(), header.end(), name);
  RT_CHECK(found != header.end(), "{}: no column '{}' in its header", file, name);
  return static_cast<size_t>(found - header.begin());
}

// The line number of the line that starts at byte `offset` (counted only for an error message).
int64_t line_number(const std::string& file, int64_t offset) {
  std::ifstream in(file, std::ios::binary);
  std::vector<char> block(1 << 16);
  int64_t line = 1;
  for (int64_t read = 0; read < offset && in;) {
    in.read(block.data(), std::min<int64_t>(static_cast<int64_t>(block.size()), offset - read));
    const std::streamsize got = in.gcount();
    line += std::count(block.data(), block.data() + got, '\n');
    read += got;
    if (got == 0) break;
  }
  return line;
}

// Calls row(offset, fields) for every non-blank line that starts in the piece (the first file's
// header excepted), `offset` being where the line starts.
template <typename Row>
void for_each_row(const CsvConversion& c, const CsvPiece& piece, Row row) {
  const std::string& file = c.files[piece.file];
  std::ifstream in(file, std::ios::binary);
  RT_CHECK(in.good(), "cannot read {}", file);
  std::string line;
  int64_t at = piece.begin;
  if (piece.begin == 0) {
    std::getline(in, line);  // the header
    at = static_cast<int64_t>(line.size()) + 1;
  } else {
    // A line that began before the piece is the previous piece's.
    in.seekg(piece.begin - 1);
    char previous = '\n';
    in.get(previous);
    if (previous != '\n' && std::getline(in, line)) at += static_cast<int64_t>(line.size()) + 1;
  }
  std::vector<std::string> fields;
  while (at < piece.end && std::getline(in, line)) {
    const int64_t start = at;
    at += static_cast<int64_t>(line.size()) + 1;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    split_csv_line(line, fields);
    row(start, fields);
  }
  RT_CHECK(!in.bad(), "cannot read {}", file);
}

// What is wrong with a row's fields and features ("" when nothing), filling `values`.
std::string bad_features(const CsvPlan& plan, const std::vector<std::string>& fields, std::vector<float>& values) {
  if (fields.size() != plan.header.size()) {
    return fmt::format("{} fields where the header has {}", fields.size(), plan.header.size());
  }
  for (size_t f = 0; f < plan.feature_columns.size(); ++f) {
    const std::string& field = fields[plan.feature_columns[f]];
    const std::optional<double> x = csv_number(field);
    if (!x) return fmt::format("column '{}': '{}' is not a number", plan.header[plan.feature_columns[f]], field);
    values[f] = static_cast<float>(*x);
  }
  if (trimmed(fields[plan.label_column]).empty()) {
    return fmt::format("column '{}': the label is missing", plan.header[plan.label_column]);
  }
  return "";
}

std::string identity(const CsvConversion& c, const CsvPlan& plan) {
  nlohmann::json files = nlohmann::json::array();
  for (const std::string& file : c.files) {
    std::error_code error;
    const auto time = fs::last_write_time(file, error).time_since_epoch().count();
    files.push_back({{"path", file}, {"bytes", fs::file_size(file, error)}, {"time", time}});
  }
  const nlohmann::json what = {{"converter", "csv"}, {"files", files}, {"label", c.label},
                               {"features", c.features}, {"name", c.name}, {"target_bytes", c.target_bytes},
                               {"classes", c.classes}, {"class_names", c.class_names},
                               {"skip_bad_rows", c.skip_bad_rows}, {"regression", c.regression},
                               {"shards", plan.pieces.size()}};
  return what.dump(2) + "\n";
}
}  // namespace

CsvPlan plan_csv(const CsvConversion& c) {
  RT_CHECK(!c.files.empty(), "no CSV file to convert");
  RT_CHECK(c.target_bytes > 0, "a shard's target size must be positive, not {}", c.target_bytes);
  CsvPlan plan{split_csv_line(header_of(c.files.front())), 0, {}, {}, 0, ShardPlan(c.output_dir, c.name, 1, "")};
  const std::string& first = c.files.front();
  plan.label_column = column(plan.header, c.label, first);
  if (c.features.empty()) {
    for (size_t i = 0; i < plan.header.size(); ++i) {
      if (i != plan.label_column) plan.feature_columns.push_back(i);
    }
  } else {
    for (const std::string& name : c.features) plan.feature_columns.push_back(column(plan.header, name, first));
  }
  RT_CHECK(!plan.feature_columns.empty(), "{}: no feature column beside the label '{}'", first, c.label);
  for (size_t f = 0; f < c.files.size(); ++f) {
    RT_CHECK(split_csv_line(header_of(c.files[f])) == plan.header, "{}: its header differs from {}'s", c.files[f],
             first);
    std::error_code error;
    const auto size = static_cast<int64_t>(fs::file_size(c.files[f], error));
    RT_CHECK(!error, "cannot read {}: {}", c.files[f], error.message());
    plan.input_bytes += size;
    const int64_t pieces = std::max<int64_t>(1, (size + c.target_bytes - 1) / c.target_bytes);
    for (int64_t p = 0; p < pieces; ++p) plan.pieces.push_back({f, size * p / pieces, size * (p + 1) / pieces});
  }
  plan.shards = ShardPlan(c.output_dir, c.name, static_cast<int64_t>(plan.pieces.size()), identity(c, plan));
  return plan;
}

std::string CsvLabels::to_json() const {
  return nlohmann::json{{"largest_id", largest_id}, {"ids", ids}, {"others", others}, {"names", names}}.dump();
}

CsvLabels CsvLabels::from_json(const std::string& text) {
  const nlohmann::json j = nlohmann::json::parse(text);
  CsvLabels labels;
  labels.largest_id = j.at("largest_id").get<int64_t>();
  labels.ids = j.at("ids").get<int64_t>();
  labels.others = j.at("others").get<int64_t>();
  labels.names = j.at("names").get<std::set<std::string>>();
  return labels;
}

void CsvLabels::add(const CsvLabels& other) {
  largest_id = std::max(largest_id, other.largest_id);
  ids += other.ids;
  others += other.others;
  names.insert(other.names.begin(), other.names.end());
}

bool csv_needs_label_survey(const CsvConversion& c) {
  return !c.regression && c.class_names.empty() && c.classes <= 0;
}

CsvLabels survey_csv_labels(const CsvConversion& c, const CsvPlan& plan, ConversionPart part) {
  CsvLabels labels;
  std::vector<float> values(plan.feature_columns.size());
  for (size_t s = 0; s < plan.pieces.size(); ++s) {
    if (!part.owns(static_cast<int64_t>(s))) continue;
    const CsvPiece& piece = plan.pieces[s];
    const std::string& file = c.files[piece.file];
    for_each_row(c, piece, [&](int64_t offset, const std::vector<std::string>& fields) {
      const std::string bad = bad_features(plan, fields, values);
      if (!bad.empty()) {
        RT_CHECK(c.skip_bad_rows, "{}, line {}, {}", file, line_number(file, offset), bad);
        return;
      }
      const std::string text = trimmed(fields[plan.label_column]);
      if (const std::optional<int64_t> id = csv_class_id(text)) {
        labels.largest_id = std::max(labels.largest_id, *id);
        ++labels.ids;
        return;
      }
      ++labels.others;
      labels.names.insert(text);
      RT_CHECK(labels.names.size() <= kMostClassNames, "{}: more than {} distinct labels in column '{}': not classes",
               file, kMostClassNames, plan.header[plan.label_column]);
    });
  }
  return labels;
}

CsvClasses csv_classes(const CsvConversion& c, const CsvLabels& survey) {
  CsvClasses classes{c.classes, c.class_names, false};
  if (c.regression) {
    RT_CHECK(c.class_names.empty() && c.classes <= 0, "a regression's labels are values, not classes: no class "
             "names or class count go with it");
    return {1, {}, false};
  }
  if (!classes.names.empty()) {
    RT_CHECK(c.classes <= 0 || c.classes == static_cast<int64_t>(classes.names.size()), "{} class names for --classes {}",
             classes.names.size(), c.classes);
    classes.classes = static_cast<int64_t>(classes.names.size());
  } else if (classes.classes <= 0) {
    RT_CHECK(survey.ids + survey.others > 0, "{}: no row to convert", c.files.front());
    RT_CHECK(survey.names.size() <= kMostClassNames, "more than {} distinct labels: not classes", kMostClassNames);
    // Ids where any label is one (the others are then bad rows), names where none is.
    classes.mixed_labels = survey.ids > 0 && survey.others > 0;
    if (survey.ids > 0) {
      classes.classes = survey.largest_id + 1;
    } else {
      classes.names.assign(survey.names.begin(), survey.names.end());
      classes.classes = static_cast<int64_t>(classes.names.size());
    }
  }
  std::set<std::string> distinct(classes.names.begin(), classes.names.end());
  RT_CHECK(distinct.size() == classes.names.size(), "the class names repeat a name");
  return classes;
}

CsvPart convert_csv_part(const CsvConversion& c, const CsvPlan& plan, const CsvClasses& classes, ConversionPart part) {
  std::map<std::string, int32_t> ids;
  for (size_t i = 0; i < classes.names.size(); ++i) ids[classes.names[i]] = static_cast<int32_t>(i);
  const std::string& label_name = plan.header[plan.label_column];
  // A row's class id (a regression's target, in its 4 bytes), or what is wrong with its label.
  auto bad_label = [&](const std::string& field, int32_t& id) -> std::string {
    const std::string text = trimmed(field);
    if (c.regression) {
      const std::optional<double> value = csv_number(text);
      if (!value) return fmt::format("column '{}': '{}' is not a number", label_name, field);
      const auto target = static_cast<float>(*value);
      std::memcpy(&id, &target, sizeof id);
      return "";
    }
    if (!classes.names.empty()) {
      auto found = ids.find(text);
      if (found == ids.end()) {
        return fmt::format("column '{}': '{}' is not one of the {} class names", label_name, text, classes.names.size());
      }
      id = found->second;
      return "";
    }
    const std::optional<int64_t> value = csv_class_id(text);
    if (!value || *value >= classes.classes) {
      return fmt::format("column '{}': '{}' is not a class id in [0, {}){}", label_name, field, classes.classes,
                         classes.mixed_labels
                             ? " (the column holds ids and other labels: for class names, give --class-names)"
                             : "");
    }
    id = static_cast<int32_t>(*value);
    return "";
  };

  const auto width = static_cast<int64_t>(plan.feature_columns.size());
  std::vector<float> features, values(plan.feature_columns.size());
  std::vector<int32_t> labels;
  CsvPart done;
  for (size_t s = 0; s < plan.pieces.size(); ++s) {
    if (!part.owns(static_cast<int64_t>(s)) || plan.shards.complete(static_cast<int64_t>(s))) continue;
    const CsvPiece& piece = plan.pieces[s];
    const std::string& file = c.files[piece.file];
    features.clear();
    labels.clear();
    for_each_row(c, piece, [&](int64_t offset, const std::vector<std::string>& fields) {
      int32_t id = 0;
      std::string bad = bad_features(plan, fields, values);
      if (bad.empty()) bad = bad_label(fields[plan.label_column], id);
      if (!bad.empty()) {
        RT_CHECK(c.skip_bad_rows, "{}, line {}, {}", file, line_number(file, offset), bad);
        ++done.skipped;
        return;
      }
      features.insert(features.end(), values.begin(), values.end());
      labels.push_back(id);
    });
    ShardInfo info;
    info.path = plan.shards.path(static_cast<int64_t>(s));
    info.samples = static_cast<int64_t>(labels.size());
    info.feature_shape = {width};
    info.classes = classes.classes;
    info.feature_dtype = DType::kFloat32;
    info.feature_scale = 1.0;
    info.class_names = classes.names;
    info.regression = c.regression;
    write_shard(info, features.data(), labels.data());
    ++done.shards_written;
    done.rows += info.samples;
  }
  return done;
}

}  // namespace rt
