#include "comm/nccl_communicator.h"

#include <cuda_runtime.h>
#include <nccl.h>

#include <chrono>
#include <cstdlib>
#include <thread>

#include "core/base/check_cuda.h"
#include "core/base/logging.h"

#define RT_CHECK_NCCL(call)                                                                                    \
  do {                                                                                                         \
    ncclResult_t rt_nccl_result_ = (call);                                                                     \
    if (rt_nccl_result_ != ncclSuccess)                                                                        \
      ::rt::throw_error(__FILE__, __LINE__, #call,                                                             \
                        fmt::format("NCCL error {}: {} ({})", static_cast<int>(rt_nccl_result_),               \
                                    ncclGetErrorString(rt_nccl_result_), ncclGetLastError(nullptr)));          \
  } while (0)

namespace rt {

namespace {
ncclDataType_t nccl_type(DType dtype) {
  switch (dtype) {
    case DType::kFloat32: return ncclFloat32;
    case DType::kFloat64: return ncclFloat64;
    case DType::kInt32: return ncclInt32;
    case DType::kInt64: return ncclInt64;
    case DType::kUInt8: return ncclUint8;
    case DType::kBFloat16: return ncclBfloat16;
    case DType::kFloat16: return ncclFloat16;
  }
  RT_FAIL("no NCCL type for {}", dtype_name(dtype));
}

ncclRedOp_t nccl_op(ReduceOp op) {
  switch (op) {
    case ReduceOp::kSum: return ncclSum;
    case ReduceOp::kAverage: return ncclAvg;
    case ReduceOp::kMin: return ncclMin;
    case ReduceOp::kMax: return ncclMax;
  }
  RT_FAIL("unknown reduction");
}
}  // namespace

struct NcclCommunicator::State {
  ncclComm_t comm = nullptr;
  cudaStream_t stream = nullptr;
  cudaEvent_t done = nullptr;
  double timeout_seconds = 0;
  bool aborted = false;
};

bool NcclCommunicator::available() { return true; }

std::string NcclCommunicator::version() {
  int code = 0;
  RT_CHECK_NCCL(ncclGetVersion(&code));
  return fmt::format("NCCL {}.{}.{}", code / 10000, code / 100 % 100, code % 100);
}

NcclCommunicator::NcclCommunicator(Communicator& bootstrap, double timeout_seconds)
    : bootstrap_(bootstrap), rank_(bootstrap.rank()), size_(bootstrap.size()), state_(std::make_unique<State>()) {
  state_->timeout_seconds = timeout_seconds;
  ncclUniqueId id;
  if (rank_ == 0) RT_CHECK_NCCL(ncclGetUniqueId(&id));
  bootstrap_.broadcast(Span<uint8_t>(reinterpret_cast<uint8_t*>(&id), sizeof id), 0);
  RT_CHECK_CUDA(cudaStreamCreateWithFlags(&state_->stream, cudaStreamNonBlocking));
  RT_CHECK_CUDA(cudaEventCreateWithFlags(&state_->done, cudaEventDisableTiming));
  RT_CHECK_NCCL(ncclCommInitRank(&state_->comm, size_, id, rank_));
}

NcclCommunicator::~NcclCommunicator() {
  if (state_->comm) {
    if (state_->aborted) {
      ncclCommAbort(state_->comm);
    } else {
      ncclCommDestroy(state_->comm);
    }
  }
  if (state_->done) cudaEventDestroy(state_->done);
  if (state_->stream) cudaStreamDestroy(state_->stream);
}

void* NcclCommunicator::stream() const { return state_->stream; }

void NcclCommunicator::all_reduce_sum_async(float* data, size_t count, void* after) {
  RT_CHECK(!state_->aborted, "rank {}: the NCCL communicator was aborted by an earlier failure", rank_);
  if (after) RT_CHECK_CUDA(cudaStreamWaitEvent(state_->stream, static_cast<cudaEvent_t>(after), 0));
  RT_CHECK_NCCL(ncclAllReduce(data, data, count, ncclFloat32, ncclSum, state_->comm, state_->stream));
}

void NcclCommunicator::synchronize() {
  RT_CHECK(!state_->aborted, "rank {}: the NCCL communicator was aborted by an earlier failure", rank_);
  RT_CHECK_CUDA(cudaEventRecord(state_->done, state_->stream));
  const auto start = std::chrono::steady_clock::now();
  for (int polls = 0;; ++polls) {
    cudaError_t status = cudaEventQuery(state_->done);
    if (status == cudaSuccess) return;
    if (status != cudaErrorNotReady) RT_CHECK_CUDA(status);
    ncclResult_t async_error = ncclSuccess;
    RT_CHECK_NCCL(ncclCommGetAsyncError(state_->comm, &async_error));
    if (async_error != ncclSuccess && async_error != ncclInProgress) {
      state_->aborted = true;  // aborted when destroyed: aborting here could wait on the stuck stream
      RT_FAIL("rank {}: NCCL reported an error during a collective: {} ({})", rank_, ncclGetErrorString(async_error),
              ncclGetLastError(nullptr));
    }
    const double waited = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (state_->timeout_seconds > 0 && waited > state_->timeout_seconds) {
      state_->aborted = true;
      RT_FAIL("rank {}: an NCCL collective did not finish within {:.1f} s (comm.timeout_seconds): a peer rank is "
              "dead, stalled or not calling it",
              rank_, state_->timeout_seconds);
    }
    // Spin briefly (collectives of a training step take microseconds), then yield the core.
    if (polls > 1000) std::this_thread::sleep_for(std::chrono::microseconds(50));
  }
}

void NcclCommunicator::all_reduce_elements(void* data, size_t count, DType dtype, ReduceOp op) {
  check_reduction(dtype, op);
  RT_CHECK_NCCL(ncclAllReduce(data, data, count, nccl_type(dtype), nccl_op(op), state_->comm, state_->stream));
  synchronize();
}

void NcclCommunicator::broadcast_elements(void* data, size_t count, DType dtype, int root) {
  RT_CHECK_NCCL(ncclBroadcast(data, data, count, nccl_type(dtype), root, state_->comm, state_->stream));
  synchronize();
}

void NcclCommunicator::all_gather_elements(const void* sent, void* received, size_t count, DType dtype) {
  RT_CHECK_NCCL(ncclAllGather(sent, received, count, nccl_type(dtype), state_->comm, state_->stream));
  synchronize();
}

void NcclCommunicator::barrier_all() { bootstrap_.barrier(); }

void NcclCommunicator::abort(const std::string& reason) {
  // No ncclCommAbort first: it can wait for a stuck stream, and ending the job ends NCCL too.
  bootstrap_.abort(reason);
  std::abort();  // not reached: the bootstrap's abort does not return
}

}  // namespace rt
