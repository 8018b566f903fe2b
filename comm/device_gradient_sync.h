// Gradient synchronisation for an arena in GPU memory (gradient_synchronizer.h): the same buckets
// as the host's, started as backward finishes them, ordered against the compute stream with
// CUDA events rather than host waits. Two transports:
//   NCCL:       each bucket's all-reduce is queued on the NCCL stream behind an event recorded on
//               the compute stream when the bucket became final;
//   MPI staged: each bucket is copied into page-locked host memory on a stream of its own, summed
//               over MPI by a communication thread, and copied back (for clusters without NCCL,
//               and for ranks that share a GPU, which NCCL refuses).
// wait() queues what is left, then waits on the host until every bucket is summed (NCCL: polling
// its error state within its timeout), orders the compute stream after it, and returns kOnDevice:
// the check for NaN and infinity is the caller's, on the compute stream.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "comm/communicator.h"
#include "comm/gradient_synchronizer.h"
#include "comm/nccl_communicator.h"

namespace rt {

// `gradients`: `count` floats of device memory; `compute_stream`: the cudaStream_t that backward's
// kernels run on. Only 32-bit gradients on the wire; a build without CUDA throws, saying so.
// The NCCL synchroniser owns its communicator.
std::unique_ptr<GradientSynchronizer> make_nccl_gradient_synchronizer(std::unique_ptr<NcclCommunicator> nccl,
                                                                      float* gradients, size_t count,
                                                                      GradientSyncOptions options, void* compute_stream);
std::unique_ptr<GradientSynchronizer> make_staged_gradient_synchronizer(Communicator& comm, float* gradients,
                                                                        size_t count, GradientSyncOptions options,
                                                                        void* compute_stream);

}  // namespace rt
