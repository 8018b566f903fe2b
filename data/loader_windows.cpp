// The loader's reading thread: shuffle windows read from the shards (chunk by chunk, or from
// whole shards read ahead), bad rows replaced where data.on_bad_shard = "skip", and the batches
// filled from each window (loader.h).
#include "data/loader.h"

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

void Loader::read_rows(ShardReader& reader, int64_t first, int64_t count, uint8_t* features, int32_t* labels,
                       int64_t at, std::vector<int64_t>& bad_rows) const {
  if (index_.policy() == BadShardPolicy::kStop) return reader.read(first, count, features, labels);
  try {
    reader.read(first, count, features, labels);
  } catch (const Error& error) {
    // Again chunk by chunk (HDF5 checks whole chunks), to keep the good ones.
    log_warning("{}; with data.on_bad_shard = \"skip\" the rows of its chunks that fail are replaced by repeats "
                "of their window's other rows",
                error.what());
    const int64_t chunk = shard_format::kChunkSamples;
    for (int64_t start = first; start < first + count;) {
      const int64_t end = std::min(first + count, (start / chunk + 1) * chunk);
      try {
        reader.read(start, end - start, features + (start - first) * feature_bytes_, labels + (start - first));
      } catch (const Error&) {
        log_warning("shard {}: rows [{}, {}) skipped", reader.info().path, start, end);
        for (int64_t row = start; row < end; ++row) bad_rows.push_back(at + row - first);
      }
      start = end;
    }
  }
}

void Loader::replace_bad_rows(const std::vector<int64_t>& bad_rows, int64_t rows, uint8_t* features,
                              int32_t* labels) const {
  if (bad_rows.empty()) return;
  std::vector<int64_t> good;
  for (int64_t row = 0, next_bad = 0; row < rows; ++row) {
    if (next_bad < static_cast<int64_t>(bad_rows.size()) && bad_rows[static_cast<size_t>(next_bad)] == row) {
      ++next_bad;
    } else {
      good.push_back(row);
    }
  }
  RT_CHECK(!good.empty(), "all {} rows of a shuffle window failed their checks; nothing is left to train on there",
           rows);
  for (size_t i = 0; i < bad_rows.size(); ++i) {
    const int64_t source = good[i % good.size()], row = bad_rows[i];
    std::memcpy(features + row * feature_bytes_, features + source * feature_bytes_, static_cast<size_t>(feature_bytes_));
    labels[row] = labels[source];
  }
}

template <typename Read>
int64_t Loader::take(WindowSource& source, int64_t rows, const Read& read) const {
  int64_t taken = 0;
  while (taken < rows && !source.done()) {
    const ShardSegment& piece = source.plan.segments[source.segment];
    const int64_t count = std::min(rows - taken, piece.count - source.segment_offset);
    read(piece.shard, piece.first + source.segment_offset, count, taken);
    taken += count;
    source.segment_offset += count;
    if (source.segment_offset == piece.count) {
      ++source.segment;
      source.segment_offset = 0;
    }
  }
  return taken;
}

int64_t Loader::read_window(WindowSource& source, int buffer) {
  std::vector<int64_t> bad_rows;  // window rows whose data failed its checks (skip policy)
  const int64_t window = static_cast<int64_t>(window_order_.size());
  const int64_t rows = take(source, window, [&](size_t shard, int64_t first, int64_t count, int64_t at) {
    const std::string& path = index_.shards()[shard].path;
    {
      std::lock_guard<std::mutex> reading(reading_mutex_);
      if (reading_shard_ != path) reading_shard_ = path;
    }
    if (!source.reader || source.reader->info().path != path) {
      source.reader.reset();  // its shard leaves the prefetch budget before the next is asked for
      source.reader = source.prefetcher
                          ? std::make_unique<ShardReader>(path, options_.retries, source.prefetcher->take(path))
                          : std::make_unique<ShardReader>(path, options_.retries);
    }
    read_rows(*source.reader, first, count, window_features_[buffer].data() + at * feature_bytes_,
              window_labels_[buffer].data() + at, at, bad_rows);
  });
  replace_bad_rows(bad_rows, rows, window_features_[buffer].data(), window_labels_[buffer].data());
  return rows;
}

std::future<int64_t> Loader::read_window_async(WindowSource& source, int buffer) {
  return std::async(std::launch::async, [this, &source, buffer] {
    run_as_background_work();
    return read_window(source, buffer);
  });
}

std::unique_ptr<Loader::WindowSource> Loader::source_ahead(int64_t epoch) const {
  auto source = std::make_unique<WindowSource>();
  source->plan = plan_epoch(epoch);
  if (options_.prefetch_shards > 0) {
    // Its whole first window is read before its first batch: all of that window's shards (and
    // one more) if the budget allows.
    source->prefetcher = prefetch_plan(source->plan, 0,
                                       std::max(options_.prefetch_shards, first_window_shards(source->plan) + 1));
  }
  return source;
}

void Loader::produce(int64_t epoch, int64_t skip_samples, std::unique_ptr<WindowAhead> ahead) {
  const int64_t window = static_cast<int64_t>(window_order_.size());
  const bool shuffle = options_.mode == LoaderMode::kTraining;
  std::unique_ptr<WindowSource> source;
  int current = 0;
  int64_t in_window = 0;
  int64_t window_index = 0;
  if (ahead) {  // the first window was read by the epoch before (and skip_samples is 0)
    source = std::move(ahead->source);
    current = ahead->buffer;
    in_window = ahead->rows;
  } else {
    source = std::make_unique<WindowSource>();
    source->plan = plan_epoch(epoch);
    // Windows wholly before the resume point are walked through without reading.
    while (skip_samples >= window && !source->done()) {
      skip_samples -= take(*source, window, [](size_t, int64_t, int64_t, int64_t) {});
      ++window_index;
    }
    if (options_.prefetch_shards > 0) {
      source->prefetcher = prefetch_plan(source->plan, source->segment, options_.prefetch_shards);
    }
    in_window = read_window(*source, current);
  }

  // Two windows in flight: the next one is read on a helper thread while this one is shuffled and
  // cut into batches, so reading and copying overlap. Once this epoch is all read, the helper
  // reads the next epoch's first window instead.
  Slot* slot = nullptr;
  int64_t filled = 0;
  std::unique_ptr<WindowSource> next_source;
  struct ClearReadingAhead {  // before next_source goes, after the read of it is over
    Loader& loader;
    ~ClearReadingAhead() {
      std::lock_guard<std::mutex> lock(loader.mutex_);
      loader.reading_ahead_ = nullptr;
    }
  } clear_reading_ahead{*this};
  std::future<int64_t> next_epoch_window;
  int next_epoch_buffer = 0;
  while (in_window > 0) {
    std::future<int64_t> next;
    if (!source->done()) {
      next = read_window_async(*source, 1 - current);
    } else if (!next_source) {
      source.reset();  // this epoch's shards are done with: they leave the prefetch budget
      next_source = source_ahead(epoch + 1);
      std::lock_guard<std::mutex> lock(mutex_);
      if (!cancel_read_ahead_) {
        reading_ahead_ = next_source->prefetcher.get();
        next_epoch_buffer = 1 - current;
        next_epoch_window = read_window_async(*next_source, next_epoch_buffer);
      }
    }
    std::iota(window_order_.begin(), window_order_.begin() + in_window, 0u);
    if (shuffle) {
      Rng rng(options_.seed, (static_cast<uint64_t>(epoch) << 40) ^ (static_cast<uint64_t>(options_.rank) << 20) ^
                                 static_cast<uint64_t>(window_index));
      rng.shuffle(window_order_.data(), static_cast<uint64_t>(in_window));
    }
    fill_batches(window_features_[current].data(), window_labels_[current].data(),
                 window_order_.data() + skip_samples, in_window - skip_samples, slot, filled);
    skip_samples = 0;
    ++window_index;
    in_window = next.valid() ? next.get() : 0;  // a failed read rethrows here
    current = 1 - current;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (stopping_) return;
    }
  }
  if (slot && filled > 0) {  // the short last batch of an evaluation
    slot->batch.rows = filled;
    publish(slot);
  }
  // Every batch is out: the epoch can end while the next one's first window is still being read.
  {
    std::lock_guard<std::mutex> lock(mutex_);
    producing_ = false;
  }
  changed_.notify_all();
  if (!next_epoch_window.valid()) return;
  try {
    auto read_ahead = std::make_unique<WindowAhead>();
    read_ahead->rows = next_epoch_window.get();
    read_ahead->source = std::move(next_source);
    read_ahead->buffer = next_epoch_buffer;
    std::lock_guard<std::mutex> lock(mutex_);
    ahead_ = std::move(read_ahead);
  } catch (...) {
    // Not this epoch's failure: that epoch, when started, reads the window again and reports it.
  }
}

}  // namespace rt
