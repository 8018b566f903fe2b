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

}  // namespace rt
