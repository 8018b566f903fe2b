#include "comm/communicator.h"

#include "comm/mpi_communicator.h"
#include "comm/single_process_communicator.h"
#include "core/base/check.h"
#include "core/base/environment.h"

namespace rt {

void Communicator::check_all_gather_sizes(size_t sent, size_t received) const {
  RT_CHECK(received == sent * static_cast<size_t>(size()),
           "all_gather: receive span holds {} elements, {} ranks x {} sent need {}", received, size(),
           sent, sent * static_cast<size_t>(size()));
}

void Communicator::check_reduction(DType dtype, ReduceOp op) {
  bool half = dtype == DType::kBFloat16 || dtype == DType::kFloat16;
  bool floating = dtype == DType::kFloat32 || dtype == DType::kFloat64;
  RT_CHECK(!half || op == ReduceOp::kSum, "all_reduce {} of {} elements: 16-bit floats support sum only",
           reduce_op_name(op), dtype_name(dtype));
  RT_CHECK(op != ReduceOp::kAverage || floating,
           "all_reduce average of {} elements: only floating-point types can be averaged", dtype_name(dtype));
}

const char* reduce_op_name(ReduceOp op) {
  switch (op) {
    case ReduceOp::kSum: return "sum";
    case ReduceOp::kAverage: return "average";
    case ReduceOp::kMin: return "min";
    case ReduceOp::kMax: return "max";
  }
  return "?";
}

std::unique_ptr<Communicator> make_world_communicator(const CommunicatorOptions& options) {
  if (MpiRuntime::active()) return std::make_unique<MpiCommunicator>(options.hierarchical);
  return std::make_unique<SingleProcessCommunicator>();
}

}  // namespace rt
