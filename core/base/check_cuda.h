// RT_CHECK_CUDA(call) and RT_CHECK_CUBLAS(call): throw rt::Error with the library's own error text,
// file, line and the failed call. Included by CUDA sources only (it needs the CUDA headers).
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime.h>

#include "core/base/check.h"

#define RT_CHECK_CUDA(call)                                                                            \
  do {                                                                                                 \
    cudaError_t rt_cuda_error_ = (call);                                                               \
    if (rt_cuda_error_ != cudaSuccess)                                                                 \
      ::rt::throw_error(__FILE__, __LINE__, #call,                                                     \
                        fmt::format("CUDA error {}: {}", cudaGetErrorName(rt_cuda_error_),           \
                                    cudaGetErrorString(rt_cuda_error_)));                              \
  } while (0)

// Checks that the kernel launch just before it was accepted (bad configuration, no device).
#define RT_CHECK_LAUNCH(kernel_name) RT_CHECK_CUDA(cudaGetLastError())

#define RT_CHECK_CUBLAS(call)                                                                          \
  do {                                                                                                 \
    cublasStatus_t rt_cublas_status_ = (call);                                                         \
    if (rt_cublas_status_ != CUBLAS_STATUS_SUCCESS)                                                    \
      ::rt::throw_error(__FILE__, __LINE__, #call,                                                     \
                        fmt::format("cuBLAS error {}: {}", cublasGetStatusName(rt_cublas_status_),   \
                                    cublasGetStatusString(rt_cublas_status_)));                        \
  } while (0)
