// Reads one shard. Opening checks the whole header (format, version, attributes, dataset types
// and shapes) so that a bad file is reported, by name, before any training step uses it.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "data/chunk_audit.h"
#include "data/direct_chunks.h"
#include "data/hdf5_handle.h"
#include "data/shard_image.h"
#include "data/shard_info.h"

namespace rt {

// Reads that fail (a flaky mount: EIO, a short read) are tried again this many times, after
// backoff_ms, 2 x backoff_ms, ... reopening the file each time, before the error is reported.
struct ReadRetries {
  int attempts = 3;
  int backoff_ms = 100;
};

class ShardReader {
 public:
  explicit ShardReader(const std::string& path, ReadRetries retries = {});
  ~ShardReader();
  ShardReader(const ShardReader&) = delete;
  ShardReader& operator=(const ShardReader&) = delete;
  // Reads the shard from `image`, the bytes of the file at `path` already in memory (a prefetched
  // shard, shard_prefetcher.h): HDF5 reads its header there, without copying the image, and rows
  // are copied out of it; `path` names it.
  ShardReader(const std::string& path, ReadRetries retries, std::shared_ptr<const ShardImage> image);

  // Test hook: the next `count` reads of any reader fail as a flaky mount's would.
  static void inject_read_failures(int count);

  const ShardInfo& info() const { return info_; }
  // Reads rows [first, first + count): features as stored (info().feature_dtype, feature_size()
  // elements per row) and labels, which are checked to lie in [0, classes); a regression shard's
  // labels are its float32 targets, in the same 4 bytes each, checked to be finite.
  void read(int64_t first, int64_t count, void* features, int32_t* labels);
  // Whether reads go straight to the file's chunks (direct_chunks.h) rather than through HDF5
  // (known from the first read on).
  bool reads_chunks_directly() const { return direct_features_ != nullptr; }

 private:
  void open();
  void read_once(int64_t first, int64_t count, void* features, int32_t* labels);
  hid_t label_memory_type() const;  // int32, or a regression's float32
  void close_file();
  // Audits the datasets' chunks (chunk_audit.h) and finds where they lie, for direct reads (on
  // the first read, not on open: an index opens every shard only to check its header).
  void plan_reads();
  // Where DirectChunks reads from: the image, or the file (pread).
  void read_bytes(uint64_t offset, uint8_t* data, size_t bytes, uint8_t* tail, size_t tail_bytes) const;

  ShardInfo info_;
  ReadRetries retries_;
  std::shared_ptr<const ShardImage> image_;  // kept alive while HDF5 reads from it
  Hdf5Handle file_;
  Hdf5Handle features_;
  Hdf5Handle labels_;
  int descriptor_ = -1;  // the file, for direct reads (none with an image)
  bool direct_planned_ = false;
  std::vector<DamagedRows> damaged_;  // rows no read may return (known once planned)
  std::unique_ptr<DirectChunks> direct_features_;  // null where HDF5 reads the dataset
  std::unique_ptr<DirectChunks> direct_labels_;
};

}  // namespace rt
