// A shard proves it is complete before its rows are used. HDF5 reads a chunk that is missing from
// its chunk index as the fill value (zeros) without a word, and a chunk whose address a flipped
// bit moved as whatever lies there (another chunk's rows pass their own Fletcher32 checksum), so
// the checksums alone cannot tell. The audit reads the chunk index once and finds every chunk
// that is not in it, lies outside the file, is not of the size the dataset's layout gives, or
// shares bytes with another chunk. The rows of such chunks are damaged: reading them is an error
// naming the shard, the dataset and the rows (data.on_bad_shard then decides).
#pragma once

#include <hdf5.h>

#include <cstdint>
#include <string>
#include <vector>

namespace rt {

struct DamagedRows {
  int64_t first = 0;
  int64_t end = 0;  // exclusive
  std::string reason;
};

class ChunkAudit {
 public:
  ChunkAudit(std::string path, int64_t file_bytes) : path_(std::move(path)), file_bytes_(file_bytes) {}
  // Audits the chunks of `dataset` (rows along its first dimension), named `name` in messages.
  void add(hid_t dataset, const char* name);
  // The damaged rows of every dataset added, in row order (overlapping ranges may repeat).
  std::vector<DamagedRows> damaged() const;

 private:
  struct Placed {
    uint64_t address;
    uint64_t bytes;
    int64_t first, end;
    std::string what;  // "chunk N of dataset 'X'"
  };
  std::string path_;
  int64_t file_bytes_;
  std::vector<Placed> placed_;
  std::vector<DamagedRows> damaged_;
};

}  // namespace rt
