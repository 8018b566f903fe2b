#include "core/serving/prediction_rows.h"

#include <algorithm>

#include <nlohmann/json.hpp>

#include "core/base/check.h"

namespace rt {

RowWriter::RowWriter(const std::string& path, PredictionFormat format, const ModelDescription& model, int64_t top_k)
    : out_(path, std::ios::trunc | std::ios::binary), path_(path), format_(format), model_(model), top_k_(top_k) {
  RT_CHECK(out_.good(), "cannot write {}", path);
}

void RowWriter::write(const Scores& scores, int64_t first_row) {
  if (scores.regression) return write_values(scores, first_row);
  std::vector<int64_t> order(static_cast<size_t>(scores.classes));
  for (int64_t r = 0; r < scores.rows; ++r) {
    const float* p = scores.probabilities.data() + r * scores.classes;
    const int64_t predicted = scores.predicted[static_cast<size_t>(r)];
    line_.clear();
    if (format_ == PredictionFormat::kHdf5) {
      write_record(p, predicted, scores.classes, order);
      continue;
    }
    if (format_ == PredictionFormat::kCsv) {
      line_ += fmt::format("{},{}", first_row + r, predicted);
      if (!model_.class_names.empty()) line_ += "," + csv_field(model_.class_name(predicted));
    } else {
      line_ += fmt::format("{{\"row\":{},\"class\":{}", first_row + r, predicted);
      if (!model_.class_names.empty()) line_ += ",\"name\":" + nlohmann::json(model_.class_name(predicted)).dump();
    }
    if (top_k_ > 0) {
      for (int64_t c = 0; c < scores.classes; ++c) order[static_cast<size_t>(c)] = c;
      const int64_t k = std::min(top_k_, scores.classes);
      std::partial_sort(order.begin(), order.begin() + k, order.end(),
                        [p](int64_t a, int64_t b) { return p[a] > p[b] || (p[a] == p[b] && a < b); });
      if (format_ == PredictionFormat::kCsv) {
        for (int64_t i = 0; i < k; ++i) line_ += fmt::format(",{},{}", order[static_cast<size_t>(i)], p[order[static_cast<size_t>(i)]]);
      } else {
        line_ += ",\"top\":[";
        for (int64_t i = 0; i < k; ++i) {
          line_ += fmt::format("{}{{\"class\":{},\"probability\":{}}}", i ? "," : "", order[static_cast<size_t>(i)],
                               p[order[static_cast<size_t>(i)]]);
        }
        line_ += "]";
      }
    } else if (format_ == PredictionFormat::kCsv) {
      for (int64_t c = 0; c < scores.classes; ++c) line_ += fmt::format(",{}", p[c]);
    } else {
      line_ += ",\"probabilities\":[";
      for (int64_t c = 0; c < scores.classes; ++c) line_ += fmt::format("{}{}", c ? "," : "", p[c]);
      line_ += "]";
    }
    if (format_ == PredictionFormat::kJsonLines) line_ += "}";
    line_ += "\n";
    out_ << line_;
  }
  RT_CHECK(out_.good(), "cannot write {} (a full disk?)", path_);
}

// A regression's rows: each its predicted value (an HDF5 record: class 0, then the value).
void RowWriter::write_values(const Scores& scores, int64_t first_row) {
  for (int64_t r = 0; r < scores.rows; ++r) {
    const float value = scores.values[static_cast<size_t>(r)];
    if (format_ == PredictionFormat::kHdf5) {
      const int32_t none = 0;
      out_.write(reinterpret_cast<const char*>(&none), 4);
      out_.write(reinterpret_cast<const char*>(&value), 4);
    } else if (format_ == PredictionFormat::kCsv) {
      out_ << fmt::format("{},{}\n", first_row + r, value);
    } else {
      out_ << fmt::format("{{\"row\":{},\"value\":{}}}\n", first_row + r, value);
    }
  }
  RT_CHECK(out_.good(), "cannot write {} (a full disk?)", path_);
}

// A fixed-size binary record (prediction_hdf5.h) for rank 0 to gather into the HDF5 file.
void RowWriter::write_record(const float* p, int64_t predicted, int64_t classes, std::vector<int64_t>& order) {
  const int32_t predicted32 = static_cast<int32_t>(predicted);
  out_.write(reinterpret_cast<const char*>(&predicted32), 4);
  if (top_k_ == 0) {
    out_.write(reinterpret_cast<const char*>(p), static_cast<std::streamsize>(4 * classes));
    return;
  }
  for (int64_t c = 0; c < classes; ++c) order[static_cast<size_t>(c)] = c;
  const int64_t k = std::min(top_k_, classes);
  std::partial_sort(order.begin(), order.begin() + k, order.end(),
                    [p](int64_t a, int64_t b) { return p[a] > p[b] || (p[a] == p[b] && a < b); });
  for (int64_t i = 0; i < k; ++i) {
    const int32_t c = static_cast<int32_t>(order[static_cast<size_t>(i)]);
    out_.write(reinterpret_cast<const char*>(&c), 4);
  }
  for (int64_t i = 0; i < k; ++i) out_.write(reinterpret_cast<const char*>(&p[order[static_cast<size_t>(i)]]), 4);
}

// A gpt's generation for one prompt.
void RowWriter::write_text(int64_t row, const std::string& prompt, const std::string& text) {
  if (format_ == PredictionFormat::kCsv) {
    out_ << row << ',' << csv_field(prompt) << ',' << csv_field(text) << '\n';
  } else {
    out_ << nlohmann::json{{"row", row}, {"prompt", prompt}, {"text", text}}.dump(
                -1, ' ', false, nlohmann::json::error_handler_t::replace)
         << '\n';
  }
  RT_CHECK(out_.good(), "cannot write {} (a full disk?)", path_);
}

void RowWriter::close() {
  out_.close();
  RT_CHECK(!out_.fail(), "cannot write {} (a full disk?)", path_);
}

std::string RowWriter::csv_field(const std::string& text) {
  if (text.find_first_of(",\"\n\r") == std::string::npos) return text;
  std::string quoted = "\"";
  for (char c : text) quoted += c == '"' ? std::string("\"\"") : std::string(1, c);
  return quoted + "\"";
}

std::string prediction_csv_header(const ModelDescription& model, int64_t classes, int64_t top_k) {
  if (model.regression) return "row,value\n";
  std::string header = "row,class";
  if (!model.class_names.empty()) header += ",name";
  if (top_k > 0) {
    for (int64_t i = 1; i <= std::min(top_k, classes); ++i) header += fmt::format(",top{}_class,top{}_probability", i, i);
  } else {
    for (int64_t c = 0; c < classes; ++c) header += fmt::format(",p{}", c);
  }
  return header + "\n";
}

}  // namespace rt
