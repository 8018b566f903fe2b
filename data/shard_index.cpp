#include "data/shard_index.h"

#include <algorithm>
#include <filesystem>

#include "core/base/check.h"
#include "core/base/logging.h"
#include "data/shard_reader.h"

namespace rt {

namespace {
// Throws unless `info` agrees with `first` on everything a batch depends on.
void check_same_layout(const ShardInfo& info, const ShardInfo& first) {
  RT_CHECK(info.regression == first.regression, "shard {} holds {} but {} holds {}", info.path,
           info.regression ? "regression targets" : "class labels", first.path,
           first.regression ? "regression targets" : "class labels");
  RT_CHECK(info.class_names == first.class_names, "shard {} names its classes differently from {} ({} against {})",
           info.path, first.path, fmt::join(info.class_names, ", "), fmt::join(first.class_names, ", "));
  RT_CHECK(info.feature_shape == first.feature_shape && info.feature_dtype == first.feature_dtype &&
               info.classes == first.classes && info.feature_scale == first.feature_scale,
           "shard {} does not match {}: features {} [{}] scale {}, {} classes against {} [{}] scale {}, {} classes",
           info.path, first.path, dtype_name(info.feature_dtype), fmt::join(info.feature_shape, ", "),
           info.feature_scale, info.classes, dtype_name(first.feature_dtype), fmt::join(first.feature_shape, ", "),
           first.feature_scale, first.classes);
}
}  // namespace

ShardIndex::ShardIndex(const std::string& directory, BadShardPolicy policy) : directory_(directory), policy_(policy) {
  namespace fs = std::filesystem;
  std::error_code error;
  RT_CHECK(fs::exists(directory, error), "data directory {} does not exist", directory);
  RT_CHECK(fs::is_directory(directory, error), "data directory {} is not a directory", directory);
  std::vector<std::string> paths;
  for (const fs::directory_entry& entry : fs::directory_iterator(directory, error)) {
    if (entry.path().extension() == ".h5") paths.push_back(entry.path().string());
  }
  RT_CHECK(!error, "cannot list data directory {}: {}", directory, error.message());
  RT_CHECK(!paths.empty(), "data directory {} holds no shards (*.h5 files)", directory);
  std::sort(paths.begin(), paths.end());

  for (const std::string& path : paths) {
    try {
      ShardInfo info = ShardReader(path).info();
      if (!shards_.empty()) check_same_layout(info, shards_.front());
      shards_.push_back(std::move(info));
    } catch (const Error& error) {
      if (policy == BadShardPolicy::kStop) throw;
      log_warning("leaving out bad shard {}: {}", path, error.what());
      skipped_.push_back(path);
    }
  }
  RT_CHECK(!shards_.empty(), "data directory {} holds no usable shard ({} left out as bad)", directory,
           skipped_.size());
}

std::vector<int64_t> ShardIndex::shard_sizes() const {
  std::vector<int64_t> sizes;
  for (const ShardInfo& shard : shards_) sizes.push_back(shard.samples);
  return sizes;
}

int64_t ShardIndex::total_samples() const {
  int64_t total = 0;
  for (const ShardInfo& shard : shards_) total += shard.samples;
  return total;
}

}  // namespace rt
