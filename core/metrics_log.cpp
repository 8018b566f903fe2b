#include "core/metrics_log.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <numeric>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/base/check.h"
#include "core/base/files.h"
#include "core/base/logging.h"

namespace rt {

namespace {
namespace fs = std::filesystem;

// A CSV column: the row's key, and for a per-rank list whether the cell is its mean or maximum.
struct Column {
  const char* name;
  const char* key;
  bool mean = false;
};
const Column kColumns[] = {
    {"kind", "kind"},
    {"time", "time"},
    {"epoch", "epoch"},
    {"first_step", "first_step"},
    {"step", "step"},
    {"loss", "loss"},
    {"accuracy", "accuracy"},
    {"test_loss", "test_loss"},
    {"test_accuracy", "test_accuracy"},
    {"r2", "r2"},
    {"test_r2", "test_r2"},
    {"lr", "lr"},
    {"samples_per_second", "samples_per_second"},
    {"tokens_per_second", "tokens_per_second"},
    {"step_ms", "step_ms"},
    {"step_ms_max", "step_ms_max"},
    {"data_wait_seconds_max", "data_wait_seconds"},
    {"gradient_wait_seconds_max", "gradient_wait_seconds"},
    {"cpu_percent_mean", "cpu_percent", true},
    {"memory_mb_max", "memory_mb"},
    {"superseded", "superseded"},
};

std::string cell(const nlohmann::json& value, bool mean) {
  if (value.is_null()) return "";
  if (value.is_array()) {
    if (value.empty()) return "";
    std::vector<double> numbers;
    for (const nlohmann::json& v : value) numbers.push_back(v.is_number() ? v.get<double>() : 0.0);
    const double result = mean ? std::accumulate(numbers.begin(), numbers.end(), 0.0) / static_cast<double>(numbers.size())
                               : *std::max_element(numbers.begin(), numbers.end());
    return fmt::format("{}", result);
  }
  if (value.is_string()) return value.get<std::string>();
  if (value.is_boolean()) return value.get<bool>() ? "true" : "false";
  if (value.is_number_integer()) return fmt::format("{}", value.get<int64_t>());
  if (value.is_number()) return fmt::format("{}", value.get<double>());
  return "";
}

}  // namespace

std::string metrics_csv_path(const std::string& path) {
  return fs::path(path).replace_extension(".csv").string();
}

std::vector<nlohmann::json> read_metrics(const std::string& path) {
  std::vector<nlohmann::json> rows;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    nlohmann::json row = nlohmann::json::parse(line, nullptr, false);
    if (row.is_discarded() || !row.is_object()) {
      if (in.peek() == std::ifstream::traits_type::eof()) break;  // torn last line
      RT_FAIL("{}: a line is not a JSON object: {}", path, line.substr(0, 80));
    }
    rows.push_back(std::move(row));
  }
  return rows;
}

std::string metrics_csv_header() {
  std::string header;
  for (const Column& column : kColumns) header += header.empty() ? column.name : fmt::format(",{}", column.name);
  return header;
}

std::string metrics_csv_line(const nlohmann::json& row) {
  std::string line;
  bool first = true;
  for (const Column& column : kColumns) {
    if (!first) line += ',';
    first = false;
    auto found = row.find(column.key);
    if (found != row.end()) line += cell(*found, column.mean);
  }
  return line;
}

void MetricsLog::open(const std::string& path, std::optional<int64_t> resumed_step) {
  path_ = path;
  if (path.empty()) return;
  csv_path_ = metrics_csv_path(path);
  std::error_code error;
  if (fs::path(path).has_parent_path()) fs::create_directories(fs::path(path).parent_path(), error);
  if (!resumed_step) {
    if (fs::exists(path) && fs::file_size(path, error) > 0) {
      fs::rename(path, path + ".previous", error);
      RT_CHECK(!error, "cannot keep the earlier metrics {} as {}.previous: {}", path, path, error.message());
      log_warning("{} held an earlier run's metrics; they are kept in {}.previous", path, path);
    }
    out_.open(path, std::ios::out | std::ios::trunc);
    csv_.open(csv_path_, std::ios::out | std::ios::trunc);
    csv_ << metrics_csv_header() << '\n';
  } else {
    // Mark what the resume repeats, and rewrite the CSV from the rows (it may lag the JSON lines).
    std::vector<nlohmann::json> rows = read_metrics(path);
    std::string text, csv = metrics_csv_header() + '\n';
    int64_t superseded = 0;
    for (nlohmann::json& row : rows) {
      if (row.value("step", int64_t{0}) > *resumed_step && !row.value("superseded", false)) {
        row["superseded"] = true;
        ++superseded;
      }
      text += row.dump() + '\n';
      csv += metrics_csv_line(row) + '\n';
    }
    replace_file(path, text);
    replace_file(csv_path_, csv);
    if (superseded > 0) {
      log_info("{}: {} row(s) past step {} marked superseded (the resumed run repeats those steps)", path, superseded,
               *resumed_step);
    }
    out_.open(path, std::ios::out | std::ios::app);
    csv_.open(csv_path_, std::ios::out | std::ios::app);
  }
  RT_CHECK(out_.good() && csv_.good(), "cannot write the metrics file {}", path);
}

void MetricsLog::write(const nlohmann::json& row) {
  if (path_.empty()) return;
  out_ << row.dump() << '\n';
  out_.flush();
  csv_ << metrics_csv_line(row) << '\n';
  csv_.flush();
  RT_CHECK(out_.good() && csv_.good(), "cannot write the metrics file {}", path_);
}

double r_squared(double squared_error, double sum, double sum_of_squares, double count) {
  const double total = count > 0 ? sum_of_squares - sum * sum / count : 0.0;
  return total > 0 ? 1.0 - squared_error / total : std::nan("");
}

std::string EpochMetrics::test_text() const {
  if (regression) return fmt::format("test mse {:.4g}, test R^2 {:.4f}", test_loss, test_r2);
  return fmt::format("test loss {:.4f}, test accuracy {:.2f}%", test_loss, 100 * test_accuracy);
}

}  // namespace rt
