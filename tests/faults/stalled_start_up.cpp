// A job whose rank 2 stops (SIGSTOP, as a hung process or a swapping VM does) between MPI's start
// and the communicator's, while the other ranks set theirs up with a collective timeout of 2 s.
// faults_test runs it under mpiexec and expects the job ended by that timeout; never "constructed".
#include <csignal>
#include <cstdio>
#include <exception>

#include "comm/mpi_communicator.h"
#include "core/base/environment.h"
#include "core/base/logging.h"

int main(int argc, char** argv) {
  rt::MpiRuntime mpi(&argc, &argv);
  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  rt::set_log_identity(rank, 4, "stalled");
  rt::set_log_all_ranks(true);
  if (rank == 2) std::raise(SIGSTOP);
  try {
    rt::MpiCommunicator comm(false, 2.0);
    std::printf("rank %d: constructed\n", rank);
  } catch (const std::exception& error) {
    std::fprintf(stderr, "rank %d: %s\n", rank, error.what());
    return 1;
  }
  return 0;
}
