#include "data/shard_manifest.h"

#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "core/base/check.h"

namespace rt {

void ShardManifest::add(const std::string& shard_path, int64_t samples) {
  entries_.push_back({std::filesystem::path(shard_path).filename().string(), std::filesystem::file_size(shard_path),
                      samples});
  paths_.push_back(shard_path);
  total_samples_ += samples;
}

void ShardManifest::write(const std::string& output_dir, const std::string& name) const {
  nlohmann::json shards = nlohmann::json::array();
  for (const Entry& entry : entries_) {
    shards.push_back({{"file", entry.file}, {"bytes", entry.bytes}, {"samples", entry.samples}});
  }
  nlohmann::json manifest = {{"format", "ringtrain-shard"},
                             {"format_version", 1},
                             {"shards", shards},
                             {"total_samples", total_samples_}};
  std::string path = fmt::format("{}/{}-manifest.json", output_dir, name);
  std::ofstream out(path, std::ios::trunc);
  out << manifest.dump(2) << '\n';
  RT_CHECK(out.good(), "cannot write {}", path);
}

}  // namespace rt
