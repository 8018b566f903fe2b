// What a shard's header says: its samples and how to read their features.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/base/dtype.h"

namespace rt {

struct ShardInfo {
  std::string path;
  int64_t samples = 0;
  std::vector<int64_t> feature_shape;  // per sample, e.g. {28, 28}
  int64_t classes = 0;
  DType feature_dtype = DType::kUInt8;  // as stored: uint8 or float32
  double feature_scale = 1.0;           // float feature = stored value * feature_scale
  int64_t file_bytes = 0;               // the file's size when it was opened
  std::vector<std::string> class_names; // by id; empty where the shard names no classes
  // Labels are float32 targets (num_classes 1), held in the same 4 bytes a class id takes in the
  // loader's label buffers; otherwise int32 class ids.
  bool regression = false;

  int64_t feature_size() const {
    int64_t size = 1;
    for (int64_t extent : feature_shape) size *= extent;
    return size;
  }
  int64_t feature_bytes() const { return feature_size() * static_cast<int64_t>(dtype_size(feature_dtype)); }
};

}  // namespace rt
