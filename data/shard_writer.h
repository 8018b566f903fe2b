// Writes one shard (docs/shard-format.md). The file appears under its final name only once it is
// complete: it is written as NAME.partial and renamed.
#pragma once

#include <cstdint>

#include "data/shard_info.h"

namespace rt {

// `info` gives the header (path, samples, feature shape and dtype, classes, scale, task); `features`
// holds info.samples * info.feature_size() elements of info.feature_dtype, `labels` info.samples
// int32 class ids, or float32 targets where info.regression.
void write_shard(const ShardInfo& info, const void* features, const void* labels);

}  // namespace rt
