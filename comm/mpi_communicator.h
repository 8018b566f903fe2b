// The MPI backend of Communicator, over its own duplicate of MPI_COMM_WORLD (errors returned and
// thrown, never fatal). Element counts above INT_MAX are sent in several calls; when every rank is
// on one machine, all-reduces go in pieces of 4 MiB, which shared memory reduces in cache. bfloat16 and
// float16 travel as 16-bit words reduced by MPI operations of our own. From 3 ranks on, sums of
// floating-point values (blocking or started) are OrderedSums, which add in an order fixed by the
// rank count, whatever the layout; where every rank is on one machine they go through a shared-memory
// window instead (shared_memory_sum.h: the same sums). With `hierarchical`, an all-reduce runs as reduce in the node,
// all-reduce among node leaders, broadcast in the node.
//
// Started all-reduces (gradient buckets, see Communicator::start_all_reduce) are non-blocking
// calls where each rank has a machine to itself (or where asked for), moved on by MPI_Test from a
// caller that may sleep between looks, instead of a blocking call that spins on a core while the
// network works. Their verification header (collective_verifier.h) is such a call too, and a
// sum's data starts once its header has been compared (never waited for in start: it may be
// queued behind megabytes of data), in the order they were started: two at a time while the
// caller sleeps between looks (the other fills the gaps a sum's steps leave on the wire until the
// next look), one at a time while it looks without sleeping (more at once were slower where the
// link is as fast as the cores); four at a time in both where a one-element all-reduce, timed at
// construction, takes 150 us or more (there each step of a sum waits for the network more than
// it moves bytes).
//
// With a collective timeout, a CollectiveWatchdog (collective_watchdog.h) watches this rank's
// collectives and heartbeats; the constructor's own collectives, which come before it, are
// bounded by the same timeout: past it a rank still waiting in them ends the job.
#pragma once

#include <mpi.h>

#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "comm/communicator.h"
#include "comm/collective_verifier.h"
#include "comm/collective_watchdog.h"
#include "comm/ordered_sum.h"
#include "comm/shared_memory_sum.h"

namespace rt {

class MpiCommunicator final : public Communicator {
 public:
  // Requires MPI to be initialised. A collective timeout of 0 starts no watchdog.
  explicit MpiCommunicator(const CommunicatorOptions& options);
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
  // In the shared-memory window, each rank checks its slice as it adds it.
  bool sum_checking_finite_elements(float* data, size_t count) override;
  void start_sum(void* data, size_t count, DType dtype) override;
  size_t sums_under_way(bool eager) override;

 private:
  void all_reduce_piece(void* data, int count, DType dtype, ReduceOp op);
  // A sum (or average) of floating-point values.
  static bool sums_floats(DType dtype, ReduceOp op);
  // Whether this sum goes through the shared-memory window (the same bits as through MPI).
  bool sums_in_shared_memory(size_t count, DType dtype, ReduceOp op) const;
  // Whether a flat sum of `dtype` goes through an OrderedSum: floating-point sums from 3 ranks on,
  // so that blocking and started sums, in any layout, add in the same order.
  bool ordered(DType dtype, ReduceOp op) const;
  // The MPI operation of `op` on `dtype` (16-bit sums are our own operations).
  MPI_Op operation_for(DType dtype, ReduceOp op) const;
  // With verify_collectives: throws on every rank, naming them, unless all are about to call the same collective.
  void verify_call();
  // Started sums: starts the data of those whose header has been compared, in order.
  void move_sums_on();

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
  // A started sum: its header compared first (with verify_collectives), then its data.
  struct StartedSum {
    enum Stage { kHeader, kChecked, kSumming } stage = kHeader;
    CollectiveVerifier::Pending header;
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
  std::unique_ptr<SharedMemorySum> shared_;  // the blocking float sums' where all ranks share a machine
  std::deque<StartedSum> started_sums_;  // oldest first; a deque keeps their addresses
  bool looked_eagerly_ = false;  // the last look did not sleep: sums_on_the_wire_eager_ at a time
  // Sums on the wire at once, set at construction (more where a small all-reduce is slow).
  size_t sums_on_the_wire_asleep_ = 0, sums_on_the_wire_eager_ = 0;
  double small_all_reduce_seconds_ = 0;  // measured at construction where sums are non-blocking

  double timeout_seconds_ = 0;
  std::unique_ptr<CollectiveVerifier> verifier_;  // verify_collectives, more than one rank
  std::unique_ptr<CollectiveWatchdog> watchdog_;
};

}  // namespace rt
