// runtime.cpu_blas = "auto": the library of the CPU matrix products (Eigen or OpenBLAS) chosen by
// timing the model's own products on this machine. The shapes are recorded over one forward and
// backward pass of a batch; every rank then times both libraries at once (as the ranks will run),
// and the times summed over the ranks decide, so every rank chooses alike. The choice is kept per
// processor model, thread count, rank count and shapes in CACHE/ringtrain/cpu-blas.json (CACHE:
// $XDG_CACHE_HOME, or ~/.cache), so later runs of the same model skip the measurement.
#pragma once

#include <cstdint>
#include <string>

#include "comm/communicator.h"
#include "core/model.h"
#include "kernels/kernels.h"

namespace rt {

struct CpuBlasChoice {
  kernels::CpuBlas blas = kernels::CpuBlas::kEigen;
  double eigen_ms = 0;     // the shapes' products once, summed over the ranks
  double openblas_ms = 0;  // infinity where OpenBLAS cannot be loaded
  int64_t shapes = 0;
  bool cached = false;     // read from the cache, not measured now
  std::string describe() const;
};

// Chooses and sets (kernels::set_cpu_blas) the library for `model` at `rows` rows a pass, on the
// current CPU threads. Collective: every rank calls it.
CpuBlasChoice choose_cpu_blas(Model& model, int64_t rows, Communicator& comm);

}  // namespace rt
