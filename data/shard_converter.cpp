#include "data/shard_converter.h"

#include <algorithm>
#include <cmath>
#include <filesystem>

#include "core/base/check.h"
#include "data/idx_file.h"
#include "data/npy_file.h"
#include "data/shard_manifest.h"
#include "data/shard_writer.h"

namespace rt {

namespace {
// The number of shards a conversion cuts `count` samples of `sample_bytes` into.
int64_t shard_count(const ShardConversion& conversion, int64_t count, int64_t sample_bytes) {
  RT_CHECK(conversion.shards >= 0 && conversion.shards <= count, "cannot cut {} samples into {} shards", count,
           conversion.shards);
  RT_CHECK(conversion.shards > 0 || conversion.target_bytes > 0, "a shard's target size must be positive, not {}",
           conversion.target_bytes);
  if (conversion.shards > 0) return conversion.shards;
  const int64_t per_shard = std::max<int64_t>(1, conversion.target_bytes / std::max<int64_t>(1, sample_bytes));
  return (count + per_shard - 1) / per_shard;
}
}  // namespace

std::vector<std::string> convert_idx_to_shards(const ShardConversion& conversion) {
  IdxStream images(conversion.images);
  IdxStream labels(conversion.labels);
  RT_CHECK(images.shape().size() == 3, "{}: expected images [count, rows, cols], got {} dimensions", conversion.images,
           images.shape().size());
  RT_CHECK(labels.shape().size() == 1, "{}: expected labels [count], got {} dimensions", conversion.labels,
           labels.shape().size());
  const int64_t count = images.shape()[0];
  RT_CHECK(labels.shape()[0] == count, "{} holds {} images but {} holds {} labels", conversion.images, count,
           conversion.labels, labels.shape()[0]);
  RT_CHECK(count >= 1, "{} holds no images", conversion.images);
  const int64_t sample_bytes = images.item_bytes();
  const int64_t shards = shard_count(conversion, count, sample_bytes);

  std::error_code error;
  std::filesystem::create_directories(conversion.output_dir, error);
  RT_CHECK(!error, "cannot create {}: {}", conversion.output_dir, error.message());

  // One shard's samples at a time (the largest shard's worth of memory, reused).
  const int64_t base = count / shards, extra = count % shards;
  std::vector<uint8_t> features(static_cast<size_t>((base + (extra > 0 ? 1 : 0)) * sample_bytes));
  std::vector<uint8_t> label_bytes(static_cast<size_t>(base + (extra > 0 ? 1 : 0)));
  std::vector<int32_t> shard_labels(label_bytes.size());
  ShardManifest manifest;
  for (int64_t s = 0; s < shards; ++s) {
    ShardInfo info;
    info.path = fmt::format("{}/{}-{:05d}.h5", conversion.output_dir, conversion.name, s);
    info.samples = base + (s < extra ? 1 : 0);
    info.feature_shape = {images.shape()[1], images.shape()[2]};
    info.classes = conversion.classes;
    info.feature_dtype = DType::kUInt8;
    info.feature_scale = 1.0 / 255.0;
    images.read(info.samples, features.data());
    labels.read(info.samples, label_bytes.data());
    std::copy(label_bytes.begin(), label_bytes.begin() + info.samples, shard_labels.begin());
    write_shard(info, features.data(), shard_labels.data());
    manifest.add(info.path, info.samples);
  }
  manifest.write(conversion.output_dir, conversion.name);
  return manifest.paths();
}


std::vector<std::string> convert_npy_to_shards(const ShardConversion& conversion) {
  const std::string images_name = conversion.images_name.empty() ? conversion.images : conversion.images_name;
  const std::string labels_name = conversion.labels_name.empty() ? conversion.labels : conversion.labels_name;
  NpyFile features(conversion.images, images_name);
  NpyFile labels(conversion.labels, labels_name);
  const int64_t count = features.rows();
  RT_CHECK(features.shape().size() >= 2, "{}: expected features [count, ...], got shape of {} dimension(s)",
           images_name, features.shape().size());
  RT_CHECK(labels.row_size() == 1 && labels.shape().size() <= 2, "{}: expected labels [count], got {} per row",
           labels_name, labels.row_size());
  RT_CHECK(labels.kind() == 'i' || labels.kind() == 'u', "{}: labels must be integers, not dtype {}",
           labels_name, labels.dtype());
  RT_CHECK(labels.rows() == count, "{} holds {} samples but {} holds {} labels", images_name, count,
           labels_name, labels.rows());
  RT_CHECK(count >= 1, "{} holds no samples", images_name);

  // The labels first (a pass over the mapped file): whole numbers in range, and the class count.
  std::vector<int32_t> all_labels(static_cast<size_t>(count));
  int64_t classes = conversion.classes;
  {
    std::vector<float> block(65536);
    int64_t largest = 0;
    for (int64_t first = 0; first < count; first += static_cast<int64_t>(block.size())) {
      const int64_t n = std::min<int64_t>(static_cast<int64_t>(block.size()), count - first);
      labels.read_rows(first, n, block.data());
      for (int64_t i = 0; i < n; ++i) {
        const float label = block[static_cast<size_t>(i)];
        RT_CHECK(label >= 0 && label < 2147483647.0f && label == static_cast<float>(static_cast<int64_t>(label)),
                 "{}, row {}: label {} is not a class id (a whole number from 0)", labels_name, first + i, label);
        all_labels[static_cast<size_t>(first + i)] = static_cast<int32_t>(label);
        largest = std::max<int64_t>(largest, static_cast<int64_t>(label));
      }
    }
    if (classes <= 0) classes = largest + 1;
    RT_CHECK(largest < classes, "{}: label {} is outside the {} classes", labels_name, largest, classes);
  }
  const bool bytes = features.kind() == 'u' && features.item_bytes() == 1;
  const DType dtype = bytes ? DType::kUInt8 : DType::kFloat32;
  const int64_t sample_bytes = features.row_size() * static_cast<int64_t>(dtype_size(dtype));
  const int64_t shards = shard_count(conversion, count, sample_bytes);

  std::error_code error;
  std::filesystem::create_directories(conversion.output_dir, error);
  RT_CHECK(!error, "cannot create {}: {}", conversion.output_dir, error.message());
  const int64_t base = count / shards, extra = count % shards;
  std::vector<float> values(bytes ? 0 : static_cast<size_t>((base + 1) * features.row_size()));
  ShardManifest manifest;
  int64_t first = 0;
  for (int64_t s = 0; s < shards; ++s) {
    ShardInfo info;
    info.path = fmt::format("{}/{}-{:05d}.h5", conversion.output_dir, conversion.name, s);
    info.samples = base + (s < extra ? 1 : 0);
    info.feature_shape.assign(features.shape().begin() + 1, features.shape().end());
    info.classes = classes;
    info.feature_dtype = dtype;
    info.feature_scale = bytes ? 1.0 / 255.0 : 1.0;
    const void* stored = features.raw_rows(first);
    if (!bytes) {
      features.read_rows(first, info.samples, values.data());
      for (int64_t i = 0; i < info.samples * features.row_size(); ++i) {
        RT_CHECK(std::isfinite(values[static_cast<size_t>(i)]), "{}, row {}: a feature is {}", images_name,
                 first + i / features.row_size(), values[static_cast<size_t>(i)]);
      }
      stored = values.data();
    }
    write_shard(info, stored, all_labels.data() + first);
    manifest.add(info.path, info.samples);
    first += info.samples;
  }
  manifest.write(conversion.output_dir, conversion.name);
  return manifest.paths();
}

}  // namespace rt
