#include "data/epoch_plan.h"

#include <numeric>

#include "core/base/check.h"
#include "core/base/random.h"

namespace rt {

namespace {

// Segments covering positions [begin, end) of the concatenation of `order`'s shards.
std::vector<ShardSegment> slice(const std::vector<int64_t>& shard_sizes, const std::vector<int32_t>& order,
                                int64_t begin, int64_t end) {
  std::vector<ShardSegment> segments;
  int64_t position = 0;
  for (int32_t shard : order) {
    int64_t shard_begin = position, shard_end = position + shard_sizes[shard];
    position = shard_end;
    int64_t from = std::max(begin, shard_begin), to = std::min(end, shard_end);
    if (from < to) segments.push_back({shard, from - shard_begin, to - from});
    if (position >= end) break;
  }
  return segments;
}

int64_t total(const std::vector<int64_t>& shard_sizes) {
  int64_t sum = 0;
  for (int64_t size : shard_sizes) {
    RT_CHECK(size >= 0, "a shard has a negative size {}", size);
    sum += size;
  }
  return sum;
}

void check_job(int rank, int size, int64_t local_batch) {
  RT_CHECK(size >= 1 && rank >= 0 && rank < size, "rank {} of {} is not a valid placement", rank, size);
  RT_CHECK(local_batch >= 1, "the batch per rank must be at least 1, not {}", local_batch);
}

}  // namespace

RankPlan plan_training_epoch(const std::vector<int64_t>& shard_sizes, uint64_t seed, int64_t epoch, int rank,
                             int size, int64_t local_batch, int64_t batches_per_step) {
  check_job(rank, size, local_batch);
  RT_CHECK(batches_per_step >= 1, "batches per step must be at least 1, not {}", batches_per_step);
  int64_t samples = total(shard_sizes);
  int64_t global_batch = local_batch * size * batches_per_step;
  RankPlan plan;
  plan.batches = samples / global_batch * batches_per_step;
  RT_CHECK(plan.batches > 0, "the training data holds {} samples, fewer than one global batch of {}", samples,
           global_batch);
  plan.samples = plan.batches * local_batch;

  std::vector<int32_t> order(shard_sizes.size());
  std::iota(order.begin(), order.end(), 0);
  Rng rng(seed, 0x5348415244ULL + static_cast<uint64_t>(epoch));
  rng.shuffle(order.data(), order.size());
  int64_t begin = rank * plan.samples;
  plan.segments = slice(shard_sizes, order, begin, begin + plan.samples);
  return plan;
}

RankPlan plan_evaluation(const std::vector<int64_t>& shard_sizes, int rank, int size, int64_t local_batch) {
  check_job(rank, size, local_batch);
  int64_t samples = total(shard_sizes);
  int64_t base = samples / size, extra = samples % size;
  int64_t begin = rank * base + std::min<int64_t>(rank, extra);
  RankPlan plan;
  plan.samples = base + (rank < extra ? 1 : 0);
  plan.batches = (plan.samples + local_batch - 1) / local_batch;
  std::vector<int32_t> order(shard_sizes.size());
  std::iota(order.begin(), order.end(), 0);
  plan.segments = slice(shard_sizes, order, begin, begin + plan.samples);
  return plan;
}

}  // namespace rt
