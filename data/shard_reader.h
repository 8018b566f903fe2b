// Reads one shard. Opening checks the whole header (format, version, attributes, dataset types
// and shapes) so that a bad file is reported, by name, before any training step uses it.
#pragma once

#include <cstdint>
#include <string>

#include "data/hdf5_handle.h"
#include "data/shard_info.h"

namespace rt {

class ShardReader {
 public:
  explicit ShardReader(const std::string& path);

  const ShardInfo& info() const { return info_; }
  // Reads rows [first, first + count): features as stored (info().feature_dtype, feature_size()
  // elements per row) and labels, which are checked to lie in [0, classes).
  void read(int64_t first, int64_t count, void* features, int32_t* labels);

 private:
  ShardInfo info_;
  Hdf5Handle file_;
  Hdf5Handle features_;
  Hdf5Handle labels_;
};

}  // namespace rt
