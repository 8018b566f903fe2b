// Reads rows of a shard's dataset straight from the file's bytes, a whole chunk per read, and
// checks each chunk's Fletcher32 itself (fletcher32.h). HDF5's own read of a filtered chunk
// reads it into a buffer of its own, checks it one 16-bit word at a time, and copies it out; this
// reads a chunk the rows need whole into the caller's buffer at once and checks it there, while it
// is in cache. Used where the layout allows it (chunked, whole rows per chunk, no filter but
// Fletcher32, stored as read, no user block); ShardReader falls back to HDF5's read otherwise.
#pragma once

#include <hdf5.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace rt {

class DirectChunks {
 public:
  // Reads `bytes` at file offset `offset` into `data` and then `tail_bytes` more into `tail`
  // (a chunk and its checksum); throws, naming what failed, when it cannot.
  using Source = std::function<void(uint64_t offset, uint8_t* data, size_t bytes, uint8_t* tail, size_t tail_bytes)>;

  // The chunks of `dataset` (named `name` in the shard at `path`, a file of `file_bytes` bytes),
  // or null when its layout needs HDF5 to read it. Chunks that lie past the end of the file are
  // reported (a truncated shard), naming the file.
  static std::unique_ptr<DirectChunks> plan(hid_t file, hid_t dataset, hid_t memory_type, const std::string& path,
                                            const char* name, int64_t file_bytes);

  // Rows [first, first + count) into `out`, row_bytes() each. A chunk that fails its checksum
  // is reported naming the file, the dataset and the rows.
  void read(const Source& source, int64_t first, int64_t count, uint8_t* out);

  int64_t row_bytes() const { return row_bytes_; }

 private:
  struct Chunk {
    uint64_t offset;
    uint64_t bytes;  // as stored: the rows and, with the checksum, 4 more
  };
  void check(const uint8_t* data, uint32_t stored, int64_t chunk) const;

  std::string path_;
  std::string name_;
  int64_t rows_ = 0;
  int64_t rows_per_chunk_ = 0;
  int64_t row_bytes_ = 0;
  bool checksummed_ = false;
  std::vector<Chunk> chunks_;
  // A chunk of which only some rows were asked for, read whole (its checksum covers all of it);
  // kept, as the next read often wants the rest of it.
  std::unique_ptr<uint8_t[]> staging_;
  int64_t staged_ = -1;
};

}  // namespace rt
