// Converts NumPy arrays (data/npy_file.h, memory-mapped) into shards: features [count, ...] in any
// fixed-size numeric dtype, labels integer class ids [count] (or [count, 1]). uint8 features stay
// uint8 with feature_scale 1/255 (as images); any other dtype is stored as float32, scale 1.
// With conversion.regression, the labels are real numbers of any numeric dtype, stored as float32
// targets. The shards are row ranges fixed before any is written (data/shard_plan.h): the ranks of a job
// each convert their part, and a rerun with the same arguments converts only the missing ones.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "data/npy_file.h"
#include "data/shard_converter.h"
#include "data/shard_plan.h"

namespace rt {

class NpyShards {
 public:
  // Opens both arrays and reads the labels. Throws naming the array (conversion.images_name or
  // its path) where a dtype, rank or length is wrong, or where a label is not a whole number in
  // [0, classes) (classes 0: the largest label + 1). `inputs` names what the arrays come from for
  // the plan (an archive's path, size and time); empty: the two files themselves.
  NpyShards(const ShardConversion& conversion, const std::string& inputs = "");

  const ShardPlan& plan() const { return plan_; }
  int64_t rows() const { return features_->rows(); }
  int64_t input_bytes() const;

  // Converts the part's shards that are not yet complete; returns how many it wrote. Throws naming
  // the row of a NaN or infinite feature.
  int64_t convert_part(ConversionPart part) const;

 private:
  ShardConversion conversion_;
  std::unique_ptr<NpyFile> features_;
  std::unique_ptr<NpyFile> labels_;
  std::vector<int32_t> all_labels_;
  int64_t classes_ = 0;
  std::vector<int64_t> first_row_;  // per shard, and one more: rows()
  ShardPlan plan_;
};

}  // namespace rt
