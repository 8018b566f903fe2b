// Gradient synchronisation for an arena in GPU memory: the same buckets as GradientSynchronizer
// (gradient_sync.h), started as backward finishes them, ordered against the compute stream with
// CUDA events rather than host waits. Two transports:
//   NCCL:       each bucket's all-reduce is queued on the NCCL stream behind an event recorded on
//               the compute stream when the bucket became final;
//   MPI staged: each bucket is copied into page-locked host memory on a stream of its own, summed
//               over MPI by a communication thread, and copied back (for clusters without NCCL,
//               and for ranks that share a GPU, which NCCL refuses).
// wait() returns when the whole arena is summed, and orders the compute stream after it. As on the
// CPU, the caller scales its loss by 1/size, so the sum is the average.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "comm/communicator.h"
#include "comm/gradient_sync.h"
#include "comm/nccl_communicator.h"

namespace rt {

class DeviceGradientSynchronizer {
 public:
  virtual ~DeviceGradientSynchronizer() = default;
  virtual const std::vector<GradientBucket>& buckets() const = 0;
  // Arena elements [0, ready) are final for this step (their kernels are queued on the compute stream).
  virtual void gradients_ready(size_t ready) = 0;
  // Queues what is left, then waits on the host until every bucket is summed (NCCL: polling its
  // error state within its timeout); work queued on the compute stream afterwards sees the sums.
  virtual void wait() = 0;
  virtual std::string transport() const = 0;  // "nccl" or "mpi-staged"
};

// `gradients`: `count` floats of device memory; `compute_stream`: the cudaStream_t that backward's
// kernels run on. Only 32-bit gradients on the wire; a build without CUDA throws, saying so.
std::unique_ptr<DeviceGradientSynchronizer> make_nccl_gradient_synchronizer(NcclCommunicator& nccl, float* gradients,
                                                                            size_t count, GradientSyncOptions options,
                                                                            void* compute_stream);
std::unique_ptr<DeviceGradientSynchronizer> make_staged_gradient_synchronizer(Communicator& comm, float* gradients,
                                                                              size_t count, GradientSyncOptions options,
                                                                              void* compute_stream);

}  // namespace rt
