#include "comm/mpi_communicator.h"

#include <algorithm>
#include <climits>
#include <cstdint>

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

template <typename T>
void scale(void* data, size_t count, T factor) {
  T* values = static_cast<T*>(data);
  for (size_t i = 0; i < count; ++i) values[i] *= factor;
}

}  // namespace

MpiCommunicator::MpiCommunicator() {
  RT_CHECK_MPI(MPI_Comm_dup(MPI_COMM_WORLD, &comm_));
  RT_CHECK_MPI(MPI_Comm_set_errhandler(comm_, MPI_ERRORS_RETURN));
  RT_CHECK_MPI(MPI_Comm_rank(comm_, &rank_));
  RT_CHECK_MPI(MPI_Comm_size(comm_, &size_));
}

MpiCommunicator::~MpiCommunicator() {
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (comm_ != MPI_COMM_NULL && !finalized) MPI_Comm_free(&comm_);
}

void MpiCommunicator::all_reduce_elements(void* data, size_t count, DType dtype, ReduceOp op) {
  RT_CHECK(op != ReduceOp::kAverage || dtype == DType::kFloat32 || dtype == DType::kFloat64,
           "all_reduce average of {} elements: only floating-point types can be averaged", dtype_name(dtype));
  auto* bytes = static_cast<char*>(data);
  size_t element = dtype_size(dtype);
  in_pieces(count, [&](size_t offset, int piece) {
    RT_CHECK_MPI(MPI_Allreduce(MPI_IN_PLACE, bytes + offset * element, piece, mpi_type(dtype), mpi_op(op), comm_));
  });
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
