// A job of 4 ranks for the communicator's watchdog (collective timeout 2 s), in the scenario named
// by its argument; faults_test runs it under mpiexec and reads what it prints:
//   stopped-at-start-up  rank 2 stops (SIGSTOP, as a hung process or a swapping VM does) between
//                        MPI's start and the communicator's: the others must end the job, and no
//                        rank prints "constructed".
//   late                 rank 2 is alive but busy for 30 s before a barrier the others wait in: the
//                        job must end naming it as the rank that did not arrive.
//   stopped-after-the-last-collective  rank 2 stops after the last collective: the others must
//                        end the job naming it.
//   slow-to-finish       rank 2 is alive but busy for 6 s after the last collective: the others
//                        must wait for it and every rank print "finished" (exit 0).
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <exception>
#include <thread>

#include "comm/mpi_communicator.h"
#include "core/base/environment.h"
#include "core/base/logging.h"

int main(int argc, char** argv) {
  rt::MpiRuntime mpi(&argc, &argv);
  const char* scenario = argc > 1 ? argv[1] : "";
  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  rt::set_log_identity(rank, 4, "watchdog");
  rt::set_log_all_ranks(true);
  const bool late = std::strcmp(scenario, "late") == 0;
  const bool slow_to_finish = std::strcmp(scenario, "slow-to-finish") == 0;
  if (std::strcmp(scenario, "stopped-at-start-up") == 0 && rank == 2) std::raise(SIGSTOP);
  try {
    {
      rt::MpiCommunicator comm(rt::CommunicatorOptions{false, 2.0, false});
      std::printf("rank %d: constructed\n", rank);
      std::fflush(stdout);
      if (late && rank == 2) std::this_thread::sleep_for(std::chrono::seconds(30));
      comm.barrier();
      if (std::strcmp(scenario, "stopped-after-the-last-collective") == 0 && rank == 2) std::raise(SIGSTOP);
      if (slow_to_finish && rank == 2) std::this_thread::sleep_for(std::chrono::seconds(6));
    }
    std::printf("rank %d: finished\n", rank);
  } catch (const std::exception& error) {
    std::fprintf(stderr, "rank %d: %s\n", rank, error.what());
    return 1;
  }
  return 0;
}
