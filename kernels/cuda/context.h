// What the CUDA sources share: the calling thread's stream and cuBLAS handle, and launch sizes.
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <cstdint>

namespace rt::kernels::cuda {

cudaStream_t current_stream();
void set_stream(cudaStream_t stream);
cublasHandle_t blas_handle();
// `count` ones in device memory (at least), for sums as matrix-vector products; grows on demand
// (allocating only when a larger count than ever before is asked for).
const float* ones(int64_t count);

constexpr int kThreads = 256;
inline unsigned blocks_for(int64_t count) {
  int64_t blocks = (count + kThreads - 1) / kThreads;
  return static_cast<unsigned>(blocks < 65535 * 32 ? (blocks > 0 ? blocks : 1) : 65535 * 32);
}

}  // namespace rt::kernels::cuda
