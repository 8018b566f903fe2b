#include "data/idx_file.h"

#include <zlib.h>

#include <memory>

#include "core/base/check.h"

namespace rt {

namespace {
struct GzCloser {
  void operator()(gzFile_s* file) const { gzclose(file); }
};

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

IdxArray read_idx_file(const std::string& path) {
  std::unique_ptr<gzFile_s, GzCloser> file(gzopen(path.c_str(), "rb"));
  RT_CHECK(file != nullptr, "cannot open IDX file {}", path);
  uint8_t magic[4];
  read_exactly(file.get(), magic, 4, path, "header");
  RT_CHECK(magic[0] == 0 && magic[1] == 0, "{} is not an IDX file (bad magic number)", path);
  RT_CHECK(magic[2] == 0x08, "IDX file {} holds type 0x{:02x}; only unsigned bytes (0x08) are supported", path,
           magic[2]);
  int dims = magic[3];
  RT_CHECK(dims >= 1 && dims <= 4, "IDX file {} has {} dimensions", path, dims);
  IdxArray array;
  size_t count = 1;
  for (int d = 0; d < dims; ++d) {
    uint8_t extent[4];
    read_exactly(file.get(), extent, 4, path, "header");
    int64_t value = (int64_t{extent[0]} << 24) | (extent[1] << 16) | (extent[2] << 8) | extent[3];
    array.shape.push_back(value);
    count *= static_cast<size_t>(value);
  }
  array.values.resize(count);
  read_exactly(file.get(), array.values.data(), count, path, "values");
  return array;
}

}  // namespace rt
