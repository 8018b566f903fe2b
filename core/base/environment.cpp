#include "core/base/environment.h"

#include <mpi.h>
#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <thread>

#include "core/base/check_mpi.h"

namespace rt {

bool started_by_mpi_launcher() {
  for (const char* variable : {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK", "PMI_SIZE", "MPI_LOCALNRANKS"}) {
    if (std::getenv(variable)) return true;
  }
  return false;
}

MpiRuntime::MpiRuntime(int* argc, char*** argv) {
  // Open MPI's non-blocking all-reduce (libnbc) sends a whole buffer up a binomial tree and back
  // down for fewer than 4 ranks or in-place sums; a ring sends 2(n-1)/n of it, half as much at 2
  // ranks (measured: docs/performance.md, "Overlap"). The gradient buckets are such sums. An
  // MCA setting of the user's (the variable, or mpirun --mca) still wins; other MPIs ignore it.
  setenv("OMPI_MCA_coll_libnbc_iallreduce_algorithm", "1", 0);
  int provided = 0;
  RT_CHECK_MPI(MPI_Init_thread(argc, argv, MPI_THREAD_MULTIPLE, &provided));
  RT_CHECK_MPI(MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN));
  RT_CHECK(provided >= MPI_THREAD_SERIALIZED,
           "the MPI library provides thread level {}, ringtrain needs at least MPI_THREAD_SERIALIZED", provided);
}

MpiRuntime::~MpiRuntime() {
  if (active()) MPI_Finalize();
}

bool MpiRuntime::active() {
  int initialized = 0, finalized = 0;
  MPI_Initialized(&initialized);
  MPI_Finalized(&finalized);
  return initialized && !finalized;
}

std::string host_name() {
  char name[256] = {};
  if (gethostname(name, sizeof name - 1) != 0) return "unknown-host";
  return name;
}

Placement detect_placement() {
  Placement placement;
  placement.host = host_name();
  if (!MpiRuntime::active()) return placement;
  RT_CHECK_MPI(MPI_Comm_rank(MPI_COMM_WORLD, &placement.rank));
  RT_CHECK_MPI(MPI_Comm_size(MPI_COMM_WORLD, &placement.size));
  MPI_Comm node = MPI_COMM_NULL;
  RT_CHECK_MPI(MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, placement.rank, MPI_INFO_NULL, &node));
  RT_CHECK_MPI(MPI_Comm_rank(node, &placement.local_rank));
  RT_CHECK_MPI(MPI_Comm_size(node, &placement.local_size));
  RT_CHECK_MPI(MPI_Comm_free(&node));
  return placement;
}

int cores_available() {
  cpu_set_t mask;
  CPU_ZERO(&mask);
  if (sched_getaffinity(0, sizeof mask, &mask) == 0) return std::max(1, CPU_COUNT(&mask));
  return static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
}

int default_thread_count(const Placement& placement) {
  int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  int share = std::max(1, cores / std::max(1, placement.local_size));
  return std::min(share, cores_available());
}

}  // namespace rt
