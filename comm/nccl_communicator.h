// The NCCL communicator: collectives on GPU memory, over NVLink, PCIe or the network as NCCL
// finds best. Spans given to it point to device memory on this rank's GPU.
//
// It is started over another communicator (MPI): rank 0 makes the unique id and broadcasts it;
// every rank must have chosen its GPU before. NCCL refuses two ranks on one GPU, so each rank
// needs a GPU of its own (the MPI backend serves ranks that share one).
//
// Collectives run on the communicator's own stream. Waiting for them polls NCCL's asynchronous
// error state: an NCCL error, or a collective not done within the timeout (a dead or stalled
// peer), throws an error naming this rank instead of hanging; the communicator is then unusable and
// is aborted (ncclCommAbort) when destroyed.
#pragma once

#include <cstddef>
#include <memory>
#include <string>

#include "comm/communicator.h"

namespace rt {

class NcclCommunicator final : public Communicator {
 public:
  // timeout_seconds <= 0: wait without a limit.
  NcclCommunicator(Communicator& bootstrap, double timeout_seconds);
  ~NcclCommunicator() override;
  NcclCommunicator(const NcclCommunicator&) = delete;
  NcclCommunicator& operator=(const NcclCommunicator&) = delete;

  // Whether this build has NCCL (without it the constructor throws, saying so).
  static bool available();
  // "NCCL 2.28.9"
  static std::string version();

  int rank() const override { return rank_; }
  int size() const override { return size_; }
  std::string backend() const override { return "nccl"; }

  // Queues an in-place sum of `count` floats at `data` (device memory) on the communicator's
  // stream, after `after` (a CUDA event recorded on another stream; null: nothing), and returns.
  // synchronize() (or a blocking collective) waits for it.
  void all_reduce_sum_async(float* data, size_t count, void* after);
  // The communicator's stream, as a cudaStream_t.
  void* stream() const;
  // Waits until everything queued on the stream is done (see the top of this file).
  void synchronize();

  // Ends the job through the bootstrap communicator.
  [[noreturn]] void abort(const std::string& reason) override;

 protected:
  void all_reduce_elements(void* data, size_t count, DType dtype, ReduceOp op) override;
  void broadcast_elements(void* data, size_t count, DType dtype, int root) override;
  void all_gather_elements(const void* sent, void* received, size_t count, DType dtype) override;
  void barrier_all() override;

 private:
  struct State;
  Communicator& bootstrap_;
  int rank_ = 0;
  int size_ = 1;
  std::unique_ptr<State> state_;
};

}  // namespace rt
