// Where this process runs: its rank, the job size, its rank and count on this machine, the host.
//
// A job started by an MPI launcher (mpirun, mpiexec, srun, the MPI operator) initialises MPI; a
// plain `ringtrain train` does not touch MPI at all and runs as a single process.
#pragma once

#include <string>

namespace rt {

struct Placement {
  int rank = 0;
  int size = 1;
  int local_rank = 0;  // among the ranks on this machine (MPI_Comm_split_type SHARED)
  int local_size = 1;
  std::string host;
};

// True when the environment says an MPI launcher started this process.
bool started_by_mpi_launcher();

// Initialises MPI (thread level MULTIPLE, errors returned, not fatal) for its lifetime.
class MpiRuntime {
 public:
  MpiRuntime(int* argc, char*** argv);
  ~MpiRuntime();
  MpiRuntime(const MpiRuntime&) = delete;
  MpiRuntime& operator=(const MpiRuntime&) = delete;
  // Whether MPI is initialised and not yet finalised in this process.
  static bool active();
};

// The placement of this process: from MPI_COMM_WORLD when MPI is active, else a single process.
Placement detect_placement();

// Cores this process may run on (its CPU affinity; mpirun binds ranks to cores by default).
int cores_available();

// Threads for this rank's math: the machine's cores shared among the ranks on it, and never more
// than the cores the process is bound to (more threads than cores makes OpenMP spin and thrash).
int default_thread_count(const Placement& placement);

std::string host_name();

}  // namespace rt
