// Small helpers shared by the MPI benchmarks: timing a collective the same way on every rank.
#pragma once

#include <mpi.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <exception>
#include <functional>

#include "core/base/environment.h"

namespace rt::bench {

// Seconds per call of `body` on the slowest rank: `warmup` untimed calls, then `repeats` timed
// between barriers, the maximum over ranks of the mean.
inline double time_collective(int warmup, int repeats, const std::function<void()>& body) {
  for (int i = 0; i < warmup; ++i) body();
  MPI_Barrier(MPI_COMM_WORLD);
  auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < repeats; ++i) body();
  double mine = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() / repeats;
  double slowest = 0;
  MPI_Allreduce(&mine, &slowest, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
  return slowest;
}

// Repeats so that a size is timed for about `budget` seconds, at least 3 and at most 1000.
inline int repeats_for(size_t bytes, double budget_seconds, double bytes_per_second_guess) {
  double per_call = 20e-6 + static_cast<double>(bytes) / bytes_per_second_guess;
  return std::clamp(static_cast<int>(budget_seconds / per_call), 3, 1000);
}

// A benchmark's main: MPI for its lifetime, and `body` run under it; a rank whose body throws
// prints its rank and the cause and ends the whole job (the others may wait in a collective, where
// a plain return would leave them hanging).
inline int run_mpi_benchmark(const char* name, int* argc, char*** argv, const std::function<int()>& body) {
  MpiRuntime mpi(argc, argv);
  try {
    return body();
  } catch (const std::exception& error) {
    int rank = 0;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    std::fprintf(stderr, "%s: rank %d: %s\n", name, rank, error.what());
    MPI_Abort(MPI_COMM_WORLD, 1);
    return 1;
  }
}

}  // namespace rt::bench
