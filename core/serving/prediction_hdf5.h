// Predictions as HDF5 (`ringtrain predict ... --output FILE.h5`): each rank writes its rows as
// fixed-size binary records into a part file, and rank 0 joins the parts, block by block, into
//   class            int32 [rows]
//   probabilities    float32 [rows, classes]                  (without --top-k)
//   top_class        int32 [rows, k], top_probability float32 [rows, k]   (with --top-k k)
//   class_names      strings [classes]                        (where the model has them)
// or a regression model's
//   value            float32 [rows]
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/model_description.h"

namespace rt {

// One row's record: its class (int32), then with top_k > 0 the k classes (int32) and their
// probabilities (float32), else every class's probability (float32).
struct PredictionRecord {
  int64_t classes = 0;
  int64_t top_k = 0;  // > 0: the width of the top lists (at most `classes`)
  int64_t bytes() const { return 4 + (top_k > 0 ? 8 * top_k : 4 * classes); }
};

// Writes `output` (through OUTPUT.joining and a rename) from the parts, in order, `rows` in all.
void join_predictions_hdf5(const std::vector<std::string>& parts, int64_t rows, const PredictionRecord& record,
                           const ModelDescription& model, const std::string& output);

}  // namespace rt
