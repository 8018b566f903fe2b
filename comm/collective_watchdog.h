// The collective watchdog of an MPI job, standing beside the communicator it watches (as
// Horovod's stall inspector does), on a thread and an MPI communicator of its own.
//
// It watches this rank's collective in progress. Past the timeout it reports to rank 0 which
// collective it waits in; rank 0 gathers the reports for a moment and ends the job with one
// message naming the ranks that did not arrive and those that wait in a different collective. If
// rank 0 itself is the one missing, every other rank ends the job with its own report shortly
// after. Beside that, the watchdogs exchange heartbeats (heartbeats.h): a rank that gives no sign
// of life for the timeout (stopped, hung in the kernel, its host lost) ends the job at once,
// named, even while the others are still busy computing; and at the job's end each rank's
// watchdog waits for the ranks it watches to finish too, so that one stopped after the last
// collective does not leave the launcher waiting.
#pragma once

#include <mpi.h>

#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "comm/communicator.h"
#include "comm/heartbeats.h"

namespace rt {

class CollectiveWatchdog {
 public:
  // The collective in progress on this rank and when it began, if any.
  using InProgress = std::function<std::optional<std::pair<CollectiveCall, std::chrono::steady_clock::time_point>>()>;

  // A collective over `comm` (every rank constructs its watchdog at the same point): gathers
  // every rank's host, makes its own communicator, and starts watching.
  CollectiveWatchdog(MPI_Comm comm, double timeout_seconds, InProgress in_progress);
  // Stops watching: at the job's end once the ranks it watches have finished too; at once while
  // an exception unwinds (main() is about to end the job).
  ~CollectiveWatchdog();
  CollectiveWatchdog(const CollectiveWatchdog&) = delete;
  CollectiveWatchdog& operator=(const CollectiveWatchdog&) = delete;

 private:
  void watch();
  // Rank 0: receives reports until `expected` have come or `seconds` are over.
  void gather_reports(std::vector<std::vector<int64_t>>& reports, size_t expected, double seconds);
  struct LateRanks {
    std::vector<int> ranks;
    std::vector<std::string> hosts;  // each once, in rank order
  };
  // The ranks not `heard` from, and their hosts.
  LateRanks late_ranks(const std::vector<bool>& heard) const;
  // `reports`: those rank 0 has received so far.
  [[noreturn]] void report_timeout(const CollectiveCall& call, double waited,
                                   std::vector<std::vector<int64_t>>& reports);
  // Heartbeats: `silent` ranks not heard from for `seconds`; `finished`: this rank had said goodbye.
  [[noreturn]] void end_job_for_silent_ranks(const std::vector<int>& silent, double seconds, bool finished);
  [[noreturn]] void end_job_for_late_ranks(const CollectiveCall& waiting, double waited,
                                           const std::vector<std::vector<int64_t>>& reports);

  MPI_Comm comm_ = MPI_COMM_NULL;  // the watchdog's own
  int rank_ = 0;
  int size_ = 1;
  double timeout_seconds_ = 0;
  InProgress in_progress_;
  std::vector<std::string> hosts_;  // rank -> host
  std::unique_ptr<Heartbeats> heartbeats_;  // the watchdog thread's own
  std::thread thread_;
  std::mutex mutex_;
  std::condition_variable stop_;
  bool stopping_ = false;
  bool wait_for_goodbyes_ = true;
};

// The collectives that set up a communicator run before a watchdog can watch them (it needs
// their results: its own communicator, every rank's host). While it lives, this ends the job if
// they have not all finished within the collective timeout: a rank stopped or hung at start-up
// would otherwise hold the others in them until the launcher's own limit. Which rank is missing
// cannot be told yet, so the message says what was waited for. A timeout of 0 watches nothing.
class StartUpDeadline {
 public:
  explicit StartUpDeadline(double seconds);
  ~StartUpDeadline();
  StartUpDeadline(const StartUpDeadline&) = delete;
  StartUpDeadline& operator=(const StartUpDeadline&) = delete;

 private:
  std::mutex mutex_;
  std::condition_variable done_changed_;
  bool done_ = false;
  std::thread thread_;
};

// Ends the job (MPI_Abort), or at least this rank when the abort does not complete in a few
// seconds (mpirun can wait for ever for the daemon of a lost host).
[[noreturn]] void abort_mpi_job();

}  // namespace rt
