#include "data/chunk_audit.h"

#include <algorithm>

#include <fmt/format.h>

#include "data/hdf5_handle.h"

namespace rt {

void ChunkAudit::add(hid_t dataset, const char* name) {
  Hdf5Handle properties(H5Dget_create_plist(dataset), H5Pclose);
  if (properties.get() < 0 || H5Pget_layout(properties.get()) != H5D_CHUNKED) return;  // contiguous: no index
  Hdf5Handle space(H5Dget_space(dataset), H5Sclose);
  const int rank = H5Sget_simple_extent_ndims(space.get());
  if (rank < 1) return;
  std::vector<hsize_t> dims(static_cast<size_t>(rank)), chunk(static_cast<size_t>(rank));
  H5Sget_simple_extent_dims(space.get(), dims.data(), nullptr);
  const auto rows = static_cast<int64_t>(dims[0]);
  if (H5Pget_chunk(properties.get(), rank, chunk.data()) != rank || chunk[0] == 0) {
    damaged_.push_back({0, rows, fmt::format("dataset '{}' has no readable chunk layout", name)});
    return;
  }
  // The size every chunk must have when stored unfiltered or with Fletcher32 alone (4 bytes more);
  // other filters (compression) store chunks of any size.
  Hdf5Handle type(H5Dget_type(dataset), H5Tclose);
  uint64_t expected = H5Tget_size(type.get());
  for (hsize_t extent : chunk) expected *= extent;
  const int filters = H5Pget_nfilters(properties.get());
  if (filters == 1) {
    unsigned flags = 0, config = 0;
    size_t values = 0;
    char filter_name[32];
    const bool fletcher = H5Pget_filter2(properties.get(), 0, &flags, &values, nullptr, sizeof filter_name,
                                         filter_name, &config) == H5Z_FILTER_FLETCHER32;
    expected = fletcher ? expected + 4 : 0;
  } else if (filters != 0) {
    expected = 0;
  }
  const auto rows_per_chunk = static_cast<int64_t>(chunk[0]);
  std::vector<hsize_t> coordinates(static_cast<size_t>(rank), 0);
  for (int64_t first = 0; first < rows; first += rows_per_chunk) {
    const int64_t end = std::min(rows, first + rows_per_chunk);
    const std::string what = fmt::format("chunk {} of dataset '{}'", first / rows_per_chunk, name);
    coordinates[0] = static_cast<hsize_t>(first);
    unsigned mask = 0;
    haddr_t address = HADDR_UNDEF;
    hsize_t bytes = 0;
    if (H5Dget_chunk_info_by_coord(dataset, coordinates.data(), &mask, &address, &bytes) < 0) {
      damaged_.push_back({first, end, what + " cannot be found in the chunk index"});
    } else if (address == HADDR_UNDEF) {
      damaged_.push_back({first, end, what + " is missing from the chunk index (it would read as zeros)"});
    } else if (expected != 0 && bytes != expected) {
      damaged_.push_back({first, end, fmt::format("{} holds {} bytes, its layout gives {}", what, bytes, expected)});
    } else if (bytes == 0 || address + bytes > static_cast<uint64_t>(file_bytes_) || address + bytes < address) {
      damaged_.push_back({first, end, fmt::format("{} lies at bytes [{}, {}), outside the file's {} (truncated?)",
                                                  what, address, address + bytes, file_bytes_)});
    } else {
      placed_.push_back({address, bytes, first, end, what});
    }
  }
}

std::vector<DamagedRows> ChunkAudit::damaged() const {
  std::vector<DamagedRows> out = damaged_;
  std::vector<Placed> placed = placed_;
  std::sort(placed.begin(), placed.end(), [](const Placed& a, const Placed& b) { return a.address < b.address; });
  for (size_t i = 1; i < placed.size(); ++i) {
    const Placed& before = placed[i - 1];
    const Placed& after = placed[i];
    if (after.address >= before.address + before.bytes) continue;
    const std::string reason = fmt::format("{} and {} share bytes from {} on", before.what, after.what, after.address);
    out.push_back({before.first, before.end, reason});
    out.push_back({after.first, after.end, reason});
  }
  std::sort(out.begin(), out.end(), [](const DamagedRows& a, const DamagedRows& b) { return a.first < b.first; });
  return out;
}

}  // namespace rt
