// Names and limits of the HDF5 shard format; docs/shard-format.md describes it in full.
#pragma once

#include <cstdint>

namespace rt::shard_format {

constexpr const char* kFormatName = "ringtrain-shard";
constexpr int64_t kVersion = 1;

// Datasets.
constexpr const char* kFeatures = "features";  // [samples, feature_shape...], uint8 or float32
constexpr const char* kLabels = "labels";      // [samples], int32 in [0, num_classes); a regression's float32

// Attributes of the root group.
constexpr const char* kAttrFormat = "format";                // string, kFormatName
constexpr const char* kAttrVersion = "format_version";       // int64
constexpr const char* kAttrSamples = "num_samples";          // int64
constexpr const char* kAttrFeatureShape = "feature_shape";   // int64[rank]
constexpr const char* kAttrClasses = "num_classes";          // int64
constexpr const char* kAttrFeatureScale = "feature_scale";   // float64: float feature = stored * scale
// Optional: "regression" where the labels are float32 targets (num_classes is then 1, the model's
// one output); absent, or "classification": int32 class ids.
constexpr const char* kAttrTask = "task";
constexpr const char* kTaskRegression = "regression";
// Optional: a fixed-length string, the JSON array of the num_classes class names in id order.
constexpr const char* kAttrClassNames = "class_names";

constexpr int64_t kChunkSamples = 1024;  // rows per HDF5 chunk

}  // namespace rt::shard_format
