// What the CUDA sources share: the calling thread's stream and cuBLAS handles, device buffers for
// intermediate results, and a launch on the stream (launch sizes: launch.h).
#pragma once

#include <cublasLt.h>
#include <cuda_bf16.h>
#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

#include "core/base/check_cuda.h"
#include "kernels/cuda/launch.h"
#include "kernels/operand.h"

namespace rt::kernels::cuda {

// rt's bf16 buffers as the kernels' bf16 type (the same 16 bits).
inline __nv_bfloat16* device_bf16(bfloat16* values) { return reinterpret_cast<__nv_bfloat16*>(values); }
inline const __nv_bfloat16* device_bf16(const bfloat16* values) {
  return reinterpret_cast<const __nv_bfloat16*>(values);
}

// For a kernel that reads fp32 or bf16: calls f with the Operand's values as the kernels' pointer
// type, const float* or const __nv_bfloat16* (f's launch is instantiated for both).
template <typename F>
void with_values(Operand values, F&& f) {
  if (values.bf16) return f(static_cast<const __nv_bfloat16*>(values.data));
  f(static_cast<const float*>(values.data));
}

cudaStream_t current_stream();
void set_stream(cudaStream_t stream);
cublasHandle_t blas_handle();
cublasLtHandle_t blas_lt_handle();  // cuBLASLt, for products with an epilogue (matmul.cu)
// The compute type of float32 matrix products on this thread (set_matmul_precision).
cublasComputeType_t compute_type();
bool bf16_products();  // set_matmul_precision(kBf16) on this thread
bool fused_bias();     // set_fused_bias on this thread (default: true)
// `count` ones in device memory (at least), for sums as matrix-vector products; grows on demand
// (allocating only when a larger count than ever before is asked for).
const float* ones(int64_t count);
const __nv_bfloat16* ones_bf16(int64_t count);  // the same in bf16, for sums of bf16 values
// At least `bytes` of device memory for a kernel's intermediate results on this thread's stream
// (one buffer, grown on demand and then reused: a kernel must not keep it past its launches).
void* scratch(size_t bytes);
// Two more such buffers, for a matrix product's operands rounded to bf16 (`which`: 0 or 1).
void* operand_buffer(int which, size_t bytes);
// cuBLASLt's workspace on this thread's stream: kMatmulWorkspaceBytes, allocated on first use.
constexpr size_t kMatmulWorkspaceBytes = size_t{32} << 20;  // NVIDIA's advice for Hopper
void* matmul_workspace();

// Launches `kernel` on the calling thread's stream and checks the launch: the `launch` that the
// launchers of the kernel headers take on the GPU.
struct StreamLaunch {
  template <typename... Parameters, typename... Arguments>
  void operator()(void (*kernel)(Parameters...), Grid grid, unsigned threads, size_t shared_bytes,
                  Arguments... arguments) const {
    kernel<<<dim3(grid.x, grid.y), threads, shared_bytes, current_stream()>>>(arguments...);
    RT_CHECK_LAUNCH(kernel);
  }
};

}  // namespace rt::kernels::cuda
