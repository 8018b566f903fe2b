// Our Fletcher32 against the checksums HDF5 itself stores: chunks written through HDF5's filter
// are read back raw (with the 4 checksum bytes HDF5 appended) and recomputed.
#include <gtest/gtest.h>
#include <hdf5.h>

#include <cstring>
#include <random>
#include <vector>

#include "data/fletcher32.h"
#include "data/hdf5_handle.h"
#include "tests/test_support.h"

namespace rt {
namespace {

// Writes `data` (rows x width bytes) as a uint8 dataset in chunks of `chunk_rows` rows with
// HDF5's Fletcher32 filter, then checks every chunk's stored checksum against fletcher32().
void expect_hdf5_checksums(const std::vector<uint8_t>& data, hsize_t rows, hsize_t width, hsize_t chunk_rows,
                           const char* what) {
  testing::TempDir dir;
  const std::string path = dir.file("f.h5");
  {
    Hdf5Handle file(H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT), H5Fclose);
    const hsize_t dims[2] = {rows, width}, chunk[2] = {chunk_rows, width};
    Hdf5Handle space(H5Screate_simple(2, dims, nullptr), H5Sclose);
    Hdf5Handle properties(H5Pcreate(H5P_DATASET_CREATE), H5Pclose);
    ASSERT_GE(H5Pset_chunk(properties.get(), 2, chunk), 0);
    ASSERT_GE(H5Pset_fletcher32(properties.get()), 0);
    Hdf5Handle dataset(H5Dcreate2(file.get(), "d", H5T_NATIVE_UINT8, space.get(), H5P_DEFAULT, properties.get(),
                                  H5P_DEFAULT),
                       H5Dclose);
    ASSERT_GE(H5Dwrite(dataset.get(), H5T_NATIVE_UINT8, H5S_ALL, H5S_ALL, H5P_DEFAULT, data.data()), 0);
  }
  Hdf5Handle file(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), H5Fclose);
  Hdf5Handle dataset(H5Dopen2(file.get(), "d", H5P_DEFAULT), H5Dclose);
  const size_t chunk_bytes = chunk_rows * width;
  std::vector<uint8_t> raw(chunk_bytes + 4);
  for (hsize_t first = 0; first < rows; first += chunk_rows) {
    const hsize_t offset[2] = {first, 0};
    hsize_t stored_size = 0;
    ASSERT_GE(H5Dget_chunk_storage_size(dataset.get(), offset, &stored_size), 0);
    ASSERT_EQ(stored_size, chunk_bytes + 4) << what;
    uint32_t filters = 0;
    ASSERT_GE(H5Dread_chunk(dataset.get(), H5P_DEFAULT, offset, &filters, raw.data()), 0);
    const uint32_t stored = static_cast<uint32_t>(raw[chunk_bytes]) | static_cast<uint32_t>(raw[chunk_bytes + 1]) << 8 |
                            static_cast<uint32_t>(raw[chunk_bytes + 2]) << 16 |
                            static_cast<uint32_t>(raw[chunk_bytes + 3]) << 24;
    EXPECT_EQ(fletcher32(raw.data(), chunk_bytes), stored)
        << what << ": chunk at row " << first << " of " << chunk_bytes << " bytes";
  }
}

std::vector<uint8_t> random_bytes(size_t count, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<uint8_t> bytes(count);
  for (auto& b : bytes) b = static_cast<uint8_t>(rng());
  return bytes;
}

// Chunk sizes around the 16-word vectors and 360-word blocks of the computation, odd byte counts,
// a shard's 1024 rows of 784 bytes; random bytes, all 0xff (where HDF5's 32-bit sums wrap within
// a block), all zero, and a lone non-zero byte.
TEST(Fletcher32, MatchesTheChecksumsHdf5Stores) {
  struct Shape {
    hsize_t rows, width, chunk_rows;
  };
  const Shape shapes[] = {{10, 7, 3},    {4, 1, 1},     {64, 32, 1},    {8, 720, 1},  {8, 721, 1},
                          {8, 719, 2},   {6, 750, 1},   {5, 31, 1},     {3, 1441, 1}, {4096, 784, 1024},
                          {100, 36, 30}, {2, 4097, 1}};
  for (const Shape& s : shapes) {
    const size_t count = s.rows * s.width;
    const std::string shape = std::to_string(s.rows) + "x" + std::to_string(s.width) + " in chunks of " +
                              std::to_string(s.chunk_rows) + " rows";
    expect_hdf5_checksums(random_bytes(count, static_cast<uint32_t>(count)), s.rows, s.width, s.chunk_rows,
                          ("random " + shape).c_str());
    expect_hdf5_checksums(std::vector<uint8_t>(count, 0xff), s.rows, s.width, s.chunk_rows, ("0xff " + shape).c_str());
    expect_hdf5_checksums(std::vector<uint8_t>(count, 0), s.rows, s.width, s.chunk_rows, ("zero " + shape).c_str());
    std::vector<uint8_t> lone(count, 0);
    lone[count / 2] = 0x80;
    expect_hdf5_checksums(lone, s.rows, s.width, s.chunk_rows, ("lone byte " + shape).c_str());
  }
}

// A single changed bit changes the checksum (the property the loader relies on).
TEST(Fletcher32, ABitChangedAnywhereChangesIt) {
  std::vector<uint8_t> bytes = random_bytes(3001, 7);
  const uint32_t clean = fletcher32(bytes.data(), bytes.size());
  for (size_t at : {size_t{0}, size_t{1}, size_t{719}, size_t{720}, size_t{1500}, size_t{3000}}) {
    for (int bit = 0; bit < 8; ++bit) {
      bytes[at] ^= static_cast<uint8_t>(1 << bit);
      EXPECT_NE(fletcher32(bytes.data(), bytes.size()), clean) << "byte " << at << " bit " << bit;
      bytes[at] ^= static_cast<uint8_t>(1 << bit);
    }
  }
}

}  // namespace
}  // namespace rt
