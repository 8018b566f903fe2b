#include "data/direct_chunks.h"

#include <algorithm>
#include <cstring>

#include "core/base/check.h"
#include "data/fletcher32.h"
#include "data/hdf5_handle.h"

namespace rt {

// HDF5 stores the checksum little-endian; it is read here as a native integer.
static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "direct chunk reads assume a little-endian machine");

namespace {
constexpr size_t kChecksumBytes = 4;
}  // namespace

std::unique_ptr<DirectChunks> DirectChunks::plan(hid_t file, hid_t dataset, hid_t memory_type, const std::string& path,
                                                 const char* name, int64_t file_bytes) {
  // Only a file without a user block: chunk addresses are then offsets in the file.
  Hdf5Handle file_properties(H5Fget_create_plist(file), H5Pclose);
  hsize_t user_block = 1;
  if (file_properties.get() < 0 || H5Pget_userblock(file_properties.get(), &user_block) < 0 || user_block != 0) {
    return nullptr;
  }
  Hdf5Handle type(H5Dget_type(dataset), H5Tclose);
  if (type.get() < 0 || H5Tequal(type.get(), memory_type) <= 0) return nullptr;  // stored otherwise: HDF5 converts
  Hdf5Handle properties(H5Dget_create_plist(dataset), H5Pclose);
  if (properties.get() < 0 || H5Pget_layout(properties.get()) != H5D_CHUNKED) return nullptr;
  const int filters = H5Pget_nfilters(properties.get());
  bool checksummed = false;
  if (filters == 1) {
    unsigned flags = 0, config = 0;
    size_t values = 0;
    char filter_name[32];
    checksummed = H5Pget_filter2(properties.get(), 0, &flags, &values, nullptr, sizeof filter_name, filter_name,
                                 &config) == H5Z_FILTER_FLETCHER32;
    if (!checksummed) return nullptr;
  } else if (filters != 0) {
    return nullptr;
  }
  Hdf5Handle space(H5Dget_space(dataset), H5Sclose);
  const int rank = H5Sget_simple_extent_ndims(space.get());
  if (rank < 1) return nullptr;
  std::vector<hsize_t> dims(static_cast<size_t>(rank)), chunk(static_cast<size_t>(rank));
  H5Sget_simple_extent_dims(space.get(), dims.data(), nullptr);
  if (H5Pget_chunk(properties.get(), rank, chunk.data()) != rank) return nullptr;
  // Whole rows per chunk: a chunk is then a run of consecutive rows.
  if (!std::equal(dims.begin() + 1, dims.end(), chunk.begin() + 1)) return nullptr;

  auto direct = std::unique_ptr<DirectChunks>(new DirectChunks());
  direct->path_ = path;
  direct->name_ = name;
  direct->rows_ = static_cast<int64_t>(dims[0]);
  direct->rows_per_chunk_ = static_cast<int64_t>(chunk[0]);
  direct->row_bytes_ = static_cast<int64_t>(H5Tget_size(type.get()));
  for (int d = 1; d < rank; ++d) direct->row_bytes_ *= static_cast<int64_t>(dims[static_cast<size_t>(d)]);
  direct->checksummed_ = checksummed;
  const uint64_t stored_bytes = static_cast<uint64_t>(direct->rows_per_chunk_ * direct->row_bytes_) +
                                (checksummed ? kChecksumBytes : 0);
  std::vector<hsize_t> coordinates(static_cast<size_t>(rank), 0);
  for (int64_t first = 0; first < direct->rows_; first += direct->rows_per_chunk_) {
    coordinates[0] = static_cast<hsize_t>(first);
    unsigned mask = 0;
    haddr_t address = HADDR_UNDEF;
    hsize_t bytes = 0;
    if (H5Dget_chunk_info_by_coord(dataset, coordinates.data(), &mask, &address, &bytes) < 0 ||
        address == HADDR_UNDEF || mask != 0 || bytes != stored_bytes) {
      return nullptr;  // not written, its filter skipped, or stored in another form: HDF5 knows what to do
    }
    RT_CHECK(address + bytes <= static_cast<uint64_t>(file_bytes),
             "shard {} is truncated: chunk {} of dataset '{}' ends at byte {}, the file has {}", path,
             first / direct->rows_per_chunk_, name, address + bytes, file_bytes);
    direct->chunks_.push_back(Chunk{address, bytes});
  }
  return direct;
}

void DirectChunks::check(const uint8_t* data, uint32_t stored, int64_t chunk) const {
  if (!checksummed_) return;
  const uint32_t computed = fletcher32(data, static_cast<size_t>(rows_per_chunk_ * row_bytes_));
  RT_CHECK_INTEGRITY(computed == stored,
           "shard {}: chunk {} of dataset '{}' (rows [{}, {})) fails its Fletcher32 checksum (stored {:08x}, "
           "computed {:08x}): the data is corrupt",
           path_, chunk, name_, chunk * rows_per_chunk_, std::min(rows_, (chunk + 1) * rows_per_chunk_), stored,
           computed);
}

void DirectChunks::read(const Source& source, int64_t first, int64_t count, uint8_t* out) {
  RT_CHECK(first >= 0 && count >= 0 && first + count <= rows_, "shard {}: rows [{}, {}) of '{}' are outside its {}",
           path_, first, first + count, name_, rows_);
  const auto chunk_bytes = static_cast<size_t>(rows_per_chunk_ * row_bytes_);
  const size_t tail_bytes = checksummed_ ? kChecksumBytes : 0;
  for (int64_t row = first; row < first + count;) {
    const int64_t chunk = row / rows_per_chunk_;
    const int64_t chunk_first = chunk * rows_per_chunk_;
    const int64_t end = std::min(first + count, chunk_first + rows_per_chunk_);
    uint8_t* target = out + (row - first) * row_bytes_;
    const Chunk& where = chunks_[static_cast<size_t>(chunk)];
    if (row == chunk_first && end == chunk_first + rows_per_chunk_) {
      // All of its rows are wanted: read them where they go, the checksum beside.
      uint8_t tail[kChecksumBytes] = {};
      source(where.offset, target, chunk_bytes, tail, tail_bytes);
      uint32_t stored = 0;
      std::memcpy(&stored, tail, sizeof stored);
      check(target, stored, chunk);
    } else {
      if (staged_ != chunk) {
        staged_ = -1;
        // Made on first use, not zeroed: many readers only ever read whole chunks.
        if (!staging_) staging_.reset(new uint8_t[chunk_bytes + tail_bytes]);
        source(where.offset, staging_.get(), chunk_bytes, staging_.get() + chunk_bytes, tail_bytes);
        uint32_t stored = 0;
        if (checksummed_) std::memcpy(&stored, staging_.get() + chunk_bytes, sizeof stored);
        check(staging_.get(), stored, chunk);
        staged_ = chunk;
      }
      std::memcpy(target, staging_.get() + (row - chunk_first) * row_bytes_, static_cast<size_t>((end - row) * row_bytes_));
    }
    row = end;
  }
}

}  // namespace rt
