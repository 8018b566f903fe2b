// The rows one rank of `ringtrain predict` scored, written as CSV or JSON lines (no header), or as
// fixed-size binary records (prediction_hdf5.h) for rank 0 to join into an HDF5 file.
#pragma once

#include <cstdint>
#include <fstream>
#include <string>
#include <vector>

#include "core/model_description.h"
#include "core/serving/predictor.h"

namespace rt {

enum class PredictionFormat { kCsv, kJsonLines, kHdf5 };

class RowWriter {
 public:
  RowWriter(const std::string& path, PredictionFormat format, const ModelDescription& model, int64_t top_k);
  // Each row's class (and name), then its probabilities or its top_k classes; a regression's value.
  void write(const Scores& scores, int64_t first_row);
  // A gpt's generation for one prompt.
  void write_text(int64_t row, const std::string& prompt, const std::string& text);
  void close();

 private:
  void write_values(const Scores& scores, int64_t first_row);
  void write_record(const float* p, int64_t predicted, int64_t classes, std::vector<int64_t>& order);
  static std::string csv_field(const std::string& text);
  std::ofstream out_;
  std::string path_;
  PredictionFormat format_;
  const ModelDescription& model_;
  int64_t top_k_;
  std::string line_;
};

// The CSV file's header line for a model's rows (`top_k` > 0: its top lists).
std::string prediction_csv_header(const ModelDescription& model, int64_t classes, int64_t top_k);

}  // namespace rt
