#include "core/base/termination.h"

#include <csignal>

namespace rt {

namespace {
volatile std::sig_atomic_t received_signal = 0;
extern "C" void on_termination(int signal) { received_signal = signal; }
}  // namespace

void install_termination_handler() {
  static bool installed = false;
  if (installed) return;
  installed = true;
  struct sigaction action {};
  action.sa_handler = on_termination;
  sigemptyset(&action.sa_mask);
  sigaction(SIGTERM, &action, nullptr);
  sigaction(SIGINT, &action, nullptr);
  // mpirun forwards SIGUSR1 to the ranks and goes on waiting for them (SIGTERM to mpirun ends
  // them soon after relaying it): `ringtrain launch` stops a job this way, and a scheduler can
  // warn of a preemption with it (Slurm's --signal=USR1@SECONDS).
  sigaction(SIGUSR1, &action, nullptr);
  // A launcher that is itself stopped closes the ranks' output pipes while they finish their
  // checkpoint; a write to them must fail, not end the rank before the checkpoint is committed.
  signal(SIGPIPE, SIG_IGN);
}

bool termination_requested() { return received_signal != 0; }
int termination_signal() { return received_signal; }

}  // namespace rt
