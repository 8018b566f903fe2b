// What the CUDA sources share: the calling thread's stream and cuBLAS handle, and launch sizes.
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <cstdint>

namespace rt::kernels::cuda {

cudaStream_t current_stream();
void set_stream(cudaStream_t stream);
cublasHandle_t blas_handle();
// The compute type of float32 matrix products on this thread (set_matmul_precision).
cublasComputeType_t compute_type();
bool bf16_products();  // set_matmul_precision(kBf16) on this thread
// `count` ones in device memory (at least), for sums as matrix-vector products; grows on demand
// (allocating only when a larger count than ever before is asked for).
const float* ones(int64_t count);
// At least `bytes` of device memory for a kernel's intermediate results on this thread's stream
// (one buffer, grown on demand and then reused: a kernel must not keep it past its launches).
void* scratch(size_t bytes);
// Two more such buffers, for a matrix product's operands rounded to bf16 (`which`: 0 or 1).
void* operand_buffer(int which, size_t bytes);

constexpr int kThreads = 256;
// Whether a pointer can be read and written as float4s.
inline bool aligned16(const void* pointer) { return reinterpret_cast<uintptr_t>(pointer) % 16 == 0; }
inline unsigned blocks_for(int64_t count) {
  int64_t blocks = (count + kThreads - 1) / kThreads;
  return static_cast<unsigned>(blocks < 65535 * 32 ? (blocks > 0 ? blocks : 1) : 65535 * 32);
}

}  // namespace rt::kernels::cuda
