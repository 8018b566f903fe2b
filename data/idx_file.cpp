#include "data/idx_file.h"

#include <zlib.h>

#include <algorithm>

#include "core/base/check.h"

namespace rt {

namespace {
void read_exactly(gzFile file, void* data, size_t bytes, const std::string& path, const char* what) {
  auto* out = static_cast<char*>(data);
  while (bytes > 0) {
    unsigned piece = static_cast<unsigned>(std::min<size_t>(bytes, 1u << 30));
    int got = gzread(file, out, piece);
    RT_CHECK(got > 0, "IDX file {} ends early while reading its {}", path, what);
    out += got;
    bytes -= static_cast<size_t>(got);
  }
}
}  // namespace

IdxStream::IdxStream(const std::string& path) : path_(path) {
  gzFile file = gzopen(path.c_str(), "rb");
  RT_CHECK(file != nullptr, "cannot open IDX file {}", path);
  file_ = file;
  try {
    uint8_t magic[4];
    read_exactly(file, magic, 4, path, "header");
    RT_CHECK(magic[0] == 0 && magic[1] == 0, "{} is not an IDX file (bad magic number)", path);
    RT_CHECK(magic[2] == 0x08, "IDX file {} holds type 0x{:02x}; only unsigned bytes (0x08) are supported", path,
             magic[2]);
    int dims = magic[3];
    RT_CHECK(dims >= 1 && dims <= 4, "IDX file {} has {} dimensions", path, dims);
    for (int d = 0; d < dims; ++d) {
      uint8_t extent[4];
      read_exactly(file, extent, 4, path, "header");
      int64_t value = (int64_t{extent[0]} << 24) | (extent[1] << 16) | (extent[2] << 8) | extent[3];
      shape_.push_back(value);
      if (d > 0) item_bytes_ *= value;
    }
  } catch (...) {
    gzclose(file);
    throw;
  }
}

IdxStream::~IdxStream() {
  if (file_) gzclose(static_cast<gzFile>(file_));
}

void IdxStream::read(int64_t items, uint8_t* out) {
  RT_CHECK(items >= 0 && items_read_ + items <= shape_[0], "IDX file {}: asked for items {}..{} of {}", path_,
           items_read_, items_read_ + items, shape_[0]);
  read_exactly(static_cast<gzFile>(file_), out, static_cast<size_t>(items * item_bytes_), path_, "values");
  items_read_ += items;
}

IdxArray read_idx_file(const std::string& path) {
  IdxStream stream(path);
  IdxArray array;
  array.shape = stream.shape();
  array.values.resize(static_cast<size_t>(array.shape[0] * stream.item_bytes()));
  stream.read(array.shape[0], array.values.data());
  return array;
}

}  // namespace rt
