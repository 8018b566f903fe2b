// The per-rank loader: reads this rank's share of an epoch (epoch_plan.h) from its shards on a
// background thread, the next window read on a helper thread while the current one is used;
// shuffles within a bounded window, and hands out batches of float features and int32 labels from
// a fixed pool of buffers (from LoaderOptions::allocator: page-locked on a GPU run, so batches copy
// to the GPU asynchronously). After the first epoch only the helper thread of each window is made.
// Its threads run as background work (core/base/background_work.h): waking them never preempts
// the training thread.
//
// A batch returned by next() stays valid until the following next() or start_epoch(). An error on
// the reading thread (a bad shard, a failed read) is thrown by next(), naming the file.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
#include <future>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "core/base/host_memory.h"
#include "data/epoch_plan.h"
#include "data/shard_index.h"
#include "data/shard_prefetcher.h"
#include "data/shard_reader.h"

namespace rt {

enum class LoaderMode { kTraining, kEvaluation };

struct LoaderOptions {
  LoaderMode mode = LoaderMode::kTraining;
  int64_t batch = 64;             // samples per batch on this rank
  int64_t batches_per_step = 1;   // training: micro-batches per optimizer step (see plan_training_epoch)
  int rank = 0;
  int size = 1;
  uint64_t seed = 0;
  int64_t shuffle_window = 16384;  // samples held for shuffling (training)
  int prefetch = 4;               // batches read ahead
  ReadRetries retries;            // for reads that fail on a flaky mount
  // Whole shards read ahead in large sequential reads (shard_prefetcher.h): up to this many held
  // or in flight, within prefetch_bytes (one shard is always allowed). 0: the shard reader reads
  // the files, chunk by chunk as the windows need them. kPrefetchAuto: 4 where the shards are on a
  // FUSE (blob) or network file system, else 0 (from a local disk's page cache the chunk reads are
  // faster than whole files read ahead and then copied once more).
  static constexpr int kPrefetchAuto = -1;
  int prefetch_shards = kPrefetchAuto;
  int64_t prefetch_bytes = int64_t{1} << 30;
  HostAllocator allocator = plain_host_allocator();  // for the batch buffers (pinned on a GPU run)
  // For shards of uint8 features: hand out the stored bytes (Batch::stored) and leave the
  // conversion to float to the consumer, a GPU kernel (a quarter of the bytes to copy and none of
  // the conversion on the reading thread). Shards of float32 features ignore it.
  bool stored_features = false;
};

struct Batch {
  const float* features = nullptr;  // rows x feature_size (null when `stored` is given instead)
  const uint8_t* stored = nullptr;  // rows x feature_size uint8, with stored_features: feature = stored * scale
  float scale = 1.0f;
  const int32_t* labels = nullptr;  // rows: class ids, or a regression's float32 targets (targets_of)
  int64_t rows = 0;
  int64_t feature_size = 0;
};

// A regression shard's labels are float32 targets, carried in the 4 bytes a class id takes
// (shard_info.h): the loader moves them as it moves ids, and the loss reads them as floats.
inline const float* targets_of(const int32_t* labels) { return reinterpret_cast<const float*>(labels); }

class Loader {
 public:
  Loader(ShardIndex index, LoaderOptions options);
  ~Loader();
  Loader(const Loader&) = delete;
  Loader& operator=(const Loader&) = delete;

  const ShardIndex& index() const { return index_; }
  const LoaderOptions& options() const { return options_; }  // prefetch_shards resolved
  // Batches of this rank in one epoch; in training the same on every rank.
  int64_t batches_per_epoch() const { return batches_per_epoch_; }
  // The memory of its buffers: two shuffle windows and the batch slots. Nothing else grows with
  // the data: shards are read window by window and closed when done. Prefetched shards come on
  // top, within LoaderOptions::prefetch_bytes (or one shard).
  int64_t buffer_bytes() const;
  // The shard a read last started on (empty before any): what a stalled wait is waiting for.
  std::string reading_shard() const;
  // Starts reading `epoch` (a running epoch is abandoned), from its batch `first_batch`: the
  // batches before it are skipped without reading their windows, and the rest come exactly as in
  // an uninterrupted epoch (a resumed run sees the samples an uninterrupted one would).
  // Once an epoch's last window is read, the next epoch's first window is read (into the window
  // buffer this epoch no longer needs) while the last batches are used, and with whole-shard
  // prefetch its first shards are fetched (within the depth and budget), so that a following
  // start_epoch(epoch + 1) from its first batch does not wait; any other start drops them.
  void start_epoch(int64_t epoch, int64_t first_batch = 0);
  // Whether the next epoch's first window has been read ahead, and how many of its shards have
  // been fetched ahead (for tests and diagnostics).
  bool window_read_ahead() const;
  int64_t shards_fetched_ahead() const;
  // The next batch of the epoch, or nullptr when it is done.
  const Batch* next();

 private:
  struct Slot {
    HostArray<float> features;
    HostArray<uint8_t> stored;
    HostArray<int32_t> labels;
    Batch batch;
  };
  // What reads an epoch's windows: its plan, how far into it, the shard being read and the shards
  // fetched ahead for it.
  struct WindowSource {
    RankPlan plan;
    size_t segment = 0;
    int64_t segment_offset = 0;  // rows of plan.segments[segment] already taken
    std::unique_ptr<ShardPrefetcher> prefetcher;
    std::unique_ptr<ShardReader> reader;
    bool done() const { return segment >= plan.segments.size(); }
  };
  // An epoch's first window, read into window buffer `buffer` by the producer of the epoch before.
  struct WindowAhead {
    std::unique_ptr<WindowSource> source;
    int buffer = 0;
    int64_t rows = 0;
  };
  void produce(int64_t epoch, int64_t skip_samples, std::unique_ptr<WindowAhead> ahead);
  // Takes up to `rows` next rows of the source's plan, calling read(shard, first row, count, rows
  // so far) for each piece; returns how many it took.
  template <typename Read>
  int64_t take(WindowSource& source, int64_t rows, const Read& read) const;
  // Reads the source's next window into window buffer `buffer`; returns its rows.
  int64_t read_window(WindowSource& source, int buffer);
  // The same on a thread of its own (background work); `source` must outlive the read.
  std::future<int64_t> read_window_async(WindowSource& source, int buffer);
  // The source of epoch `epoch` from its start, for reading ahead: its first shards fetched
  // ahead, all those of its first window and one more, when shards are prefetched.
  std::unique_ptr<WindowSource> source_ahead(int64_t epoch) const;
  RankPlan plan_epoch(int64_t epoch) const;
  // A prefetcher for the shards of `plan` from its segment `first` on, `depth` at a time.
  std::unique_ptr<ShardPrefetcher> prefetch_plan(const RankPlan& plan, size_t first, int depth) const;
  // How many shards the first shuffle window of `plan` reads from.
  int first_window_shards(const RankPlan& plan) const;
  // Rows [first, first + count) of a shard into window row `at` on; with BadShardPolicy::kSkip,
  // rows whose chunk fails its checks are listed in bad_rows (window rows) instead of stopping.
  void read_rows(ShardReader& reader, int64_t first, int64_t count, uint8_t* features, int32_t* labels, int64_t at,
                 std::vector<int64_t>& bad_rows) const;
  // Overwrites the listed rows (ascending) of a window of `rows` with repeats of its other rows.
  void replace_bad_rows(const std::vector<int64_t>& bad_rows, int64_t rows, uint8_t* features, int32_t* labels) const;
  void fill_batches(const uint8_t* raw, const int32_t* labels, const uint32_t* order, int64_t count,
                    Slot*& slot, int64_t& filled);
  Slot* take_free_slot();
  void publish(Slot* slot);
  // Ends the producer; `cancel_read_ahead`: also stops its reading of the next epoch's first
  // window short (its shard fetches), when that window will not be used.
  void stop(bool cancel_read_ahead = true);

  ShardIndex index_;
  LoaderOptions options_;
  int64_t batches_per_epoch_ = 0;
  int64_t feature_size_ = 0;
  int64_t feature_bytes_ = 0;
  bool hand_out_stored_ = false;  // stored_features asked for, and the shards hold uint8

  std::vector<std::unique_ptr<Slot>> slots_;
  std::vector<uint8_t> window_features_[2];  // two windows: one read ahead while the other is used
  std::vector<int32_t> window_labels_[2];
  std::vector<uint32_t> window_order_;

  std::thread reader_;
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::deque<Slot*> free_;
  std::deque<Slot*> ready_;
  Slot* held_ = nullptr;
  bool producing_ = false;
  bool stopping_ = false;
  std::exception_ptr failure_;
  // The next epoch's first window, read ahead by the producer (it sets it before it ends,
  // start_epoch takes it after joining it).
  std::unique_ptr<WindowAhead> ahead_;
  int64_t running_epoch_ = -1;                 // the epoch the producer was started for
  ShardPrefetcher* reading_ahead_ = nullptr;   // the prefetcher of that read while it runs
  bool cancel_read_ahead_ = false;
  // The shard a window read last started on (for the timeout's message); read_window runs on two
  // threads at once (this epoch's next window, the next epoch's first), hence its own lock.
  mutable std::mutex reading_mutex_;
  std::string reading_shard_;
};

}  // namespace rt
