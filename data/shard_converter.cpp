#include "data/shard_converter.h"

#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "core/base/check.h"
#include "data/idx_file.h"
#include "data/shard_writer.h"

namespace rt {

std::vector<std::string> convert_idx_to_shards(const ShardConversion& conversion) {
  IdxArray images = read_idx_file(conversion.images);
  IdxArray labels = read_idx_file(conversion.labels);
  RT_CHECK(images.shape.size() == 3, "{}: expected images [count, rows, cols], got {} dimensions", conversion.images,
           images.shape.size());
  RT_CHECK(labels.shape.size() == 1, "{}: expected labels [count], got {} dimensions", conversion.labels,
           labels.shape.size());
  int64_t count = images.shape[0];
  RT_CHECK(labels.shape[0] == count, "{} holds {} images but {} holds {} labels", conversion.images, count,
           conversion.labels, labels.shape[0]);
  RT_CHECK(conversion.shards >= 1 && conversion.shards <= count, "cannot cut {} samples into {} shards", count,
           conversion.shards);

  std::error_code error;
  std::filesystem::create_directories(conversion.output_dir, error);
  RT_CHECK(!error, "cannot create {}: {}", conversion.output_dir, error.message());

  int64_t feature_size = images.shape[1] * images.shape[2];
  std::vector<int32_t> all_labels(labels.values.begin(), labels.values.end());
  std::vector<std::string> paths;
  nlohmann::json manifest = {{"format", "ringtrain-shard"}, {"format_version", 1}, {"shards", nlohmann::json::array()}};
  int64_t base = count / conversion.shards, extra = count % conversion.shards, first = 0;
  for (int64_t s = 0; s < conversion.shards; ++s) {
    ShardInfo info;
    info.path = fmt::format("{}/{}-{:05d}.h5", conversion.output_dir, conversion.name, s);
    info.samples = base + (s < extra ? 1 : 0);
    info.feature_shape = {images.shape[1], images.shape[2]};
    info.classes = conversion.classes;
    info.feature_dtype = DType::kUInt8;
    info.feature_scale = 1.0 / 255.0;
    write_shard(info, images.values.data() + first * feature_size, all_labels.data() + first);
    paths.push_back(info.path);
    manifest["shards"].push_back({{"file", std::filesystem::path(info.path).filename().string()},
                                  {"bytes", std::filesystem::file_size(info.path)},
                                  {"samples", info.samples}});
    first += info.samples;
  }
  manifest["total_samples"] = count;
  std::string manifest_path = fmt::format("{}/{}-manifest.json", conversion.output_dir, conversion.name);
  std::ofstream out(manifest_path, std::ios::trunc);
  out << manifest.dump(2) << '\n';
  RT_CHECK(out.good(), "cannot write {}", manifest_path);
  return paths;
}

}  // namespace rt
