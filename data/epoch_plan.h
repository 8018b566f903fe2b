// Which samples each rank reads in an epoch. A pure function of the shard sizes, seed, epoch,
// rank and job size, so every rank computes every rank's plan alike without talking.
//
// Training: the shards are put in an order drawn from (seed, epoch) and concatenated; that
// sequence is cut into `batches` global batches (the remainder is dropped, a different one each
// epoch), and rank r reads the r-th contiguous block of batches * local_batch samples. Every rank
// therefore has exactly the same number of batches whatever the shard sizes, the ranks' samples
// are disjoint, and each rank reads long contiguous row ranges of few shards.
// Evaluation: shards in name order, every sample once; ranks get contiguous blocks that differ by
// at most one sample, and the last batch of a rank may be short.
#pragma once

#include <cstdint>
#include <vector>

namespace rt {

struct ShardSegment {
  int32_t shard = 0;  // index into the ShardIndex
  int64_t first = 0;  // first row in the shard
  int64_t count = 0;
};

struct RankPlan {
  std::vector<ShardSegment> segments;  // in reading order
  int64_t samples = 0;
  int64_t batches = 0;
};

// `batches_per_step` > 1 (gradient accumulation) keeps the batch count a multiple of it, and the
// samples of each rank those of local_batch * batches_per_step batches without accumulation.
RankPlan plan_training_epoch(const std::vector<int64_t>& shard_sizes, uint64_t seed, int64_t epoch, int rank,
                             int size, int64_t local_batch, int64_t batches_per_step = 1);
RankPlan plan_evaluation(const std::vector<int64_t>& shard_sizes, int rank, int size, int64_t local_batch);

}  // namespace rt
