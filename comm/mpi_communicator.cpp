#include "comm/mpi_communicator.h"

#include <algorithm>
#include <climits>
#include <cstdint>
#include <cstdlib>
#include <string>

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

// MPI counts are int: walk a large buffer in pieces of at most INT_MAX elements.
template <typename Call>
void in_pieces(size_t count, Call call) {
  constexpr size_t kMaxPiece = INT_MAX;
  for (size_t offset = 0; offset < count; offset += kMaxPiece) {
    call(offset, static_cast<int>(std::min(kMaxPiece, count - offset)));
  }
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

MpiCommunicator::MpiCommunicator(bool hierarchical) : hierarchical_(hierarchical) {
  RT_CHECK_MPI(MPI_Comm_dup(MPI_COMM_WORLD, &comm_));
  RT_CHECK_MPI(MPI_Comm_set_errhandler(comm_, MPI_ERRORS_RETURN));
  RT_CHECK_MPI(MPI_Comm_rank(comm_, &rank_));
  RT_CHECK_MPI(MPI_Comm_size(comm_, &size_));
  RT_CHECK_MPI(MPI_Op_create(&sum_16bit<bfloat16, to_bfloat16>, 1, &bfloat16_sum_));
  RT_CHECK_MPI(MPI_Op_create(&sum_16bit<float16, to_float16>, 1, &float16_sum_));
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
}

MpiCommunicator::~MpiCommunicator() {
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (finalized) return;
  for (MPI_Comm* comm : {&leaders_, &node_, &comm_}) {
    if (*comm != MPI_COMM_NULL) MPI_Comm_free(comm);
  }
  for (MPI_Op* op : {&bfloat16_sum_, &float16_sum_}) {
    if (*op != MPI_OP_NULL) MPI_Op_free(op);
  }
}

void MpiCommunicator::all_reduce_piece(void* data, int count, DType dtype, ReduceOp op) {
  MPI_Op mpi_operation = dtype == DType::kBFloat16 ? bfloat16_sum_ : dtype == DType::kFloat16 ? float16_sum_ : mpi_op(op);
  MPI_Datatype type = mpi_type(dtype);
  if (!hierarchical_ || nodes_ == 1 || nodes_ == size_) {
    RT_CHECK_MPI(MPI_Allreduce(MPI_IN_PLACE, data, count, type, mpi_operation, comm_));
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

void MpiCommunicator::all_reduce_elements(void* data, size_t count, DType dtype, ReduceOp op) {
  check_reduction(dtype, op);
  auto* bytes = static_cast<char*>(data);
  size_t element = dtype_size(dtype);
  in_pieces(count, [&](size_t offset, int piece) { all_reduce_piece(bytes + offset * element, piece, dtype, op); });
  if (op == ReduceOp::kAverage && size_ > 1) {
    if (dtype == DType::kFloat32) scale(data, count, 1.0f / static_cast<float>(size_));
    if (dtype == DType::kFloat64) scale(data, count, 1.0 / static_cast<double>(size_));
  }
}

void MpiCommunicator::broadcast_elements(void* data, size_t count, DType dtype, int root) {
  RT_CHECK(root >= 0 && root < size_, "broadcast root {} is not a rank of {}", root, size_);
  auto* bytes = static_cast<char*>(data);
  size_t element = dtype_size(dtype);
  in_pieces(count, [&](size_t offset, int piece) {
    RT_CHECK_MPI(MPI_Bcast(bytes + offset * element, piece, mpi_type(dtype), root, comm_));
  });
}

void MpiCommunicator::all_gather_elements(const void* sent, void* received, size_t count, DType dtype) {
  RT_CHECK(count <= static_cast<size_t>(INT_MAX), "all_gather of {} elements per rank exceeds MPI's int count", count);
  RT_CHECK_MPI(MPI_Allgather(sent, static_cast<int>(count), mpi_type(dtype), received, static_cast<int>(count),
                             mpi_type(dtype), comm_));
}

void MpiCommunicator::barrier() { RT_CHECK_MPI(MPI_Barrier(comm_)); }

void MpiCommunicator::abort(const std::string& reason) {
  log_error("aborting the job: {}", reason);
  MPI_Abort(MPI_COMM_WORLD, 1);
  std::abort();  // MPI_Abort does not return; this satisfies [[noreturn]] if it ever did
}

}  // namespace rt
