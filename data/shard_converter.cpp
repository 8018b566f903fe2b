#include "data/shard_converter.h"

#include <algorithm>
#include <filesystem>

#include "core/base/check.h"
#include "data/idx_file.h"
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

}  // namespace rt
