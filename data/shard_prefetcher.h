// Reads whole shard files ahead of the loader, on background threads, in large sequential reads:
// the access a blob mount (blobfuse, rclone) serves fast, where HDF5's own small reads would each
// pay the mount's latency. The loader's HDF5 reader then decodes each shard from memory
// (ShardReader's image constructor), so decoding one shard overlaps with fetching the next ones.
//
// At most `depth` shards are held (fetched and not yet released, or being fetched; up to `depth`
// are fetched at once, on as many threads, so a mount's latency is paid concurrently), and their
// bytes stay within `budget_bytes`, except that one shard is always allowed, whatever its size.
// A read that fails (EIO, a short read) is tried again after backoff, then reported, naming the
// file, by the take() that wanted it.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <exception>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "data/shard_reader.h"

namespace rt {

struct PrefetchOptions {
  int depth = 2;
  int64_t budget_bytes = int64_t{1} << 30;
  ReadRetries retries;
  size_t read_bytes = size_t{8} << 20;  // bytes per read call
};

class ShardPrefetcher {
 public:
  // `shards`: in the order take() will ask for them; their path and file_bytes (as the index saw
  // them, for the budget) are used.
  ShardPrefetcher(std::vector<ShardInfo> shards, PrefetchOptions options);
  ~ShardPrefetcher();
  ShardPrefetcher(const ShardPrefetcher&) = delete;
  ShardPrefetcher& operator=(const ShardPrefetcher&) = delete;

  // The next shard's bytes (its path must be the next in `paths`), waiting until they are read;
  // rethrows its read's error. Its memory counts against the budget until the returned pointer
  // and every copy of it are gone.
  std::shared_ptr<const ShardImage> take(const std::string& path);
  // Stops fetching (between reads of read_bytes); take() then fails at once instead of waiting.
  // For a reader that will not need the rest, so that it need not wait for a slow mount.
  void cancel();
  // The most bytes held at once so far.
  int64_t peak_bytes() const;
  // Shards read and ready (not yet taken, or taken).
  int64_t fetched() const;

 private:
  struct Fetched {
    bool done = false;
    std::shared_ptr<ShardImage> bytes;
    std::exception_ptr failure;
  };
  // What the fetching thread, take() and the shards handed out share (a shard may be released
  // after the prefetcher is gone, so it holds this, not the prefetcher).
  struct State {
    std::mutex mutex;
    std::condition_variable changed;
    std::vector<Fetched> fetched;  // by position in `paths`
    size_t next_fetch = 0;
    int held = 0;  // shards fetched or being fetched and not yet released
    int64_t held_bytes = 0;
    int64_t peak_bytes = 0;
    bool stopping = false;
    void release(int64_t bytes);
  };
  void run();
  // The file's bytes, or null once the prefetcher is stopping (it stops between reads of
  // read_bytes, so that destroying it does not wait for a whole shard from a slow mount).
  std::shared_ptr<ShardImage> read_file(const std::string& path) const;
  bool stopping() const;

  std::vector<ShardInfo> shards_;
  PrefetchOptions options_;
  std::shared_ptr<State> state_;
  size_t next_take_ = 0;
  std::vector<std::thread> threads_;
};

}  // namespace rt
