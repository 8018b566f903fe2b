// The shards of one directory (every *.h5 file, in name order), opened once to check that each is
// a valid shard and that all agree on feature shape, dtype, scale and class count.
#pragma once

#include <string>
#include <vector>

#include "data/shard_info.h"

namespace rt {

// What to do with a shard that fails its checks: stop the job (naming it), or leave it out with
// a warning. Every rank checks every shard's header alike, so every rank leaves out the same ones
// and batch counts stay equal. Data found bad only when read (a chunk failing its checksum, past
// its retries) stops the job too, or with kSkip its rows are replaced by repeats of their
// window's good rows (the loader: the rank's batch count stays the same, and the replacement
// depends only on the data, so a resumed run makes the same one).
enum class BadShardPolicy { kStop, kSkip };

class ShardIndex {
 public:
  // Throws naming the directory when it is missing or holds no (usable) shard, or, with kStop,
  // naming the first bad file.
  explicit ShardIndex(const std::string& directory, BadShardPolicy policy = BadShardPolicy::kStop);

  const std::string& directory() const { return directory_; }
  BadShardPolicy policy() const { return policy_; }
  const std::vector<ShardInfo>& shards() const { return shards_; }
  // Files left out by BadShardPolicy::kSkip.
  const std::vector<std::string>& skipped() const { return skipped_; }
  std::vector<int64_t> shard_sizes() const;
  int64_t total_samples() const;
  // What every shard agrees on (the first shard's header).
  const ShardInfo& layout() const { return shards_.front(); }

 private:
  std::string directory_;
  BadShardPolicy policy_;
  std::vector<ShardInfo> shards_;
  std::vector<std::string> skipped_;
};

}  // namespace rt
