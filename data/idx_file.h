// Reads the IDX files of MNIST and Fashion-MNIST (optionally gzip-compressed): unsigned-byte
// images [count, rows, cols] or labels [count].
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace rt {

struct IdxArray {
  std::vector<int64_t> shape;  // first extent is the item count
  std::vector<uint8_t> values;
};

// Throws naming the file if it is missing, not IDX, not unsigned bytes, or shorter than its header says.
IdxArray read_idx_file(const std::string& path);

// Reads an IDX file item by item, holding none of it beyond what the caller asks for: the header
// on opening (with read_idx_file's checks), then read() of the next items.
class IdxStream {
 public:
  explicit IdxStream(const std::string& path);
  ~IdxStream();
  IdxStream(const IdxStream&) = delete;
  IdxStream& operator=(const IdxStream&) = delete;

  const std::vector<int64_t>& shape() const { return shape_; }  // first extent is the item count
  int64_t item_bytes() const { return item_bytes_; }
  // The next `items` items into `out` (items * item_bytes() bytes); throws if the file ends early.
  void read(int64_t items, uint8_t* out);

 private:
  std::string path_;
  void* file_ = nullptr;  // gzFile
  std::vector<int64_t> shape_;
  int64_t item_bytes_ = 1;
  int64_t items_read_ = 0;
};

}  // namespace rt
