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

const char* reduce_op_name(ReduceOp op) {
  switch (op) {
    case ReduceOp::kSum: return "sum";
    case ReduceOp::kAverage: return "average";
    case ReduceOp::kMin: return "min";
    case ReduceOp::kMax: return "max";
  }
  return "?";
}

std::unique_ptr<Communicator> make_world_communicator() {
  if (MpiRuntime::active()) return std::make_unique<MpiCommunicator>();
  return std::make_unique<SingleProcessCommunicator>();
}

}  // namespace rt
