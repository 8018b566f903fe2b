// The shards of one directory (every *.h5 file, in name order), opened once to check that each is
// a valid shard and that all agree on feature shape, dtype, scale and class count.
#pragma once

#include <string>
#include <vector>

#include "data/shard_info.h"

namespace rt {

// What to do with a shard that fails its checks: stop the job (naming it), or leave it out with
// a warning. Every rank checks every shard's header alike, so every rank leaves out the same ones
// and batch counts stay equal.
enum class BadShardPolicy { kStop, kSkip };

class ShardIndex {
 public:
  // Throws naming the directory when it is missing or holds no (usable) shard, or, with kStop,
  // naming the first bad file.
  explicit ShardIndex(const std::string& directory, BadShardPolicy policy = BadShardPolicy::kStop);

  const std::string& directory() const { return directory_; }
  const std::vector<ShardInfo>& shards() const { return shards_; }
  // Files left out by BadShardPolicy::kSkip.
  const std::vector<std::string>& skipped() const { return skipped_; }
  std::vector<int64_t> shard_sizes() const;
  int64_t total_samples() const;
  // What every shard agrees on (the first shard's header).
  const ShardInfo& layout() const { return shards_.front(); }

 private:
  std::string directory_;
  std::vector<ShardInfo> shards_;
  std::vector<std::string> skipped_;
};

}  // namespace rt
