// Gradient synchronisation, one interface for every device and transport: it sums a model's
// gradient arena across the ranks in buckets, each started as soon as backward has finished it
// (the arena is laid out in reverse order of execution, so backward completes it from offset 0
// upwards). Callers scale their loss by 1/size, so the sum is the average without a further pass.
//
// Implementations, chosen by make_gradient_synchronizer:
//   host (gradient_sync.h):          an arena in host memory, over the Communicator (MPI);
//   NCCL and MPI-staged (device_gradient_sync.h): an arena in GPU memory, ordered against the
//                                    compute stream with CUDA events;
//   local:                           a GPU arena on one rank, whose sum is itself.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "comm/communicator.h"
#include "core/base/device.h"
#include "core/base/span.h"
#include "core/base/timeline.h"

namespace rt {

enum class WireFormat { kFloat32, kBFloat16, kFloat16 };
// The names comm.wire takes ("fp32", "bf16", "fp16"), and the format each stands for.
const std::vector<std::pair<std::string, WireFormat>>& wire_format_names();
WireFormat parse_wire_format(const std::string& name);
const char* wire_format_name(WireFormat format);

struct GradientSyncOptions {
  size_t bucket_bytes = size_t{25} << 20;
  size_t first_bucket_bytes = size_t{1} << 20;  // smaller, so communication starts early
  bool overlap = true;                          // false: all buckets after backward, on the caller's thread
  WireFormat wire = WireFormat::kFloat32;       // 16-bit: converted, summed in 16 bits, converted back
};

struct GradientBucket {
  size_t offset = 0;  // elements into the arena
  size_t count = 0;
};

// Cuts `elements` into a first bucket of first_bucket_bytes, then buckets of bucket_bytes (the
// last one shorter); a size of 0 means one bucket for everything.
std::vector<GradientBucket> plan_buckets(size_t elements, const GradientSyncOptions& options);

// What wait() found: the host synchroniser checks each summed bucket for NaN and infinity while
// it is in cache (the sum carries any rank's non-finite value to every rank, so all ranks agree
// without another collective); the GPU ones leave the check to a kernel on the compute stream,
// so that the host does not wait for the step (core/step_outcomes.h).
enum class SumCheck { kFinite, kNonFinite, kOnDevice };

class GradientSynchronizer {
 public:
  virtual ~GradientSynchronizer() = default;
  virtual const std::vector<GradientBucket>& buckets() const = 0;
  // Arena elements [0, ready) are final for this step (on a GPU: their kernels are queued on the
  // compute stream).
  virtual void gradients_ready(size_t ready) = 0;
  // Starts what is left and returns when the whole arena is summed across the ranks (on a GPU:
  // work queued on the compute stream afterwards sees the sums); rethrows a failed all-reduce.
  virtual SumCheck wait() = 0;
  // What sums the gradients: "mpi", "mpi-hierarchical", "nccl", "mpi-staged", ...
  virtual std::string transport() const = 0;
};

enum class CollectiveBackend { kAuto, kNccl, kMpi };
// The names comm.backend takes ("auto", "nccl", "mpi").
const std::vector<std::pair<std::string, CollectiveBackend>>& collective_backend_names();
CollectiveBackend parse_collective_backend(const std::string& name);

// Where the arena lives and which way its sums go.
struct GradientSyncPlacement {
  Device device = Device::kCpu;
  void* compute_stream = nullptr;  // a GPU arena: the cudaStream_t backward's kernels run on
  int visible_gpus = 0;            // a GPU arena: GPUs this rank sees, and ranks on its host
  int local_ranks = 1;
  // A GPU arena: NCCL where every rank has a GPU of its own (NCCL refuses shared GPUs) and NCCL
  // is built in, else MPI staged through host memory; kNccl insists, kMpi never uses NCCL.
  CollectiveBackend backend = CollectiveBackend::kAuto;
  bool hierarchical = false;    // the MPI communicator is hierarchical (NCCL has its own rings)
  double timeout_seconds = 0;   // NCCL's collectives
};

// The synchroniser of `gradients` (host or device memory, as placement.device says). A GPU arena
// with more than one rank is a collective choice: every rank must call this at the same point.
std::unique_ptr<GradientSynchronizer> make_gradient_synchronizer(Communicator& comm, Span<float> gradients,
                                                                 const GradientSyncOptions& options,
                                                                 const GradientSyncPlacement& placement,
                                                                 Timeline* timeline = nullptr);

}  // namespace rt
