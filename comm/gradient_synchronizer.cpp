#include "comm/gradient_synchronizer.h"

#include <algorithm>

#include "comm/device_gradient_sync.h"
#include "comm/gradient_sync.h"
#include "comm/nccl_communicator.h"
#include "core/base/check.h"
#include "core/base/config.h"

namespace rt {

namespace {

// A GPU arena on one rank: its sum is itself; the non-finite check is the caller's, on the GPU.
class LocalGradientSynchronizer final : public GradientSynchronizer {
 public:
  const std::vector<GradientBucket>& buckets() const override { return buckets_; }
  void gradients_ready(size_t) override {}
  SumCheck wait() override { return SumCheck::kOnDevice; }
  std::string transport() const override { return "none (one rank)"; }

 private:
  std::vector<GradientBucket> buckets_;
};

std::unique_ptr<GradientSynchronizer> make_device_synchronizer(Communicator& comm, Span<float> gradients,
                                                               const GradientSyncOptions& options,
                                                               const GradientSyncPlacement& placement) {
  if (comm.size() == 1) return std::make_unique<LocalGradientSynchronizer>();
  // NCCL needs a GPU per rank; every rank must make the same choice, so they agree on it.
  const bool own_gpu = placement.local_ranks <= placement.visible_gpus;
  const bool all_own_gpu = comm.all_reduce_value<int32_t>(own_gpu ? 1 : 0, ReduceOp::kMin) == 1;
  const bool use_nccl = placement.backend == CollectiveBackend::kNccl ||
                        (placement.backend == CollectiveBackend::kAuto && NcclCommunicator::available() && all_own_gpu);
  if (placement.backend == CollectiveBackend::kNccl) {
    RT_CHECK(all_own_gpu, "comm.backend = \"nccl\" needs a GPU per rank, but some host runs more ranks than it has GPUs "
             "(this one: {} ranks, {} GPU(s)); use comm.backend = \"mpi\" or fewer ranks per host",
             placement.local_ranks, placement.visible_gpus);
  }
  if (use_nccl) {
    RT_CHECK(!placement.hierarchical,
             "comm.hierarchical applies to the MPI backend; NCCL chooses its own rings and trees");
    return make_nccl_gradient_synchronizer(std::make_unique<NcclCommunicator>(comm, placement.timeout_seconds),
                                           gradients.data(), gradients.size(), options, placement.compute_stream);
  }
  return make_staged_gradient_synchronizer(comm, gradients.data(), gradients.size(), options,
                                           placement.compute_stream);
}

}  // namespace

const std::vector<std::pair<std::string, WireFormat>>& wire_format_names() {
  static const std::vector<std::pair<std::string, WireFormat>> names{
      {"fp32", WireFormat::kFloat32}, {"bf16", WireFormat::kBFloat16}, {"fp16", WireFormat::kFloat16}};
  return names;
}

WireFormat parse_wire_format(const std::string& name) {
  return parse_choice(wire_format_names(), name, "gradient wire format");
}

const char* wire_format_name(WireFormat format) {
  for (const auto& [name, value] : wire_format_names()) {
    if (value == format) return name.c_str();
  }
  return "?";
}

std::vector<GradientBucket> plan_buckets(size_t elements, const GradientSyncOptions& options) {
  std::vector<GradientBucket> buckets;
  size_t first = options.first_bucket_bytes / sizeof(float);
  size_t rest = options.bucket_bytes / sizeof(float);
  size_t offset = 0;
  while (offset < elements) {
    size_t size = buckets.empty() && first > 0 ? first : rest;
    size_t count = size == 0 ? elements - offset : std::min(size, elements - offset);
    buckets.push_back({offset, count});
    offset += count;
  }
  return buckets;
}

const std::vector<std::pair<std::string, CollectiveBackend>>& collective_backend_names() {
  static const std::vector<std::pair<std::string, CollectiveBackend>> names{
      {"auto", CollectiveBackend::kAuto}, {"nccl", CollectiveBackend::kNccl}, {"mpi", CollectiveBackend::kMpi}};
  return names;
}

CollectiveBackend parse_collective_backend(const std::string& name) {
  return parse_choice(collective_backend_names(), name, "collective backend");
}

std::unique_ptr<GradientSynchronizer> make_gradient_synchronizer(Communicator& comm, Span<float> gradients,
                                                                 const GradientSyncOptions& options,
                                                                 const GradientSyncPlacement& placement,
                                                                 Timeline* timeline) {
  if (placement.device == Device::kCpu) {
    return std::make_unique<HostGradientSynchronizer>(comm, gradients, options, timeline);
  }
  return make_device_synchronizer(comm, gradients, options, placement);
}

}  // namespace rt
