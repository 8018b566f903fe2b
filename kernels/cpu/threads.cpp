#include <omp.h>

#include <Eigen/Core>

#include "kernels/cpu/cpu_kernels.h"

namespace rt::kernels::cpu {

void set_threads(int threads) {
  omp_set_num_threads(threads);
  // The products split themselves over the threads (matmul.cpp), each part on one Eigen thread.
  Eigen::setNbThreads(1);
}

int threads() { return omp_get_max_threads(); }

}  // namespace rt::kernels::cpu
