#include <omp.h>

#include <Eigen/Core>

#include "kernels/cpu/cpu_kernels.h"

namespace rt::kernels::cpu {

void set_threads(int threads) {
  omp_set_num_threads(threads);
  Eigen::setNbThreads(threads);
}

}  // namespace rt::kernels::cpu
