#include "data/loader.h"

#include <sys/vfs.h>

#include <algorithm>
#include <cstring>
#include <future>
#include <numeric>

#include "core/base/background_work.h"
#include "core/base/check.h"
#include "core/base/logging.h"
#include "core/base/random.h"
#include "data/shard_format.h"
#include "data/shard_reader.h"

namespace rt {

namespace {
// FUSE (blobfuse, rclone), NFS, SMB/CIFS: where each request pays a network's latency.
bool on_remote_file_system(const std::string& path) {
  struct statfs status {};
  if (statfs(path.c_str(), &status) != 0) return false;
  switch (static_cast<uint64_t>(status.f_type)) {
    case 0x65735546:  // FUSE
    case 0x6969:      // NFS
    case 0xfe534d42:  // SMB2
    case 0xff534d42:  // CIFS
      return true;
    default:
      return false;
  }
}
}  // namespace

Loader::Loader(ShardIndex index, LoaderOptions options) : index_(std::move(index)), options_(options) {
  RT_CHECK(options_.prefetch >= 1, "loader prefetch must be at least 1, not {}", options_.prefetch);
  RT_CHECK(options_.shuffle_window >= 1, "loader shuffle window must be at least 1, not {}", options_.shuffle_window);
  if (options_.prefetch_shards == LoaderOptions::kPrefetchAuto) {
    // Four shards fetched at once kept up with cat through a blob mount where two did not
    // (benchmarks/loader, docs/performance.md).
    options_.prefetch_shards = on_remote_file_system(index_.layout().path) ? 4 : 0;
  }
  RT_CHECK(options_.prefetch_shards >= 0, "loader prefetch_shards must be 0 or more, not {}", options_.prefetch_shards);
  feature_size_ = index_.layout().feature_size();
  feature_bytes_ = index_.layout().feature_bytes();
  // The plan of epoch 0 sets the batch count (the same for every epoch) and checks the sizes.
  RankPlan plan = plan_epoch(0);
  batches_per_epoch_ = plan.batches;
  hand_out_stored_ = options_.stored_features && index_.layout().feature_dtype == DType::kUInt8;

  for (int i = 0; i < options_.prefetch + 1; ++i) {
    auto slot = std::make_unique<Slot>();
    const size_t elements = static_cast<size_t>(options_.batch * feature_size_);
    if (hand_out_stored_) {
      slot->stored = HostArray<uint8_t>(elements, options_.allocator);
      slot->batch.stored = slot->stored.data();
      slot->batch.scale = static_cast<float>(index_.layout().feature_scale);
    } else {
      slot->features = HostArray<float>(elements, options_.allocator);
      slot->batch.features = slot->features.data();
    }
    slot->labels = HostArray<int32_t>(static_cast<size_t>(options_.batch), options_.allocator);
    slot->batch.labels = slot->labels.data();
    slot->batch.feature_size = feature_size_;
    slots_.push_back(std::move(slot));
  }
  int64_t window = std::min<int64_t>(options_.shuffle_window, std::max<int64_t>(plan.samples, 1));
  for (int w = 0; w < 2; ++w) {
    window_features_[w].resize(static_cast<size_t>(window * feature_bytes_));
    window_labels_[w].resize(static_cast<size_t>(window));
  }
  window_order_.resize(static_cast<size_t>(window));
}

Loader::~Loader() { stop(); }

void Loader::stop(bool cancel_read_ahead) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
    if (cancel_read_ahead) {
      cancel_read_ahead_ = true;
      if (reading_ahead_) reading_ahead_->cancel();
    }
  }
  changed_.notify_all();
  if (reader_.joinable()) reader_.join();
}

RankPlan Loader::plan_epoch(int64_t epoch) const {
  return options_.mode == LoaderMode::kTraining
             ? plan_training_epoch(index_.shard_sizes(), options_.seed, epoch, options_.rank, options_.size,
                                   options_.batch, options_.batches_per_step)
             : plan_evaluation(index_.shard_sizes(), options_.rank, options_.size, options_.batch);
}

std::unique_ptr<ShardPrefetcher> Loader::prefetch_plan(const RankPlan& plan, size_t first, int depth) const {
  std::vector<ShardInfo> shards;
  for (size_t s = first; s < plan.segments.size(); ++s) {
    const ShardInfo& shard = index_.shards()[plan.segments[s].shard];
    if (shards.empty() || shards.back().path != shard.path) shards.push_back(shard);
  }
  return std::make_unique<ShardPrefetcher>(std::move(shards),
                                           PrefetchOptions{depth, options_.prefetch_bytes, options_.retries});
}

int Loader::first_window_shards(const RankPlan& plan) const {
  const int64_t window = static_cast<int64_t>(window_order_.size());
  int shards = 0;
  int64_t rows = 0;
  for (size_t s = 0; s < plan.segments.size() && rows < window; ++s) {
    if (s == 0 || plan.segments[s].shard != plan.segments[s - 1].shard) ++shards;
    rows += plan.segments[s].count;
  }
  return shards;
}

bool Loader::window_read_ahead() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return ahead_ != nullptr;
}

int64_t Loader::shards_fetched_ahead() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return ahead_ && ahead_->source->prefetcher ? ahead_->source->prefetcher->fetched() : 0;
}

void Loader::start_epoch(int64_t epoch, int64_t first_batch) {
  // The producer of `running_epoch_` reads the first window of the epoch after it (an evaluation:
  // of the same plan again): wanted only by a start of that epoch from its first batch, and then
  // waited for; any other start cuts that read short and drops what it read.
  const bool wants_window_ahead =
      first_batch == 0 && (options_.mode == LoaderMode::kEvaluation || epoch == running_epoch_ + 1);
  stop(!wants_window_ahead);
  RT_CHECK(first_batch >= 0 && first_batch <= batches_per_epoch_, "cannot start epoch {} at batch {} of {}", epoch,
           first_batch, batches_per_epoch_);
  std::unique_ptr<WindowAhead> ahead;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (wants_window_ahead) ahead = std::move(ahead_);
    ahead_.reset();  // read for another start: its shards leave the budget
  }
  free_.clear();
  ready_.clear();
  for (auto& slot : slots_) free_.push_back(slot.get());
  held_ = nullptr;
  failure_ = nullptr;
  stopping_ = false;
  producing_ = true;
  cancel_read_ahead_ = false;
  running_epoch_ = epoch;
  const int64_t skip_samples = first_batch * options_.batch;
  reader_ = std::thread([this, epoch, skip_samples, ahead = std::move(ahead)]() mutable {
    run_as_background_work();
    try {
      produce(epoch, skip_samples, std::move(ahead));
    } catch (...) {
      std::lock_guard<std::mutex> lock(mutex_);
      failure_ = std::current_exception();
    }
    {
      std::lock_guard<std::mutex> lock(mutex_);
      producing_ = false;
    }
    changed_.notify_all();
  });
}

const Batch* Loader::next() {
  std::unique_lock<std::mutex> lock(mutex_);
  if (held_) {
    free_.push_back(held_);
    held_ = nullptr;
    // The producer, waiting for a free slot, is woken once half of them are free rather than at
    // every batch (a wake-up on the trainer's thread and a sleep on the producer's for each); and
    // whenever no batch is ready, so that the wait below always has one coming.
    if (2 * free_.size() >= slots_.size() || ready_.empty()) changed_.notify_all();
  }
  changed_.wait(lock, [this] { return !ready_.empty() || !producing_; });
  if (!ready_.empty()) {
    held_ = ready_.front();
    ready_.pop_front();
    return &held_->batch;
  }
  if (failure_) {
    std::exception_ptr failure = failure_;
    failure_ = nullptr;
    std::rethrow_exception(failure);
  }
  return nullptr;
}

std::string Loader::reading_shard() const {
  std::lock_guard<std::mutex> reading(reading_mutex_);
  return reading_shard_;
}

int64_t Loader::buffer_bytes() const {
  int64_t bytes = 0;
  for (int w = 0; w < 2; ++w) {
    bytes += static_cast<int64_t>(window_features_[w].size() + window_labels_[w].size() * sizeof(int32_t));
  }
  bytes += static_cast<int64_t>(window_order_.size() * sizeof(uint32_t));
  for (const auto& slot : slots_) {
    bytes += static_cast<int64_t>(slot->features.size() * sizeof(float) + slot->stored.size() +
                                  slot->labels.size() * sizeof(int32_t));
  }
  return bytes;
}

Loader::Slot* Loader::take_free_slot() {
  std::unique_lock<std::mutex> lock(mutex_);
  changed_.wait(lock, [this] { return !free_.empty() || stopping_; });
  if (stopping_) return nullptr;
  Slot* slot = free_.front();
  free_.pop_front();
  return slot;
}

void Loader::publish(Slot* slot) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    ready_.push_back(slot);
  }
  changed_.notify_all();
}

void Loader::fill_batches(const uint8_t* raw, const int32_t* labels, const uint32_t* order, int64_t count,
                          Slot*& slot, int64_t& filled) {
  const float scale = static_cast<float>(index_.layout().feature_scale);
  const bool bytes = index_.layout().feature_dtype == DType::kUInt8;
  for (int64_t i = 0; i < count; ++i) {
    if (!slot) {
      slot = take_free_slot();
      if (!slot) return;
      filled = 0;
    }
    uint32_t row = order[i];
    const uint8_t* in = raw + row * feature_bytes_;
    if (hand_out_stored_) {
      std::memcpy(slot->stored.data() + filled * feature_size_, in, static_cast<size_t>(feature_bytes_));
    } else if (bytes) {
      float* out = slot->features.data() + filled * feature_size_;
      for (int64_t f = 0; f < feature_size_; ++f) out[f] = static_cast<float>(in[f]) * scale;
    } else {
      float* out = slot->features.data() + filled * feature_size_;
      std::memcpy(out, in, static_cast<size_t>(feature_bytes_));
      if (scale != 1.0f) {
        for (int64_t f = 0; f < feature_size_; ++f) out[f] *= scale;
      }
    }
    slot->labels[filled] = labels[row];
    if (++filled == options_.batch) {
      slot->batch.rows = filled;
      publish(slot);
      slot = nullptr;
    }
  }
}

}  // namespace rt
