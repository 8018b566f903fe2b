#include "comm/mpi_communicator.h"

#include <algorithm>
#include <chrono>
#include <climits>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "comm/collective_verifier.h"
#include "comm/collective_watchdog.h"
#include "core/base/check_mpi.h"
#include "core/base/logging.h"

namespace rt {

namespace {

MPI_Datatype mpi_type(DType dtype) {
  switch (dtype) {
    case DType::kFloat32: return MPI_FLOAT;
    case DType::kFloat64: return MPI_DOUBLE;
    case DType::kInt32: return MPI_INT32_T;
    case DType::kInt64: return MPI_INT64_T;
    case DType::kUInt8: return MPI_UINT8_T;
    case DType::kBFloat16:
    case DType::kFloat16: return MPI_UINT16_T;
  }
  RT_FAIL("no MPI type for dtype {}", dtype_name(dtype));
}

MPI_Op mpi_op(ReduceOp op) {
  switch (op) {
    case ReduceOp::kSum:
    case ReduceOp::kAverage: return MPI_SUM;
    case ReduceOp::kMin: return MPI_MIN;
    case ReduceOp::kMax: return MPI_MAX;
  }
  RT_FAIL("unknown reduce op");
}

// MPI counts are int: walk a large buffer in pieces of at most INT_MAX (or `most`) elements.
template <typename Call>
void in_pieces(size_t count, Call call, size_t most = INT_MAX) {
  const size_t piece = std::min<size_t>(std::max<size_t>(most, 1), INT_MAX);
  for (size_t offset = 0; offset < count; offset += piece) {
    call(offset, static_cast<int>(std::min(piece, count - offset)));
  }
}

// Between ranks of one machine an all-reduce goes through shared memory, and Open MPI's runs at
// memory speed once a message outgrows the caches; the same bytes in cache-sized calls go 1.6-1.9x
// faster at 64-256 MiB (benchmarks/allreduce, docs/performance.md). So there the all-reduce is
// done in pieces of this size.
constexpr size_t kSharedMemoryPieceBytes = size_t{4} << 20;
// Started sums on the wire at once while their caller sleeps between looks (one after an eager
// look; kLatencyForMoreSums for networks with latency): two keep a slow link busy while one waits
// for the next look between its steps, where more at once were slower on a fast one
// (docs/performance.md, "Non-blocking buckets").
constexpr size_t kSumsOnTheWireWhileAsleep = 2;
// Where a small all-reduce takes this long, each step of a sum waits for the network more than
// it moves bytes: four sums on the wire at once, also once the caller looks without sleeping.
// Between two pretend hosts with 250 us each way this made 1 MiB buckets 2x and 25 MiB ones 1.2x
// faster; with no delay it cost 10-20% (docs/performance.md, "A wire with latency").
constexpr double kLatencyForMoreSums = 150e-6;
constexpr size_t kSumsOnTheWireWithLatency = 4;

// The mean time of a few back-to-back one-element all-reduces, the slowest rank's (the same on all).
double time_small_all_reduce(MPI_Comm comm) {
  constexpr int kWarmUp = 2, kTimed = 8;
  int value = 0;
  for (int i = 0; i < kWarmUp; ++i) RT_CHECK_MPI(MPI_Allreduce(MPI_IN_PLACE, &value, 1, MPI_INT, MPI_SUM, comm));
  const double start = MPI_Wtime();
  for (int i = 0; i < kTimed; ++i) RT_CHECK_MPI(MPI_Allreduce(MPI_IN_PLACE, &value, 1, MPI_INT, MPI_SUM, comm));
  double mine = (MPI_Wtime() - start) / kTimed, slowest = 0;
  RT_CHECK_MPI(MPI_Allreduce(&mine, &slowest, 1, MPI_DOUBLE, MPI_MAX, comm));
  return slowest;
}

// MPI_User_function: inout[i] = in[i] + inout[i], in float32, rounded back to 16 bits.
template <typename Half, Half (*from_float)(float)>
void sum_16bit(void* in, void* inout, int* count, MPI_Datatype*) {
  const Half* a = static_cast<const Half*>(in);
  Half* b = static_cast<Half*>(inout);
  for (int i = 0; i < *count; ++i) b[i] = from_float(to_float(a[i]) + to_float(b[i]));
}

// RINGTRAIN_RANKS_PER_NODE=K splits the ranks into pretend nodes of K; 0 when unset.
int pretend_ranks_per_node() {
  const char* text = std::getenv("RINGTRAIN_RANKS_PER_NODE");
  if (!text) return 0;
  char* end = nullptr;
  long value = std::strtol(text, &end, 10);
  RT_CHECK(end != text && *end == '\0' && value > 0, "RINGTRAIN_RANKS_PER_NODE=\"{}\" is not a positive integer", text);
  return static_cast<int>(value);
}

template <typename T>
void scale(void* data, size_t count, T factor) {
  T* values = static_cast<T*>(data);
  for (size_t i = 0; i < count; ++i) values[i] *= factor;
}

}  // namespace

MpiCommunicator::MpiCommunicator(const CommunicatorOptions& options)
    : hierarchical_(options.hierarchical), timeout_seconds_(options.collective_timeout_seconds) {
  const bool verify_collectives = options.verify_collectives;
  const CommunicatorOptions::StartedAllReduces started = options.started_all_reduces;
  int world_size = 0;
  RT_CHECK_MPI(MPI_Comm_size(MPI_COMM_WORLD, &world_size));
  const StartUpDeadline deadline(world_size > 1 ? timeout_seconds_ : 0.0);
  RT_CHECK_MPI(MPI_Comm_dup(MPI_COMM_WORLD, &comm_));
  RT_CHECK_MPI(MPI_Comm_set_errhandler(comm_, MPI_ERRORS_RETURN));
  RT_CHECK_MPI(MPI_Comm_rank(comm_, &rank_));
  RT_CHECK_MPI(MPI_Comm_size(comm_, &size_));
  RT_CHECK_MPI(MPI_Op_create(&sum_16bit<bfloat16, to_bfloat16>, 1, &bfloat16_sum_));
  RT_CHECK_MPI(MPI_Op_create(&sum_16bit<float16, to_float16>, 1, &float16_sum_));
  ordered_ = std::make_unique<OrderedSum>(comm_);
  if (hierarchical_) {
    int per_node = pretend_ranks_per_node();
    if (per_node > 0) {
      RT_CHECK_MPI(MPI_Comm_split(comm_, rank_ / per_node, rank_, &node_));
    } else {
      RT_CHECK_MPI(MPI_Comm_split_type(comm_, MPI_COMM_TYPE_SHARED, rank_, MPI_INFO_NULL, &node_));
    }
    int node_rank = 0;
    RT_CHECK_MPI(MPI_Comm_rank(node_, &node_rank));
    RT_CHECK_MPI(MPI_Comm_split(comm_, node_rank == 0 ? 0 : MPI_UNDEFINED, rank_, &leaders_));
    int leader = node_rank == 0 ? 1 : 0;
    RT_CHECK_MPI(MPI_Allreduce(&leader, &nodes_, 1, MPI_INT, MPI_SUM, comm_));
  }
  {
    MPI_Comm machine = MPI_COMM_NULL;
    RT_CHECK_MPI(MPI_Comm_split_type(comm_, MPI_COMM_TYPE_SHARED, rank_, MPI_INFO_NULL, &machine));
    int machine_size = 0;
    RT_CHECK_MPI(MPI_Comm_size(machine, &machine_size));
    RT_CHECK_MPI(MPI_Comm_free(&machine));
    RT_CHECK_MPI(MPI_Allreduce(&machine_size, &most_ranks_on_a_machine_, 1, MPI_INT, MPI_MAX, comm_));
  }
  if (options.shared_memory_sums && one_machine() && size_ > 1 && !hierarchical_) {
    shared_ = std::make_unique<SharedMemorySum>(comm_);
  }
  using Started = CommunicatorOptions::StartedAllReduces;
  RT_CHECK(!(hierarchical_ && started == Started::kNonBlocking),
           "non-blocking gradient all-reduces and the hierarchical all-reduce do not go together");
  // Auto: non-blocking only where every rank has its machine to itself. Where ranks share one, the
  // ring's hops between them are shared-memory copies (work, not waiting), and Open MPI moves a
  // non-blocking sum a step only when it is looked at: 2 hosts x 2 ranks took 0.84x the time of
  // per-tensor calls non-blocking against 1.64x blocking (docs/performance.md, "A wire with latency").
  nonblocking_ = size_ > 1 && (started == Started::kNonBlocking ||
                               (started == Started::kAuto && most_ranks_on_a_machine_ == 1 && !hierarchical_));
  sums_on_the_wire_asleep_ = kSumsOnTheWireWhileAsleep;
  sums_on_the_wire_eager_ = 1;
  if (nonblocking_) {
    small_all_reduce_seconds_ = time_small_all_reduce(comm_);
    if (small_all_reduce_seconds_ >= kLatencyForMoreSums) {
      sums_on_the_wire_asleep_ = sums_on_the_wire_eager_ = kSumsOnTheWireWithLatency;
    }
  }
  if (nonblocking_ && size_ > 2) {
    // Ordered sums are two collectives each (exchange, then gather), started as the one before
    // finishes: those on the wire at once would begin their steps in different orders on different
    // ranks, which MPI does not allow on one communicator. So each has its own, taken in turn.
    const size_t at_once = std::max(sums_on_the_wire_asleep_, sums_on_the_wire_eager_);
    for (size_t i = 0; i < at_once; ++i) {
      MPI_Comm& comm = started_sum_comms_.emplace_back(MPI_COMM_NULL);
      RT_CHECK_MPI(MPI_Comm_dup(comm_, &comm));
      started_ordered_sums_.push_back(std::make_unique<OrderedSum>(comm));
    }
  }
  if (verify_collectives && size_ > 1) verifier_ = std::make_unique<CollectiveVerifier>(comm_);
  if (timeout_seconds_ > 0 && size_ > 1) {
    watchdog_ = std::make_unique<CollectiveWatchdog>(comm_, timeout_seconds_,
                                                     [this] { return collective_in_progress(); });
  }
}

MpiCommunicator::~MpiCommunicator() {
  watchdog_.reset();  // stops watching first (at the job's end, once the ranks it watches are done)
  verifier_.reset();
  shared_.reset();
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (finalized) return;
  for (MPI_Comm& comm : started_sum_comms_) MPI_Comm_free(&comm);
  for (MPI_Comm* comm : {&leaders_, &node_, &comm_}) {
    if (*comm != MPI_COMM_NULL) MPI_Comm_free(comm);
  }
  for (MPI_Op* op : {&bfloat16_sum_, &float16_sum_}) {
    if (*op != MPI_OP_NULL) MPI_Op_free(op);
  }
}

std::string MpiCommunicator::backend() const {
  if (hierarchical_) return "mpi-hierarchical";
  if (!nonblocking_) return shared_ ? "mpi (float sums in shared memory)" : "mpi";
  if (sums_on_the_wire_eager_ == 1) return "mpi-nonblocking";
  return fmt::format("mpi-nonblocking, {} sums at once (a small all-reduce takes {:.0f} us)", sums_on_the_wire_eager_,
                     small_all_reduce_seconds_ * 1e6);
}

size_t MpiCommunicator::all_reduce_piece_bytes() const {
  return one_machine() && !hierarchical_ ? kSharedMemoryPieceBytes : 0;
}

bool MpiCommunicator::sums_floats(DType dtype, ReduceOp op) {
  return (op == ReduceOp::kSum || op == ReduceOp::kAverage) &&
         (dtype == DType::kFloat32 || dtype == DType::kBFloat16 || dtype == DType::kFloat16);
}

bool MpiCommunicator::sums_in_shared_memory(size_t count, DType dtype, ReduceOp op) const {
  // A few KiB go faster in MPI's own eager messages than through two barriers (4 KiB: 0.65x).
  constexpr size_t kLeastBytes = size_t{16} << 10;
  return shared_ && sums_floats(dtype, op) && count * dtype_size(dtype) >= kLeastBytes;
}

bool MpiCommunicator::ordered(DType dtype, ReduceOp op) const {
  // Two ranks add x0 + x1 in any algorithm (the sum is commutative); from three on, the order is ours.
  return size_ > 2 && sums_floats(dtype, op);
}

MPI_Op MpiCommunicator::operation_for(DType dtype, ReduceOp op) const {
  if (dtype == DType::kBFloat16) return bfloat16_sum_;
  if (dtype == DType::kFloat16) return float16_sum_;
  return mpi_op(op);
}

void MpiCommunicator::all_reduce_piece(void* data, int count, DType dtype, ReduceOp op) {
  MPI_Op mpi_operation = operation_for(dtype, op);
  MPI_Datatype type = mpi_type(dtype);
  if (!hierarchical_ || nodes_ == 1 || nodes_ == size_) {
    if (sums_in_shared_memory(static_cast<size_t>(count), dtype, op)) {
      shared_->sum(data, static_cast<size_t>(count), dtype);
    } else if (ordered(dtype, op)) {
      ordered_->sum(data, count, dtype);
    } else {
      RT_CHECK_MPI(MPI_Allreduce(MPI_IN_PLACE, data, count, type, mpi_operation, comm_));
    }
    return;
  }
  // Reduce onto the node leader, all-reduce among leaders, broadcast from the leader: every rank
  // ends with the leaders' result, so all ranks agree bitwise.
  int node_rank = 0;
  RT_CHECK_MPI(MPI_Comm_rank(node_, &node_rank));
  if (node_rank == 0) {
    RT_CHECK_MPI(MPI_Reduce(MPI_IN_PLACE, data, count, type, mpi_operation, 0, node_));
    RT_CHECK_MPI(MPI_Allreduce(MPI_IN_PLACE, data, count, type, mpi_operation, leaders_));
  } else {
    RT_CHECK_MPI(MPI_Reduce(data, nullptr, count, type, mpi_operation, 0, node_));
  }
  RT_CHECK_MPI(MPI_Bcast(data, count, type, 0, node_));
}

void MpiCommunicator::verify_call() {
  if (verifier_) verifier_->verify(collective_fingerprint(), newest_collective());
}

void MpiCommunicator::all_reduce_elements(void* data, size_t count, DType dtype, ReduceOp op) {
  check_reduction(dtype, op);
  verify_call();
  auto* bytes = static_cast<char*>(data);
  size_t element = dtype_size(dtype);
  const size_t most = all_reduce_piece_bytes() > 0 ? all_reduce_piece_bytes() / element : INT_MAX;
  in_pieces(count, [&](size_t offset, int piece) { all_reduce_piece(bytes + offset * element, piece, dtype, op); },
            most);
  if (op == ReduceOp::kAverage && size_ > 1) {
    if (dtype == DType::kFloat32) scale(data, count, 1.0f / static_cast<float>(size_));
    if (dtype == DType::kFloat64) scale(data, count, 1.0 / static_cast<double>(size_));
  }
}

bool MpiCommunicator::sum_checking_finite_elements(float* data, size_t count) {
  if (!sums_in_shared_memory(count, DType::kFloat32, ReduceOp::kSum)) {
    return Communicator::sum_checking_finite_elements(data, count);
  }
  verify_call();
  bool finite = true;
  shared_->sum(data, count, DType::kFloat32, &finite);
  return finite;
}

void MpiCommunicator::start_sum(void* data, size_t count, DType dtype) {
  if (!nonblocking_) {
    all_reduce_elements(data, count, dtype, ReduceOp::kSum);
    return;
  }
  check_reduction(dtype, ReduceOp::kSum);
  RT_CHECK(count <= INT_MAX, "a started all-reduce of {} elements is more than one MPI call takes; use smaller "
           "buckets (comm.bucket_mb)", count);
  StartedSum& sum = started_sums_.emplace_back();
  sum.data = data;
  sum.count = static_cast<int>(count);
  sum.dtype = dtype;
  if (verifier_) {
    verifier_->start(collective_fingerprint(), newest_collective(), sum.header);
  } else {
    sum.stage = StartedSum::kChecked;
  }
  move_sums_on();
}

void MpiCommunicator::move_sums_on() {
  // Each sum's data starts once its header has been compared and there is room on the wire (two
  // sums, or one after an eager look; four on a network with latency), in the order the sums were
  // started (the same on every rank).
  size_t summing = 0;
  for (StartedSum& sum : started_sums_) {
    if (sum.stage == StartedSum::kSumming) {
      ++summing;
      continue;
    }
    if (summing >= (looked_eagerly_ ? sums_on_the_wire_eager_ : sums_on_the_wire_asleep_)) return;
    if (sum.stage == StartedSum::kHeader && !verifier_->finished(sum.header)) return;
    if (ordered(sum.dtype, ReduceOp::kSum)) {
      // Sums start in the same order on every rank, at most as many at once as there are ordered
      // sums: the one in turn has finished here.
      sum.ordered = started_ordered_sums_[ordered_sums_started_++ % started_ordered_sums_.size()].get();
      sum.ordered->start(sum.data, sum.count, sum.dtype);
    } else {
      RT_CHECK_MPI(MPI_Iallreduce(MPI_IN_PLACE, sum.data, sum.count, mpi_type(sum.dtype),
                                  operation_for(sum.dtype, ReduceOp::kSum), comm_, &sum.data_request));
    }
    sum.stage = StartedSum::kSumming;
    ++summing;
  }
}

size_t MpiCommunicator::sums_under_way(bool eager) {
  looked_eagerly_ = eager;
  // MPI_Test moves every request on; the oldest is tested first, and the rest only after it is
  // done. Then the sums whose turn has come start, in the places the finished ones left.
  while (!started_sums_.empty() && started_sums_.front().stage == StartedSum::kSumming) {
    StartedSum& oldest = started_sums_.front();
    if (oldest.ordered) {
      if (!oldest.ordered->test()) break;
    } else {
      int done = 0;
      RT_CHECK_MPI(MPI_Test(&oldest.data_request, &done, MPI_STATUS_IGNORE));
      if (!done) break;
    }
    started_sums_.pop_front();
  }
  move_sums_on();
  return started_sums_.size();
}

void MpiCommunicator::broadcast_elements(void* data, size_t count, DType dtype, int root) {
  RT_CHECK(root >= 0 && root < size_, "broadcast root {} is not a rank of {}", root, size_);
  verify_call();
  auto* bytes = static_cast<char*>(data);
  size_t element = dtype_size(dtype);
  in_pieces(count, [&](size_t offset, int piece) {
    RT_CHECK_MPI(MPI_Bcast(bytes + offset * element, piece, mpi_type(dtype), root, comm_));
  });
}

void MpiCommunicator::all_gather_elements(const void* sent, void* received, size_t count, DType dtype) {
  RT_CHECK(count <= static_cast<size_t>(INT_MAX), "all_gather of {} elements per rank exceeds MPI's int count", count);
  verify_call();
  RT_CHECK_MPI(MPI_Allgather(sent, static_cast<int>(count), mpi_type(dtype), received, static_cast<int>(count),
                             mpi_type(dtype), comm_));
}

void MpiCommunicator::barrier_all() {
  verify_call();
  RT_CHECK_MPI(MPI_Barrier(comm_));
}

void MpiCommunicator::abort(const std::string& reason) {
  log_error("aborting the job: {}", reason);
  abort_mpi_job();
}

}  // namespace rt
