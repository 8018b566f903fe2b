// The Communicator: how the ranks of a job talk. It knows nothing of tensors or layers; it moves
// typed spans of elements. The typed wrappers compute element counts and types, so no caller ever
// passes bytes where elements are meant. Backends: MPI (mpi_communicator.h), a single process
// (single_process_communicator.h), and NCCL for GPU memory (nccl_communicator.h).
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "core/base/dtype.h"
#include "core/base/hash.h"
#include "core/base/span.h"

namespace rt {

enum class ReduceOp { kSum, kAverage, kMin, kMax };

enum class CollectiveKind : int64_t { kAllReduce = 1, kBroadcast = 2, kAllGather = 3, kBarrier = 4 };

// One collective as this rank called it: its place in the sequence of this communicator's
// collectives, what it was and how many elements of which type.
struct CollectiveCall {
  uint64_t sequence = 0;  // 1 for the first
  CollectiveKind kind = CollectiveKind::kBarrier;
  uint64_t count = 0;
  DType dtype = DType::kUInt8;
};
// "#57 all-reduce of 1000 float32"
std::string describe(const CollectiveCall& call);
bool operator==(const CollectiveCall& a, const CollectiveCall& b);
inline bool operator!=(const CollectiveCall& a, const CollectiveCall& b) { return !(a == b); }

// A CollectiveCall as kCallWords int64 words, for exchanging between ranks, and back.
constexpr size_t kCallWords = 4;
void encode_call(const CollectiveCall& call, int64_t* words);
CollectiveCall decode_call(const int64_t* words);

// How long a thread waiting for started all-reduces sleeps between looks: short beside a bucket's
// time on the wire (a MiB takes 0.8 ms at 10 Gbit/s), long beside a look (a few microseconds).
constexpr std::chrono::microseconds kSumPollInterval{100};

class Communicator {
 public:
  virtual ~Communicator() = default;

  virtual int rank() const = 0;
  virtual int size() const = 0;
  virtual std::string backend() const = 0;
  // Larger all-reduces go faster in pieces of this many bytes (0: in one call), and a caller that
  // works on the result may as well take it piece by piece, while it is in cache.
  virtual size_t all_reduce_piece_bytes() const { return 0; }

  // In place: every rank ends with the element-wise reduction over all ranks, bitwise the same on
  // every rank. kAverage is for float and double; bfloat16 and float16 support kSum alone (summed
  // in float32 at each step, rounded back to 16 bits).
  template <typename T>
  void all_reduce(Span<T> buffer, ReduceOp op) {
    Tracked call(*this, CollectiveKind::kAllReduce, buffer.size(), dtype_of<T>());
    all_reduce_elements(buffer.data(), buffer.size(), dtype_of<T>(), op);
  }
  template <typename T>
  T all_reduce_value(T value, ReduceOp op) {
    all_reduce(Span<T>(&value, 1), op);
    return value;
  }
  // A float32 sum in place (as all_reduce with kSum), and whether every sum is finite: the same
  // answer on every rank. Where the backend can, the check is made while summing.
  bool sum_checking_finite(Span<float> buffer) {
    Tracked call(*this, CollectiveKind::kAllReduce, buffer.size(), DType::kFloat32);
    return sum_checking_finite_elements(buffer.data(), buffer.size());
  }
  // Every rank ends with root's elements.
  template <typename T>
  void broadcast(Span<T> buffer, int root) {
    Tracked call(*this, CollectiveKind::kBroadcast, buffer.size(), dtype_of<T>());
    broadcast_elements(buffer.data(), buffer.size(), dtype_of<T>(), root);
  }
  // received holds size() blocks of sent.size() elements, rank r's block at r * sent.size().
  template <typename T>
  void all_gather(Span<const T> sent, Span<T> received) {
    check_all_gather_sizes(sent.size(), received.size());
    Tracked call(*this, CollectiveKind::kAllGather, sent.size(), dtype_of<T>());
    all_gather_elements(sent.data(), received.data(), sent.size(), dtype_of<T>());
  }
  void barrier() {
    Tracked call(*this, CollectiveKind::kBarrier, 0, DType::kUInt8);
    barrier_all();
  }

  // Sums started now and finished later, for gradient buckets: where starts_all_reduces(), the
  // sum of `buffer` (in place) may still be under way when start_all_reduce() returns, and the
  // buffer must not be touched until all_reduces_finished() reaches the ticket it returned. Only
  // one thread at a time calls these, and no other collective is called while sums are under way.
  // Elsewhere the sum is done on return (the ticket is finished at once).
  virtual bool starts_all_reduces() const { return false; }
  template <typename T>
  uint64_t start_all_reduce(Span<T> buffer) {
    const uint64_t ticket = begin_started(CollectiveKind::kAllReduce, buffer.size(), dtype_of<T>());
    try {
      start_sum(buffer.data(), buffer.size(), dtype_of<T>());
    } catch (...) {
      finish_started_leaving(0);
      throw;
    }
    if (!starts_all_reduces()) finish_started_leaving(0);
    return ticket;
  }
  // How many of the all-reduces started so far have finished, in the order they were started
  // (moving the others on). `eager`: the caller looks again at once rather than asleep in between
  // (backward is over): the backend may then pace the sums differently (MPI: one on the wire at a
  // time rather than two).
  uint64_t all_reduces_finished(bool eager = false) {
    if (starts_all_reduces()) finish_started_leaving(sums_under_way(eager));
    return finished_calls();
  }

  // A hash of every collective this rank has called, in order, with kinds, counts and types: equal
  // on all ranks exactly when they called the same collectives (check_collectives_agree compares it).
  uint64_t collective_fingerprint() const;
  // The last collective this rank completed (sequence 0 if none).
  CollectiveCall last_collective() const;
  // The last collective this rank called (started, in progress or completed).
  CollectiveCall newest_collective() const;
  // The collective in progress on this rank and when it began, if any (of started all-reduces,
  // the oldest unfinished).
  std::optional<std::pair<CollectiveCall, std::chrono::steady_clock::time_point>> collective_in_progress() const;
  // Ends every process of the job with a non-zero exit status; `reason` is logged first.
  [[noreturn]] virtual void abort(const std::string& reason) = 0;

 protected:
  virtual void all_reduce_elements(void* data, size_t count, DType dtype, ReduceOp op) = 0;
  virtual void broadcast_elements(void* data, size_t count, DType dtype, int root) = 0;
  virtual void all_gather_elements(const void* sent, void* received, size_t count, DType dtype) = 0;
  virtual void barrier_all() = 0;
  // The default sums, then checks.
  virtual bool sum_checking_finite_elements(float* data, size_t count);
  // Starts a sum in place (the default: sums at once).
  virtual void start_sum(void* data, size_t count, DType dtype) { all_reduce_elements(data, count, dtype, ReduceOp::kSum); }
  // How many started sums are not finished yet (moving them on); with starts_all_reduces() only.
  virtual size_t sums_under_way(bool eager) { return 0; }

  // Throws unless `op` is defined for `dtype` (see all_reduce).
  static void check_reduction(DType dtype, ReduceOp op);

 private:
  // Records a collective from its start to its end (also when it throws).
  class Tracked {
   public:
    Tracked(Communicator& comm, CollectiveKind kind, size_t count, DType dtype) : comm_(comm) {
      comm_.begin_collective(kind, count, dtype);
    }
    ~Tracked() { comm_.end_collective(); }
    Tracked(const Tracked&) = delete;
    Tracked& operator=(const Tracked&) = delete;

   private:
    Communicator& comm_;
  };
  void begin_collective(CollectiveKind kind, size_t count, DType dtype);
  void end_collective();
  // Started all-reduces: counted into the fingerprint when started, finished in order.
  CollectiveCall record_call(CollectiveKind kind, size_t count, DType dtype);  // calls_mutex_ held
  uint64_t begin_started(CollectiveKind kind, size_t count, DType dtype);  // returns its ticket
  void finish_started_leaving(size_t under_way);  // all but the newest `under_way` are done
  uint64_t finished_calls() const;
  void check_all_gather_sizes(size_t sent, size_t received) const;

  mutable std::mutex calls_mutex_;
  uint64_t calls_ = 0;
  uint64_t fingerprint_ = kFnvOffset;
  CollectiveCall current_;
  CollectiveCall last_;
  CollectiveCall newest_;
  bool in_progress_ = false;
  std::chrono::steady_clock::time_point started_;
  // Started all-reduces not yet finished, oldest first, with when they started.
  std::deque<std::pair<CollectiveCall, std::chrono::steady_clock::time_point>> under_way_;
  uint64_t finished_count_ = 0;  // started all-reduces finished; with under_way_, those started
};

const char* reduce_op_name(ReduceOp op);

struct CommunicatorOptions {
  // All-reduce in three stages: reduce within each node, all-reduce among the node leaders,
  // broadcast within each node. Nodes are the ranks sharing memory (MPI_Comm_split_type), or, when
  // the environment variable RINGTRAIN_RANKS_PER_NODE=K is set, consecutive groups of K ranks
  // (pretend nodes, to test the hierarchy on one machine).
  bool hierarchical = false;
  // A collective that waits longer than this ends the job with a report of which ranks did not
  // arrive (MPI only; 0: no watchdog).
  double collective_timeout_seconds = 0;
  // Before each collective, ranks compare what they are about to call (kind, count, type, and the
  // fingerprint of all collectives before it) on a communicator of its own: ranks that differ are
  // named before any data moves, instead of hanging or mixing buffers of different layouts.
  // Costs one 16-byte all-reduce per collective.
  bool verify_collectives = true;
  // How started all-reduces (gradient buckets) wait: kAuto starts them without waiting where each
  // rank has a machine to itself (the wait is for the network: a communication thread that sleeps
  // between looks leaves the core to backward) and sums at once where ranks share a machine (where
  // shared memory's copies are the work) or in the hierarchy.
  enum class StartedAllReduces { kAuto, kNonBlocking, kBlocking };
  StartedAllReduces started_all_reduces = StartedAllReduces::kAuto;
  // Where every rank is on one machine, floating-point sums go through a shared-memory window
  // (shared_memory_sum.h) rather than MPI's messages: the same sums, fewer passes over memory.
  bool shared_memory_sums = true;
};

// The names comm.nonblocking takes: "auto", "on" (kNonBlocking) or "off" (kBlocking).
const std::vector<std::pair<std::string, CommunicatorOptions::StartedAllReduces>>& started_all_reduces_names();
CommunicatorOptions::StartedAllReduces parse_started_all_reduces(const std::string& name);

// MPI when MPI is initialised, a single process otherwise.
std::unique_ptr<Communicator> make_world_communicator(const CommunicatorOptions& options = {});

// `root`'s text on every rank (its length agreed first; an empty text moves no bytes). A collective.
std::string broadcast_text(Communicator& comm, std::string text, int root = 0);

}  // namespace rt
