// OUTPUT_DIR/NAME-manifest.json, written after a converter's last shard: every shard's file name,
// size in bytes and sample count (what a loader or an upload can check against).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace rt {

class ShardManifest {
 public:
  void add(const std::string& shard_path, int64_t samples);
  void write(const std::string& output_dir, const std::string& name) const;
  const std::vector<std::string>& paths() const { return paths_; }
  int64_t total_samples() const { return total_samples_; }

 private:
  struct Entry {
    std::string file;
    uint64_t bytes;
    int64_t samples;
  };
  std::vector<Entry> entries_;
  std::vector<std::string> paths_;
  int64_t total_samples_ = 0;
};

}  // namespace rt
