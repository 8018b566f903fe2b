// The MPI backend of Communicator, over its own duplicate of MPI_COMM_WORLD (errors returned and
// thrown, never fatal). Element counts above INT_MAX are sent in several calls; when every rank is
// on one machine, all-reduces go in pieces of 4 MiB, which shared memory reduces in cache. bfloat16 and
// float16 travel as 16-bit words reduced by MPI operations of our own. From 3 ranks on, sums of
// floating-point values (blocking or started) are OrderedSums, which add in an order fixed by the
// rank count, whatever the layout. With `hierarchical`, an all-reduce runs as reduce in the node,
// all-reduce among node leaders, broadcast in the node.
//
// Started all-reduces (gradient buckets, see Communicator::start_all_reduce) are non-blocking
// calls where each rank has a machine to itself (or where asked for), moved on by MPI_Test from a
// caller that may sleep between looks, instead of a blocking call that spins on a core while the
// network works. Their verification header is such a call too, and a sum's data starts once its
// header has been compared (never waited for in start: it may be queued behind megabytes of data),
// in the order they were started: two at a time while the caller sleeps between looks (the other
// fills the gaps a sum's steps leave on the wire until the next look), one at a time while it
// looks without sleeping (more at once were slower where the link is as fast as the cores); four
// at a time in both where a one-element all-reduce, timed at construction, takes 150 us or more
// (there each step of a sum waits for the network more than it moves bytes).
//
// With a collective timeout, a watchdog thread watches this rank's collective in progress. Past
// the timeout it reports to rank 0 (on a communicator of its own) which collective it waits in;
// rank 0 gathers the reports for a moment and ends the job with one message naming the ranks that
// did not arrive and those that wait in a different collective. If rank 0 itself is the one
// missing, every other rank ends the job with its own report shortly after. Beside that, the
// watchdogs exchange heartbeats (comm/heartbeats.h): a rank that gives no sign of life for the
// timeout (stopped, hung in the kernel, its host lost) ends the job at once, named, even while the
// others are still busy computing, and at the job's end each rank's watchdog waits for the ranks
// it watches to finish too, so that one stopped after the last collective does not leave the
// launcher waiting. The constructor's own collectives, which come before the watchdog, are bounded
// by the same timeout: past it a rank still waiting in them ends the job.
#pragma once

#include <mpi.h>

#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "comm/communicator.h"
#include "comm/heartbeats.h"
#include "comm/ordered_sum.h"

namespace rt {

class MpiCommunicator final : public Communicator {
 public:
  // Requires MPI to be initialised. A timeout of 0 starts no watchdog.
  explicit MpiCommunicator(bool hierarchical = false, double collective_timeout_seconds = 0,
                           bool verify_collectives = false,
                           CommunicatorOptions::StartedAllReduces started = CommunicatorOptions::StartedAllReduces::kAuto);
  ~MpiCommunicator() override;

  int rank() const override { return rank_; }
  int size() const override { return size_; }
  // "mpi", "mpi-hierarchical" or "mpi-nonblocking" (with the sums on the wire at once where the
  // network has latency).
  std::string backend() const override;
  size_t all_reduce_piece_bytes() const override;
  bool starts_all_reduces() const override { return nonblocking_; }
  // Nodes seen by the hierarchical all-reduce (1 when it is off).
  int nodes() const { return nodes_; }

  [[noreturn]] void abort(const std::string& reason) override;

 protected:
  void all_reduce_elements(void* data, size_t count, DType dtype, ReduceOp op) override;
  void broadcast_elements(void* data, size_t count, DType dtype, int root) override;
  void all_gather_elements(const void* sent, void* received, size_t count, DType dtype) override;
  void barrier_all() override;
  void start_sum(void* data, size_t count, DType dtype) override;
  size_t sums_under_way(bool eager) override;

 private:
  void all_reduce_piece(void* data, int count, DType dtype, ReduceOp op);
  // Whether a flat sum of `dtype` goes through an OrderedSum: floating-point sums from 3 ranks on,
  // so that blocking and started sums, in any layout, add in the same order.
  bool ordered(DType dtype, ReduceOp op) const;
  // The MPI operation of `op` on `dtype` (16-bit sums are our own operations).
  MPI_Op operation_for(DType dtype, ReduceOp op) const;
  // With verify_collectives: throws on every rank, naming them, unless all are about to call the same collective.
  void verify_call();
  // The newest call's header: its fingerprint and the complement.
  void newest_header(int64_t* header) const;
  // Throws on every rank, naming what each calls, unless the headers' MAX over the ranks agree.
  void check_header(const int64_t* header, const CollectiveCall& call);
  // Started sums: starts the data of those whose header has been compared, in order.
  void move_sums_on();
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

  MPI_Comm comm_ = MPI_COMM_NULL;
  MPI_Comm node_ = MPI_COMM_NULL;     // hierarchical: the ranks of this node
  MPI_Comm leaders_ = MPI_COMM_NULL;  // hierarchical: rank 0 of every node (null elsewhere)
  bool hierarchical_ = false;
  int most_ranks_on_a_machine_ = 1;  // the largest count of ranks sharing a machine
  // Every rank on this machine: all-reduces in cache-sized pieces.
  bool one_machine() const { return most_ranks_on_a_machine_ == size_; }
  int nodes_ = 1;
  int rank_ = 0;
  int size_ = 1;
  MPI_Op bfloat16_sum_ = MPI_OP_NULL;
  MPI_Op float16_sum_ = MPI_OP_NULL;
  bool nonblocking_ = false;  // start_sum returns before the sum is done
  // A started sum: its header on verify_comm_ first (with verify_collectives), then its data.
  struct StartedSum {
    enum Stage { kHeader, kChecked, kSumming } stage = kHeader;
    CollectiveCall call;
    int64_t header[2] = {0, 0};
    MPI_Request header_request = MPI_REQUEST_NULL;
    MPI_Request data_request = MPI_REQUEST_NULL;
    void* data = nullptr;
    int count = 0;
    DType dtype = DType::kFloat32;
    OrderedSum* ordered = nullptr;  // summing in our order (else data_request)
  };
  // Started sums from 3 ranks on: as many as may be on the wire at once, each on a communicator of
  // its own, taken in turn.
  std::vector<MPI_Comm> started_sum_comms_;
  std::vector<std::unique_ptr<OrderedSum>> started_ordered_sums_;
  uint64_t ordered_sums_started_ = 0;
  std::unique_ptr<OrderedSum> ordered_;  // the blocking sums' (from 3 ranks on)
  std::deque<StartedSum> started_sums_;  // oldest first; a deque keeps their addresses
  bool looked_eagerly_ = false;  // the last look did not sleep: sums_on_the_wire_eager_ at a time
  // Sums on the wire at once, set at construction (more where a small all-reduce is slow).
  size_t sums_on_the_wire_asleep_ = 0, sums_on_the_wire_eager_ = 0;
  double small_all_reduce_seconds_ = 0;  // measured at construction where sums are non-blocking

  double timeout_seconds_ = 0;
  std::vector<std::string> hosts_;  // rank -> host, gathered when a watchdog runs
  MPI_Comm verify_comm_ = MPI_COMM_NULL;  // verify_collectives: headers travel here, apart from data
  MPI_Comm watchdog_comm_ = MPI_COMM_NULL;
  std::unique_ptr<Heartbeats> heartbeats_;  // the watchdog thread's own
  std::thread watchdog_;
  std::mutex watchdog_mutex_;
  std::condition_variable watchdog_stop_;
  bool stopping_ = false;
  bool wait_for_goodbyes_ = true;
};

}  // namespace rt
