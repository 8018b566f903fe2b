#include "comm/collective_watchdog.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <exception>
#include <thread>

#include <fmt/ranges.h>

#include "core/base/check_mpi.h"
#include "core/base/logging.h"

namespace rt {

namespace {
// How long MPI_Abort may take before this rank ends itself: mpirun ends every rank of the job, but
// where it cannot reach a host (lost) it can wait for that host's daemon for ever.
constexpr double kAbortSeconds = 5.0;
constexpr int kReportTag = 7301;
constexpr int kAnswerTag = 7302;
constexpr double kGatherSeconds = 5.0;  // at most, rank 0 collects reports this long before ending the job
constexpr double kFirstReportsSeconds = 0.5;  // then names the ranks not heard from so far
// A rank that reported waits this long for rank 0's answer; without one, rank 0 is stopped or
// hung itself, and the reporting rank ends the job.
constexpr double kAnswerSeconds = 0.5;
using Report = std::vector<int64_t>;    // rank, the call (kCallWords), waited milliseconds
constexpr int kReportWords = 2 + static_cast<int>(kCallWords);

CollectiveCall call_of(const Report& report) { return decode_call(&report[1]); }
double waited_seconds(const Report& report) { return static_cast<double>(report[1 + kCallWords]) / 1000.0; }

// Receives the reports that have arrived and answers each, so its rank knows rank 0 is alive and
// will end the job (rank 0).
void receive_reports(MPI_Comm comm, std::vector<Report>& reports) {
  for (;;) {
    int arrived = 0;
    MPI_Status status;
    if (MPI_Iprobe(MPI_ANY_SOURCE, kReportTag, comm, &arrived, &status) != MPI_SUCCESS || !arrived) return;
    Report report(kReportWords);
    MPI_Recv(report.data(), kReportWords, MPI_INT64_T, status.MPI_SOURCE, kReportTag, comm, MPI_STATUS_IGNORE);
    reports.push_back(report);
    int64_t answer = 1;
    MPI_Send(&answer, 1, MPI_INT64_T, status.MPI_SOURCE, kAnswerTag, comm);
  }
}

// Whether rank 0 answers a report within `seconds`.
bool rank0_answers(MPI_Comm comm, double seconds) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  while (std::chrono::steady_clock::now() < deadline) {
    int arrived = 0;
    if (MPI_Iprobe(0, kAnswerTag, comm, &arrived, MPI_STATUS_IGNORE) == MPI_SUCCESS && arrived) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}
}  // namespace


CollectiveWatchdog::CollectiveWatchdog(MPI_Comm comm, double timeout_seconds, InProgress in_progress)
    : timeout_seconds_(timeout_seconds), in_progress_(std::move(in_progress)) {
  RT_CHECK_MPI(MPI_Comm_rank(comm, &rank_));
  RT_CHECK_MPI(MPI_Comm_size(comm, &size_));
  // Every rank's host, so that a timeout names the hosts of the ranks that did not arrive.
  constexpr int kHostChars = 64;
  char mine[kHostChars] = {0};
  gethostname(mine, kHostChars - 1);
  std::vector<char> all(static_cast<size_t>(kHostChars) * static_cast<size_t>(size_));
  RT_CHECK_MPI(MPI_Allgather(mine, kHostChars, MPI_CHAR, all.data(), kHostChars, MPI_CHAR, comm));
  for (int r = 0; r < size_; ++r) hosts_.emplace_back(all.data() + static_cast<size_t>(r) * kHostChars);
  RT_CHECK_MPI(MPI_Comm_dup(comm, &comm_));
  thread_ = std::thread([this] { watch(); });
}

CollectiveWatchdog::~CollectiveWatchdog() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
    // At the job's end the watchdog waits for the ranks it watches to finish as well; while an
    // error unwinds, main() is about to end the job and nothing is waited for.
    wait_for_goodbyes_ = std::uncaught_exceptions() == 0;
  }
  stop_.notify_all();
  if (thread_.joinable()) thread_.join();
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (!finalized && comm_ != MPI_COMM_NULL) MPI_Comm_free(&comm_);
}

void CollectiveWatchdog::watch() {
  // A few beats per timeout: a silent rank is told within the timeout and one beat.
  heartbeats_ = std::make_unique<Heartbeats>(comm_, std::clamp(timeout_seconds_ / 10, 0.1, 1.0));
  Heartbeats& heartbeats = *heartbeats_;
  std::vector<Report> reports;  // rank 0: reports of waiting ranks
  for (;;) {
    bool stopping = false;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      stopping = stop_.wait_for(lock, std::chrono::milliseconds(100), [this] { return stopping_; });
    }
    heartbeats.beat();
    if (stopping) {
      // Finished: once those it watches have finished too (or at once while an error unwinds, as
      // main() ends the job then). A rank stopped after its last collective is seen here.
      heartbeats.say_goodbye();
      if (!wait_for_goodbyes_ || heartbeats.all_said_goodbye()) {
        heartbeats_.reset();
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    const std::vector<int> silent = heartbeats.silent_for(timeout_seconds_);
    if (!silent.empty()) end_job_for_silent_ranks(silent, heartbeats.seconds_since_heard(silent.front()), stopping);
    auto in_progress = in_progress_();
    double waited = in_progress ? std::chrono::duration<double>(std::chrono::steady_clock::now() -
                                                                  in_progress->second).count()
                                : 0.0;
    if (rank_ == 0) {
      receive_reports(comm_, reports);
      // Others have waited past the timeout: rank 0 is late itself, or is waiting too.
      if (!reports.empty() && (!in_progress || waited < timeout_seconds_)) {
        gather_reports(reports, size_ - 1, kGatherSeconds);
        end_job_for_late_ranks(in_progress ? in_progress->first : CollectiveCall{}, waited, reports);
      }
    }
    if (in_progress && waited >= timeout_seconds_) report_timeout(in_progress->first, waited, reports);
  }
}

void CollectiveWatchdog::end_job_for_silent_ranks(const std::vector<int>& silent, double seconds, bool finished) {
  std::vector<bool> heard(static_cast<size_t>(size_), true);
  for (int rank : silent) heard[static_cast<size_t>(rank)] = false;
  const LateRanks late = late_ranks(heard);
  // Where rank 0 is silent every other rank sees it: one says so, the others a moment later (by
  // then the first has usually ended the job).
  if (rank_ > 1) std::this_thread::sleep_for(std::chrono::duration<double>(kAnswerSeconds));
  log_error("rank(s) {} on host(s) {} gave no sign of life for {:.1f} s (timeout {:.0f} s): stopped, hung or lost{}; "
            "ending the job",
            fmt::join(late.ranks, ", "), fmt::join(late.hosts, ", "), seconds, timeout_seconds_,
            finished ? ", after this rank finished its work" : "");
  abort_mpi_job();
}

void CollectiveWatchdog::gather_reports(std::vector<std::vector<int64_t>>& reports, size_t expected, double seconds) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  while (reports.size() < expected && std::chrono::steady_clock::now() < deadline) {
    receive_reports(comm_, reports);
    heartbeats_->beat();  // still alive, to the ranks waiting for its verdict
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

void CollectiveWatchdog::report_timeout(const CollectiveCall& call, double waited, std::vector<Report>& reports) {
  if (rank_ == 0) {  // with the reports that came before its own timeout
    // The ranks waiting with rank 0 time out within moments of it. Those not heard from by then
    // are named at once: where a host is lost, Open MPI may end the job before the gathering does.
    gather_reports(reports, size_ - 1, kFirstReportsSeconds);
    if (reports.size() < static_cast<size_t>(size_ - 1)) {
      std::vector<bool> heard(static_cast<size_t>(size_), false);
      heard[0] = true;
      for (const Report& report : reports) heard[static_cast<size_t>(report[0])] = true;
      const LateRanks late = late_ranks(heard);
      log_error("collective {} has waited {:.1f} s (timeout {:.0f} s) with no word from rank(s) {} on host(s) {}; "
                "waiting up to {:.0f} s for their reports, then ending the job",
                describe(call), waited, timeout_seconds_, fmt::join(late.ranks, ", "), fmt::join(late.hosts, ", "),
                kGatherSeconds - kFirstReportsSeconds);
      gather_reports(reports, size_ - 1, kGatherSeconds - kFirstReportsSeconds);
    }
    end_job_for_late_ranks(call, waited, reports);
  }
  Report mine(kReportWords);
  mine[0] = rank_;
  encode_call(call, &mine[1]);
  mine[1 + kCallWords] = static_cast<int64_t>(waited * 1000);
  // Eager (a few words), so it returns whether or not rank 0 is there to receive it.
  MPI_Send(mine.data(), kReportWords, MPI_INT64_T, 0, kReportTag, comm_);
  // Rank 0 answers and ends the job with the full picture. Without an answer, rank 0 is the rank
  // that is missing and this rank ends the job, unless its heartbeats still came within the
  // timeout: then it is alive and busy ending the job itself (an abort can take seconds where a
  // host is lost), and is not to be blamed.
  const bool answered = rank0_answers(comm_, kAnswerSeconds);
  const bool alive = answered || heartbeats_->seconds_since_heard(0) < timeout_seconds_;
  if (alive) {
    // Rank 0 is gathering: beat meanwhile, so that it does not take this rank for a silent one.
    const auto until = std::chrono::steady_clock::now() + std::chrono::duration<double>(kGatherSeconds + 3.0);
    while (std::chrono::steady_clock::now() < until) {
      heartbeats_->beat();
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }
  log_error("collective {} timed out after {:.1f} s (timeout {:.0f} s): rank 0 on host {} {}; ending the job",
            describe(call), waited, timeout_seconds_, hosts_[0],
            alive ? "is alive but has not ended the job" : "does not answer (stopped, hung or lost)");
  abort_mpi_job();
}

void CollectiveWatchdog::end_job_for_late_ranks(const CollectiveCall& waiting, double waited,
                                             const std::vector<Report>& reports) {
  // The collective the most ranks wait in is the one the job is stuck at.
  std::vector<bool> reported(static_cast<size_t>(size_), false);
  std::vector<std::string> elsewhere;
  CollectiveCall stuck = waiting.sequence > 0 ? waiting : call_of(reports.front());
  double longest = waiting.sequence > 0 ? waited : 0.0;
  for (const Report& report : reports) {
    CollectiveCall call = call_of(report);
    reported[static_cast<size_t>(report[0])] = true;
    longest = std::max(longest, waited_seconds(report));
    if (call != stuck) {
      elsewhere.push_back(fmt::format("rank {} waits in {}", report[0], describe(call)));
    }
  }
  if (waiting.sequence > 0) reported[0] = true;
  // Every rank is in the collective now: rank 0 itself came late (stopped, then continued).
  if (std::all_of(reported.begin(), reported.end(), [](bool r) { return r; })) reported[0] = false;
  const LateRanks missing = late_ranks(reported);
  log_error("collective {} timed out after {:.1f} s (timeout {:.0f} s): rank(s) {} on host(s) {} did not arrive{}{}",
            describe(stuck), longest, timeout_seconds_, fmt::join(missing.ranks, ", "),
            fmt::join(missing.hosts, ", "), elsewhere.empty() ? "" : "; ", fmt::join(elsewhere, "; "));
  abort_mpi_job();
}

CollectiveWatchdog::LateRanks CollectiveWatchdog::late_ranks(const std::vector<bool>& heard) const {
  LateRanks late;
  for (int r = 0; r < size_; ++r) {
    if (heard[static_cast<size_t>(r)]) continue;
    late.ranks.push_back(r);
    const std::string& host = hosts_[static_cast<size_t>(r)];
    if (std::find(late.hosts.begin(), late.hosts.end(), host) == late.hosts.end()) late.hosts.push_back(host);
  }
  return late;
}

// The collectives of the constructor run before the watchdog can watch them (it needs their
// results: its own communicator, every rank's host). While they run, this ends the job if they
// have not all finished within the collective timeout: a rank stopped or hung at start-up would
// otherwise hold the others in them until the launcher's own limit. Which rank is missing cannot
// be told yet, so the message says what was waited for.
StartUpDeadline::StartUpDeadline(double seconds) {
  if (seconds <= 0) return;
  thread_ = std::thread([this, seconds] {
    std::unique_lock<std::mutex> lock(mutex_);
    if (done_changed_.wait_for(lock, std::chrono::duration<double>(seconds), [this] { return done_; })) return;
    log_error("setting up the communicator has waited {:.0f} s (comm.timeout_seconds) for the other ranks: some "
              "rank did not arrive (stopped, hung, or too slow to start); ending the job",
              seconds);
    abort_mpi_job();
  });
}

StartUpDeadline::~StartUpDeadline() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    done_ = true;
  }
  done_changed_.notify_all();
  if (thread_.joinable()) thread_.join();
}

[[noreturn]] void abort_mpi_job() {
  std::thread([] {
    std::this_thread::sleep_for(std::chrono::duration<double>(kAbortSeconds));
    log_error("the job's abort has not completed in {:.0f} s (a lost host?); this rank ends itself", kAbortSeconds);
    std::_Exit(1);
  }).detach();
  MPI_Abort(MPI_COMM_WORLD, 1);
  std::abort();  // MPI_Abort does not return; this satisfies [[noreturn]] if it ever did
}

}  // namespace rt
