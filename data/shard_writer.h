// Writes one shard (docs/shard-format.md). The file appears under its final name only once it is
// complete: it is written as NAME.partial and renamed.
#pragma once

#include <cstdint>

#include "data/shard_info.h"

namespace rt {

// `info` gives the header (path, samples, feature shape and dtype, classes, scale); `features`
// holds info.samples * info.feature_size() elements of info.feature_dtype.
void write_shard(const ShardInfo& info, const void* features, const int32_t* labels);

}  // namespace rt
