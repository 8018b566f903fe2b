#include "core/gpu_binding.h"

#include "core/base/check.h"
#include "kernels/cuda/cuda_kernels.h"

namespace rt {

void require_gpu(const char* what) {
  if (kernels::cuda::device_count() > 0) return;
#ifdef RINGTRAIN_HAVE_CUDA
  RT_FAIL("{}: no GPU is visible to this process (check the driver, nvidia-smi and CUDA_VISIBLE_DEVICES)", what);
#else
  RT_FAIL("{}: this build of ringtrain has no CUDA support (rebuild where nvcc is found)", what);
#endif
}

GpuBinding bind_gpu(int local_rank) {
  require_gpu("runtime.device = \"cuda\"");
  GpuBinding binding;
  binding.visible = kernels::cuda::device_count();
  binding.device = local_rank % binding.visible;
  kernels::cuda::set_device(binding.device);
  binding.description = kernels::cuda::device_description(binding.device);
  return binding;
}

}  // namespace rt
