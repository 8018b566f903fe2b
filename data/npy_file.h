// Reads NumPy .npy files (format versions 1-3): C-order arrays of a fixed-size numeric dtype
// (bool, int8-64, uint8-64, float16/32/64, little-endian or one byte), memory-mapped, so a file
// larger than memory is read a block of rows at a time.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace rt {

class NpyFile {
 public:
  // Throws naming the file (as `name` where given) if it is not .npy, Fortran-ordered, big-endian
  // or of another dtype.
  explicit NpyFile(const std::string& file, const std::string& name = "");
  ~NpyFile();
  NpyFile(const NpyFile&) = delete;
  NpyFile& operator=(const NpyFile&) = delete;

  const std::vector<int64_t>& shape() const { return shape_; }  // the first extent counts the rows
  const std::string& dtype() const { return dtype_; }            // as the header says: "<f4", "|u1", ...
  int64_t rows() const { return shape_.empty() ? 1 : shape_[0]; }
  int64_t row_size() const { return row_size_; }  // elements per row
  // Rows [first, first + count) as floats (row_size() each) into `out`.
  void read_rows(int64_t first, int64_t count, float* out) const;
  // The bytes of row `first` on, as stored (item_bytes() per element), in the mapping.
  const uint8_t* raw_rows(int64_t first) const { return data_ + first * row_size_ * item_bytes_; }
  int64_t item_bytes() const { return item_bytes_; }
  char kind() const { return kind_; }  // 'f' float, 'i' signed, 'u' unsigned, 'b' bool

 private:
  std::string path_;
  std::vector<int64_t> shape_;
  std::string dtype_;
  char kind_ = 'f';         // 'f' float, 'i' signed, 'u' unsigned, 'b' bool
  int64_t item_bytes_ = 4;
  int64_t row_size_ = 1;
  const uint8_t* data_ = nullptr;  // the array's first byte in the mapping
  void* mapping_ = nullptr;
  size_t mapping_bytes_ = 0;
};

}  // namespace rt
