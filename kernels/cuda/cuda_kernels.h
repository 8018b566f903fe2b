// The CUDA twins of kernels/kernels.h, with the same arguments, all pointers on the device
// (loss_sum and correct included). They run on the calling thread's stream (set_stream) and are
// asynchronous: a result is ready on the host after synchronize(). No CUDA header is needed to
// call them; without CUDA in the build every one of them throws, saying so.
//
// One difference from the CPU twins: a label outside [0, classes) cannot throw from a kernel, so
// softmax_cross_entropy makes that row's loss and gradient NaN; the trainer's non-finite check
// then skips the step and reports it.
#pragma once

#include <cstddef>
#include <cstdint>

#include "kernels/kernels.h"

namespace rt::kernels::cuda {

// Devices visible to this process (0 when the build or the machine has no CUDA).
int device_count();
void set_device(int device);
void synchronize();
// TF32 tensor cores for float32 matrix products (default off: exact fp32).
void set_tf32(bool enabled);

// Device memory; the owning RAII type over it is DeviceBuffer (device_buffer.h).
void* allocate(size_t bytes);
void release(void* pointer) noexcept;
void copy_to_device(void* device, const void* host, size_t bytes);
void copy_to_host(void* host, const void* device, size_t bytes);
void fill_bytes(void* device, int byte, size_t bytes);

void gemm(Transpose trans_a, Transpose trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
          const float* b, float beta, float* c);
void linear_forward(const float* x, const float* weight, const float* bias, int64_t rows, int64_t in, int64_t out,
                    float* y);
void linear_backward_input(const float* dy, const float* weight, int64_t rows, int64_t in, int64_t out, float* dx);
void linear_backward_params(const float* dy, const float* x, int64_t rows, int64_t in, int64_t out, float beta,
                            float* dweight, float* dbias);
void relu_forward(const float* x, float* y, int64_t count);
void relu_backward(const float* y, const float* dy, float* dx, int64_t count);
void softmax_cross_entropy(const float* logits, const int32_t* labels, int64_t rows, int64_t classes,
                           float grad_scale, float* dlogits, double* loss_sum);
void count_correct(const float* logits, const int32_t* labels, int64_t rows, int64_t classes, int64_t* correct);
void sgd_momentum(float* params, const float* grads, float* velocity, int64_t count, float lr, float momentum,
                  float weight_decay);

}  // namespace rt::kernels::cuda
