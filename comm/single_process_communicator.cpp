#include "comm/single_process_communicator.h"

#include <cstdlib>
#include <cstring>

#include "core/base/check.h"
#include "core/base/logging.h"

namespace rt {

void SingleProcessCommunicator::all_reduce_elements(void*, size_t, DType dtype, ReduceOp op) {
  check_reduction(dtype, op);
}

void SingleProcessCommunicator::broadcast_elements(void*, size_t, DType, int root) {
  RT_CHECK(root == 0, "broadcast root {} is not a rank of 1", root);
}

void SingleProcessCommunicator::all_gather_elements(const void* sent, void* received, size_t count, DType dtype) {
  if (sent != received) std::memmove(received, sent, count * dtype_size(dtype));
}

void SingleProcessCommunicator::abort(const std::string& reason) {
  log_error("aborting: {}", reason);
  std::_Exit(1);  // the whole job is this process
}

}  // namespace rt
