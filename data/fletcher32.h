// HDF5's Fletcher32 checksum (the filter H5Pset_fletcher32 adds to each chunk), computed the way
// the library computes it, bit for bit, but with vector instructions: HDF5's own loop goes one
// 16-bit word at a time and was a third of the loader's time.
#pragma once

#include <cstddef>
#include <cstdint>

namespace rt {

uint32_t fletcher32(const uint8_t* data, size_t bytes);

}  // namespace rt
