// Per-thread CUDA state: the device, the stream kernels run on, the cuBLAS handle. Device memory.
#include <cublas_v2.h>
#include <cuda_runtime.h>

#include "core/base/check_cuda.h"
#include "kernels/cuda/context.h"
#include "kernels/cuda/cuda_kernels.h"

namespace rt::kernels::cuda {

namespace {
struct ThreadContext {
  cudaStream_t stream = nullptr;  // the legacy default stream until a stream is set
  cublasHandle_t blas = nullptr;
  bool tf32 = false;
  ~ThreadContext() {
    if (blas) cublasDestroy(blas);
  }
};
thread_local ThreadContext context;
}  // namespace

cudaStream_t current_stream() { return context.stream; }

cublasHandle_t blas_handle() {
  if (!context.blas) {
    RT_CHECK_CUBLAS(cublasCreate(&context.blas));
    RT_CHECK_CUBLAS(cublasSetStream(context.blas, context.stream));
    RT_CHECK_CUBLAS(cublasSetMathMode(context.blas, context.tf32 ? CUBLAS_TF32_TENSOR_OP_MATH : CUBLAS_DEFAULT_MATH));
  }
  return context.blas;
}

void set_stream(cudaStream_t stream) {
  context.stream = stream;
  if (context.blas) RT_CHECK_CUBLAS(cublasSetStream(context.blas, stream));
}

void set_tf32(bool enabled) {
  context.tf32 = enabled;
  if (context.blas) {
    RT_CHECK_CUBLAS(cublasSetMathMode(context.blas, enabled ? CUBLAS_TF32_TENSOR_OP_MATH : CUBLAS_DEFAULT_MATH));
  }
}

int device_count() {
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess) {
    cudaGetLastError();  // no driver or no device: clear the error, report none
    return 0;
  }
  return count;
}

void set_device(int device) { RT_CHECK_CUDA(cudaSetDevice(device)); }
void synchronize() { RT_CHECK_CUDA(cudaStreamSynchronize(context.stream)); }

void* allocate(size_t bytes) {
  void* pointer = nullptr;
  if (bytes > 0) RT_CHECK_CUDA(cudaMalloc(&pointer, bytes));
  return pointer;
}
void release(void* pointer) noexcept {
  if (pointer) cudaFree(pointer);
}
void copy_to_device(void* device, const void* host, size_t bytes) {
  RT_CHECK_CUDA(cudaMemcpyAsync(device, host, bytes, cudaMemcpyHostToDevice, context.stream));
  RT_CHECK_CUDA(cudaStreamSynchronize(context.stream));
}
void copy_to_host(void* host, const void* device, size_t bytes) {
  RT_CHECK_CUDA(cudaMemcpyAsync(host, device, bytes, cudaMemcpyDeviceToHost, context.stream));
  RT_CHECK_CUDA(cudaStreamSynchronize(context.stream));
}
void fill_bytes(void* device, int byte, size_t bytes) {
  RT_CHECK_CUDA(cudaMemsetAsync(device, byte, bytes, context.stream));
}

}  // namespace rt::kernels::cuda
