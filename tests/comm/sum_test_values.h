// What the sum tests under mpiexec share: this rank and the rank count in MPI_COMM_WORLD, and
// values whose sum depends on the order of the additions.
#pragma once

#include <mpi.h>

#include <cstddef>
#include <cstdint>
#include <vector>

#include "core/base/random.h"

namespace rt::testing {

inline int world_rank() {
  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  return rank;
}
inline int world_size() {
  int size = 0;
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  return size;
}

// Rank `rank`'s values: magnitudes far apart on even and odd ranks.
inline std::vector<float> rank_values(size_t count, int rank, uint64_t seed) {
  Rng rng(seed, static_cast<uint64_t>(rank));
  std::vector<float> values(count);
  for (float& v : values) v = rng.normal() * (rank % 2 == 0 ? 1000.0f : 0.001f) + rng.uniform();
  return values;
}

}  // namespace rt::testing
