// Which GPU a rank computes on: local rank modulo the GPUs it can see, so the ranks of a host
// spread over its GPUs (and share them round-robin when there are more ranks than GPUs).
#pragma once

#include <string>

namespace rt {

struct GpuBinding {
  int device = 0;   // the CUDA device index this process now uses
  int visible = 0;  // GPUs visible to this process
  std::string description;  // "NVIDIA H100 80GB HBM3, 79 GiB, bus 0000:1b:00.0"
};

// Selects GPU local_rank % visible for this process; throws, saying why, when the build has no
// CUDA or the process sees no GPU.
GpuBinding bind_gpu(int local_rank);

// Throws unless a GPU can be used: the build has CUDA and the process sees at least one GPU.
void require_gpu(const char* what);

}  // namespace rt
