// Threads that do throughput work for the training thread (the loader's reading and batch
// filling, shard fetches) run as Linux SCHED_BATCH: they keep their fair share of the CPU, but a
// wake-up of one no longer preempts the thread that woke it. Without this, on a machine whose
// cores all run the math, the loader's thread woken by the trainer's next() (a free batch slot)
// took over the trainer's core right there, and the trainer stood still while it filled batches
// with the other math thread spinning (docs/performance.md, "The loader's threads as batch work").
#pragma once

namespace rt {

// Makes the calling thread SCHED_BATCH. Best effort: where the system refuses (it should not: no
// privilege is needed), a warning is logged once and the thread runs as before.
void run_as_background_work();

// Whether the calling thread runs as background work (for tests).
bool running_as_background_work();

}  // namespace rt
