// A termination request (SIGTERM, as schedulers send before preempting a VM, SIGINT, or SIGUSR1,
// which mpirun relays to the ranks without ending them) turned
// into a flag that the trainer polls between steps, so it can finish the step, write a
// checkpoint and exit cleanly instead of dying mid-write.
#pragma once

namespace rt {

// Installs the handler for SIGTERM, SIGINT and SIGUSR1 and ignores SIGPIPE (once; later calls do nothing).
void install_termination_handler();
// True once a termination signal has arrived.
bool termination_requested();
// The signal that arrived (0 if none).
int termination_signal();

}  // namespace rt
