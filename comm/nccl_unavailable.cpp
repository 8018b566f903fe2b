// The NCCL communicator of a build without NCCL: constructing one is an error that says so.
#include "comm/nccl_communicator.h"

#include "core/base/check.h"

namespace rt {

struct NcclCommunicator::State {};

bool NcclCommunicator::available() { return false; }
std::string NcclCommunicator::version() { return "none"; }

NcclCommunicator::NcclCommunicator(Communicator& bootstrap, double) : bootstrap_(bootstrap) {
  RT_FAIL("comm.backend = \"nccl\" needs a build of ringtrain with CUDA and NCCL; this one has none "
          "(use comm.backend = \"mpi\")");
}
NcclCommunicator::~NcclCommunicator() = default;
void NcclCommunicator::all_reduce_sum_async(float*, size_t, void*) { RT_FAIL("no NCCL in this build"); }
void* NcclCommunicator::stream() const { return nullptr; }
void NcclCommunicator::synchronize() {}
void NcclCommunicator::abort(const std::string& reason) { bootstrap_.abort(reason); }
void NcclCommunicator::all_reduce_elements(void*, size_t, DType, ReduceOp) { RT_FAIL("no NCCL in this build"); }
void NcclCommunicator::broadcast_elements(void*, size_t, DType, int) { RT_FAIL("no NCCL in this build"); }
void NcclCommunicator::all_gather_elements(const void*, void*, size_t, DType) { RT_FAIL("no NCCL in this build"); }
void NcclCommunicator::barrier_all() {}

}  // namespace rt
