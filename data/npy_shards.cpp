#include "data/npy_shards.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/base/check.h"
#include "data/shard_writer.h"

namespace rt {

namespace fs = std::filesystem;

namespace {
nlohmann::json file_identity(const std::string& path) {
  std::error_code error;
  const auto time = fs::last_write_time(path, error).time_since_epoch().count();
  return {{"path", path}, {"bytes", fs::file_size(path, error)}, {"time", time}};
}
}  // namespace

NpyShards::NpyShards(const ShardConversion& c, const std::string& inputs)
    : conversion_(c), plan_(c.output_dir, c.name, 1, "") {
  const std::string features_name = c.images_name.empty() ? c.images : c.images_name;
  const std::string labels_name = c.labels_name.empty() ? c.labels : c.labels_name;
  conversion_.images_name = features_name;
  features_ = std::make_unique<NpyFile>(c.images, features_name);
  labels_ = std::make_unique<NpyFile>(c.labels, labels_name);
  const NpyFile& features = *features_;
  const NpyFile& labels = *labels_;
  const int64_t count = features.rows();
  RT_CHECK(features.shape().size() >= 2, "{}: expected features [count, ...], got shape of {} dimension(s)",
           features_name, features.shape().size());
  RT_CHECK(labels.row_size() == 1 && labels.shape().size() <= 2, "{}: expected labels [count], got {} per row",
           labels_name, labels.row_size());
  RT_CHECK(c.regression || labels.kind() == 'i' || labels.kind() == 'u',
           "{}: labels must be integers, not dtype {} (for real-numbered targets: --task regression)", labels_name,
           labels.dtype());
  RT_CHECK(labels.rows() == count, "{} holds {} samples but {} holds {} labels", features_name, count, labels_name,
           labels.rows());
  RT_CHECK(count >= 1, "{} holds no samples", features_name);

  // The labels (a pass over the mapped file): whole numbers in range, and the class count.
  all_labels_.resize(static_cast<size_t>(count));
  classes_ = c.classes;
  std::vector<float> block(65536);
  int64_t largest = 0;
  for (int64_t first = 0; first < count; first += static_cast<int64_t>(block.size())) {
    const int64_t n = std::min<int64_t>(static_cast<int64_t>(block.size()), count - first);
    labels.read_rows(first, n, block.data());
    for (int64_t i = 0; i < n; ++i) {
      const float label = block[static_cast<size_t>(i)];
      if (c.regression) {
        RT_CHECK(std::isfinite(label), "{}, row {}: the target is {}", labels_name, first + i, label);
        std::memcpy(&all_labels_[static_cast<size_t>(first + i)], &label, sizeof label);
        continue;
      }
      RT_CHECK(label >= 0 && label < 2147483647.0f && label == static_cast<float>(static_cast<int64_t>(label)),
               "{}, row {}: label {} is not a class id (a whole number from 0)", labels_name, first + i, label);
      all_labels_[static_cast<size_t>(first + i)] = static_cast<int32_t>(label);
      largest = std::max<int64_t>(largest, static_cast<int64_t>(label));
    }
  }
  if (c.regression) {
    RT_CHECK(c.classes <= 0, "a regression's labels are values, not classes: no class count goes with it");
    classes_ = 1;
    largest = 0;
  }
  if (classes_ <= 0) classes_ = largest + 1;
  RT_CHECK(largest < classes_, "{}: label {} is outside the {} classes", labels_name, largest, classes_);

  const bool bytes = features.kind() == 'u' && features.item_bytes() == 1;
  const int64_t sample_bytes = features.row_size() * (bytes ? 1 : 4);
  RT_CHECK(c.shards >= 0 && c.shards <= count, "cannot cut {} samples into {} shards", count, c.shards);
  RT_CHECK(c.shards > 0 || c.target_bytes > 0, "a shard's target size must be positive, not {}", c.target_bytes);
  const int64_t per_shard = std::max<int64_t>(1, c.target_bytes / sample_bytes);
  const int64_t shards = c.shards > 0 ? c.shards : (count + per_shard - 1) / per_shard;
  const int64_t base = count / shards, extra = count % shards;
  for (int64_t s = 0, first = 0; s <= shards; ++s) {
    first_row_.push_back(first);
    first += base + (s < extra ? 1 : 0);
  }
  const nlohmann::json what = {
      {"converter", "npy"},
      {"inputs", inputs.empty() ? nlohmann::json::array({file_identity(c.images), file_identity(c.labels)})
                                : nlohmann::json(inputs)},
      {"name", c.name}, {"shards", shards}, {"classes", classes_}, {"regression", c.regression}};
  plan_ = ShardPlan(c.output_dir, c.name, shards, what.dump(2) + "\n");
}

int64_t NpyShards::input_bytes() const {
  std::error_code error;
  return static_cast<int64_t>(fs::file_size(conversion_.images, error) + fs::file_size(conversion_.labels, error));
}

int64_t NpyShards::convert_part(ConversionPart part) const {
  const NpyFile& features = *features_;
  const bool bytes = features.kind() == 'u' && features.item_bytes() == 1;
  std::vector<float> values;
  int64_t written = 0;
  for (int64_t s = 0; s < plan_.shards(); ++s) {
    if (!part.owns(s) || plan_.complete(s)) continue;
    const int64_t first = first_row_[static_cast<size_t>(s)];
    ShardInfo info;
    info.path = plan_.path(s);
    info.samples = first_row_[static_cast<size_t>(s) + 1] - first;
    info.feature_shape.assign(features.shape().begin() + 1, features.shape().end());
    info.classes = classes_;
    info.feature_dtype = bytes ? DType::kUInt8 : DType::kFloat32;
    info.feature_scale = bytes ? 1.0 / 255.0 : 1.0;
    info.regression = conversion_.regression;
    const void* stored = features.raw_rows(first);
    if (!bytes) {
      values.resize(static_cast<size_t>(info.samples * features.row_size()));
      features.read_rows(first, info.samples, values.data());
      for (size_t i = 0; i < values.size(); ++i) {
        RT_CHECK(std::isfinite(values[i]), "{}, row {}: a feature is {}", conversion_.images_name,
                 first + static_cast<int64_t>(i) / features.row_size(), values[i]);
      }
      stored = values.data();
    }
    write_shard(info, stored, all_labels_.data() + first);
    ++written;
  }
  return written;
}

}  // namespace rt
