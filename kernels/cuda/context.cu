// Per-thread CUDA state: the device, the stream kernels run on, the cuBLAS handles. Device memory.
#include <cublasLt.h>
#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <algorithm>

#include "core/base/check_cuda.h"
#include "kernels/cuda/context.h"
#include "kernels/cuda/cuda_kernels.h"

namespace rt::kernels::cuda {

namespace {
struct ThreadContext {
  cudaStream_t stream = nullptr;  // the legacy default stream until a stream is set
  cublasHandle_t blas = nullptr;
  cublasLtHandle_t blas_lt = nullptr;
  MatmulPrecision precision = MatmulPrecision::kFp32;
  bool fused_bias = true;
  void* ones = nullptr;  // float
  size_t ones_bytes = 0;
  void* ones_bf16 = nullptr;
  size_t ones_bf16_bytes = 0;
  // scratch(), operand_buffer(0) and (1), matmul_workspace()
  void* buffers[4] = {nullptr, nullptr, nullptr, nullptr};
  size_t buffer_bytes[4] = {0, 0, 0, 0};
  ~ThreadContext() {
    if (blas) cublasDestroy(blas);
    if (blas_lt) cublasLtDestroy(blas_lt);
    if (ones) cudaFree(ones);
    if (ones_bf16) cudaFree(ones_bf16);
    for (void* buffer : buffers) {
      if (buffer) cudaFree(buffer);
    }
  }
};
thread_local ThreadContext context;
}  // namespace

cudaStream_t current_stream() { return context.stream; }

cublasHandle_t blas_handle() {
  if (!context.blas) {
    RT_CHECK_CUBLAS(cublasCreate(&context.blas));
    RT_CHECK_CUBLAS(cublasSetStream(context.blas, context.stream));
  }
  return context.blas;
}

cublasLtHandle_t blas_lt_handle() {
  if (!context.blas_lt) RT_CHECK_CUBLAS(cublasLtCreate(&context.blas_lt));
  return context.blas_lt;  // (cuBLASLt takes the stream with each call)
}

void set_stream(cudaStream_t stream) {
  context.stream = stream;
  if (context.blas) RT_CHECK_CUBLAS(cublasSetStream(context.blas, stream));
}

void set_matmul_precision(MatmulPrecision precision) { context.precision = precision; }

cublasComputeType_t compute_type() {
  switch (context.precision) {
    case MatmulPrecision::kTf32: return CUBLAS_COMPUTE_32F_FAST_TF32;
    case MatmulPrecision::kBf16: return CUBLAS_COMPUTE_32F_FAST_16BF;
    case MatmulPrecision::kFp32: break;
  }
  return CUBLAS_COMPUTE_32F;
}

bool bf16_products() { return context.precision == MatmulPrecision::kBf16; }

void set_fused_bias(bool enabled) { context.fused_bias = enabled; }
bool fused_bias() { return context.fused_bias; }

size_t device_memory_in_use() {
  size_t free = 0, total = 0;
  RT_CHECK_CUDA(cudaMemGetInfo(&free, &total));
  return total - free;
}

int device_count() {
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess) {
    cudaGetLastError();  // no driver or no device: clear the error, report none
    return 0;
  }
  return count;
}

int compute_capability_major() {
  int device = 0, major = 0;
  RT_CHECK_CUDA(cudaGetDevice(&device));
  RT_CHECK_CUDA(cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, device));
  return major;
}

void set_device(int device) { RT_CHECK_CUDA(cudaSetDevice(device)); }

std::string device_description(int device) {
  cudaDeviceProp properties;
  RT_CHECK_CUDA(cudaGetDeviceProperties(&properties, device));
  char bus[32] = {0};
  RT_CHECK_CUDA(cudaDeviceGetPCIBusId(bus, sizeof bus, device));
  return fmt::format("{}, {} GiB, bus {}", properties.name, properties.totalGlobalMem >> 30, bus);
}
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

namespace rt::kernels::cuda {

void* allocate_pinned(size_t bytes) {
  void* pointer = nullptr;
  if (bytes > 0) RT_CHECK_CUDA(cudaMallocHost(&pointer, bytes));
  return pointer;
}
void release_pinned(void* pointer) noexcept {
  if (pointer) cudaFreeHost(pointer);
}

StreamHandle create_stream() {
  cudaStream_t stream = nullptr;
  RT_CHECK_CUDA(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
  return stream;
}
void destroy_stream(StreamHandle stream) noexcept {
  if (stream) cudaStreamDestroy(static_cast<cudaStream_t>(stream));
}
StreamHandle current_stream_handle() { return context.stream; }
void set_current_stream(StreamHandle stream) { set_stream(static_cast<cudaStream_t>(stream)); }

EventHandle create_event(bool timing) {
  cudaEvent_t event = nullptr;
  RT_CHECK_CUDA(cudaEventCreateWithFlags(&event, timing ? cudaEventDefault : cudaEventDisableTiming));
  return event;
}
void destroy_event(EventHandle event) noexcept {
  if (event) cudaEventDestroy(static_cast<cudaEvent_t>(event));
}
void record_event(EventHandle event, StreamHandle stream) {
  RT_CHECK_CUDA(cudaEventRecord(static_cast<cudaEvent_t>(event), static_cast<cudaStream_t>(stream)));
}
void stream_wait_event(StreamHandle stream, EventHandle event) {
  RT_CHECK_CUDA(cudaStreamWaitEvent(static_cast<cudaStream_t>(stream), static_cast<cudaEvent_t>(event), 0));
}
void synchronize_event(EventHandle event) { RT_CHECK_CUDA(cudaEventSynchronize(static_cast<cudaEvent_t>(event))); }
float elapsed_milliseconds(EventHandle start, EventHandle end) {
  float milliseconds = 0;
  RT_CHECK_CUDA(cudaEventElapsedTime(&milliseconds, static_cast<cudaEvent_t>(start), static_cast<cudaEvent_t>(end)));
  return milliseconds;
}
void synchronize_stream(StreamHandle stream) {
  RT_CHECK_CUDA(cudaStreamSynchronize(static_cast<cudaStream_t>(stream)));
}
void copy_async(void* destination, const void* source, size_t bytes, StreamHandle stream) {
  RT_CHECK_CUDA(cudaMemcpyAsync(destination, source, bytes, cudaMemcpyDefault, static_cast<cudaStream_t>(stream)));
}

namespace {
// NaN and infinity are the floats whose exponent bits are all ones.
__global__ void nonfinite_kernel(const float* values, int64_t count, unsigned* flag) {
  unsigned any = 0;
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < count; i += int64_t{gridDim.x} * blockDim.x) {
    any |= (__float_as_uint(values[i]) & 0x7f800000u) == 0x7f800000u;
  }
  if (__syncthreads_or(any) && threadIdx.x == 0) atomicOr(flag, 1u);
}

template <typename T>
__global__ void fill_kernel(T* values, int64_t count, T value) {
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < count; i += int64_t{gridDim.x} * blockDim.x) {
    values[i] = value;
  }
}

// Replaces a thread's grow-only buffer by one of `bytes` when it is smaller; true if it did.
bool grow(void*& buffer, size_t& capacity, size_t bytes) {
  if (bytes <= capacity) return false;
  if (buffer) {
    RT_CHECK_CUDA(cudaStreamSynchronize(context.stream));  // kernels queued may still use the old one
    RT_CHECK_CUDA(cudaFree(buffer));
    buffer = nullptr;
    capacity = 0;
  }
  RT_CHECK_CUDA(cudaMalloc(&buffer, bytes));
  capacity = bytes;
  return true;
}
}  // namespace

const float* ones(int64_t count) {
  if (grow(context.ones, context.ones_bytes, static_cast<size_t>(count) * sizeof(float))) {
    fill_kernel<<<blocks_for(count), kThreads, 0, context.stream>>>(static_cast<float*>(context.ones), count, 1.0f);
    RT_CHECK_LAUNCH(fill_kernel);
  }
  return static_cast<const float*>(context.ones);
}

const __nv_bfloat16* ones_bf16(int64_t count) {
  if (grow(context.ones_bf16, context.ones_bf16_bytes, static_cast<size_t>(count) * sizeof(__nv_bfloat16))) {
    fill_kernel<<<blocks_for(count), kThreads, 0, context.stream>>>(static_cast<__nv_bfloat16*>(context.ones_bf16),
                                                                    count, __float2bfloat16(1.0f));
    RT_CHECK_LAUNCH(fill_kernel);
  }
  return static_cast<const __nv_bfloat16*>(context.ones_bf16);
}

void* scratch(size_t bytes) {
  grow(context.buffers[0], context.buffer_bytes[0], bytes);
  return context.buffers[0];
}

void* operand_buffer(int which, size_t bytes) {
  RT_CHECK(which == 0 || which == 1, "operand buffer {} of 2", which);
  grow(context.buffers[1 + which], context.buffer_bytes[1 + which], bytes);
  return context.buffers[1 + which];
}

void* matmul_workspace() {
  grow(context.buffers[3], context.buffer_bytes[3], kMatmulWorkspaceBytes);
  return context.buffers[3];
}

void nonfinite_flag(const float* values, int64_t count, uint32_t* device_flag) {
  static_assert(sizeof(uint32_t) == sizeof(unsigned), "the flag is set with a 32-bit atomic");
  RT_CHECK_CUDA(cudaMemsetAsync(device_flag, 0, sizeof(uint32_t), context.stream));
  if (count == 0) return;
  unsigned blocks = std::min(blocks_for(count), 1024u);
  nonfinite_kernel<<<blocks, kThreads, 0, context.stream>>>(values, count, reinterpret_cast<unsigned*>(device_flag));
  RT_CHECK_LAUNCH(nonfinite_kernel);
}


}  // namespace rt::kernels::cuda
