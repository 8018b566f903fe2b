// The kernels of elementwise.cu, in a header of their own so that a test can also run them on
// the CPU under the host emulation of tests/kernels/cuda_emulation.h. Grid-stride loops with
// 64-bit indices, so any size works with a bounded grid.
#pragma once

#include <cstdint>

#include "kernels/cuda/bf16.cuh"
#include "kernels/cuda/launch.h"
#include "kernels/dropout_mask.h"
#include "kernels/pointwise_activations.h"

namespace RT_KERNELS_NAMESPACE {

__global__ void relu_forward_kernel(const float* x, float* y, int64_t count) {
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < count; i += int64_t{gridDim.x} * blockDim.x) {
    y[i] = x[i] > 0.0f ? x[i] : 0.0f;
  }
}

// b fp32 or bf16 (read as its exact value).
template <typename B>
__global__ void add_kernel(const float* a, const B* b, float* y, int64_t count) {
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < count; i += int64_t{gridDim.x} * blockDim.x) {
    y[i] = a[i] + load(b + i);
  }
}

// b four fp32 values (float4) or four bf16 values in an 8-byte word (uint2).
template <typename B4>
__global__ void add4_kernel(const float4* a, const B4* b, float4* y, int64_t count4) {
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < count4; i += int64_t{gridDim.x} * blockDim.x) {
    const float4 u = a[i], v = widened(b[i]);
    y[i] = make_float4(u.x + v.x, u.y + v.y, u.z + v.z, u.w + v.w);
  }
}

__global__ void relu_backward_kernel(const float* y, const float* dy, float* dx, int64_t count) {
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < count; i += int64_t{gridDim.x} * blockDim.x) {
    dx[i] = y[i] > 0.0f ? dy[i] : 0.0f;
  }
}

// Stored uint8 features to float, as the loader does on the CPU.
__global__ void bytes_to_float_kernel(const uint8_t* bytes, float* y, int64_t count, float scale) {
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < count; i += int64_t{gridDim.x} * blockDim.x) {
    y[i] = static_cast<float>(bytes[i]) * scale;
  }
}

__global__ void dropout_kernel(const float* x, float* y, int64_t count, float p, float scale, uint64_t key) {
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < count; i += int64_t{gridDim.x} * blockDim.x) {
    y[i] = dropout_uniform(key, i) >= p ? x[i] * scale : 0.0f;
  }
}

// One pass over parameters, gradients and velocity (PyTorch's formulation, as the CPU twin).
__global__ void sgd_momentum_kernel(float* params, const float* grads, float* velocity, int64_t count, float lr,
                                    float momentum, float weight_decay, const uint32_t* skip) {
  if (skip && *skip) return;
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < count; i += int64_t{gridDim.x} * blockDim.x) {
    float grad = grads[i] + weight_decay * params[i];
    float v = momentum * velocity[i] + grad;
    velocity[i] = v;
    params[i] -= lr * v;
  }
}

// y = a + b, b fp32 or bf16: four at a time where a and y are 16-byte aligned and b 16-byte (fp32)
// or 8-byte (bf16), the rest one at a time.
template <typename Launch, typename B>
void launch_add(const Launch& launch, const float* a, const B* b, float* y, int64_t count) {
  if (count == 0) return;
  const int64_t vectors = four_aligned(a) && four_aligned(b) && four_aligned(y) ? count / 4 : 0;
  if (vectors > 0) {
    launch(add4_kernel<FourOf<B>>, Grid{blocks_for(vectors)}, kThreads, 0, reinterpret_cast<const float4*>(a),
           reinterpret_cast<const FourOf<B>*>(b), reinterpret_cast<float4*>(y), vectors);
  }
  const int64_t done = 4 * vectors;
  if (done == count) return;
  launch(add_kernel<B>, Grid{blocks_for(count - done)}, kThreads, 0, a + done, b + done, y + done, count - done);
}

// A pointwise activation's forward and backward (pointwise_activations.h), one kernel per entry.
template <typename Functions>
__global__ void pointwise_forward_kernel(const float* x, float* y, int64_t count) {
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < count; i += int64_t{gridDim.x} * blockDim.x) {
    y[i] = Functions::forward(x[i]);
  }
}

template <typename Functions>
__global__ void pointwise_backward_kernel(const float* x, const float* dy, float* dx, int64_t count) {
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < count; i += int64_t{gridDim.x} * blockDim.x) {
    dx[i] = dy[i] * Functions::derivative(x[i]);
  }
}

template <typename Launch>
void launch_pointwise_activation_forward(const Launch& launch, PointwiseActivation activation, const float* x,
                                         float* y, int64_t count) {
  if (count == 0) return;
  with_activation_functions(activation, [&](auto functions) {
    launch(pointwise_forward_kernel<decltype(functions)>, Grid{blocks_for(count)}, kThreads, 0, x, y, count);
  });
}

template <typename Launch>
void launch_pointwise_activation_backward(const Launch& launch, PointwiseActivation activation, const float* x,
                                          const float* dy, float* dx, int64_t count) {
  if (count == 0) return;
  with_activation_functions(activation, [&](auto functions) {
    launch(pointwise_backward_kernel<decltype(functions)>, Grid{blocks_for(count)}, kThreads, 0, x, dy, dx, count);
  });
}

template <typename Launch>
void launch_relu_forward(const Launch& launch, const float* x, float* y, int64_t count) {
  if (count == 0) return;
  launch(relu_forward_kernel, Grid{blocks_for(count)}, kThreads, 0, x, y, count);
}

template <typename Launch>
void launch_relu_backward(const Launch& launch, const float* y, const float* dy, float* dx, int64_t count) {
  if (count == 0) return;
  launch(relu_backward_kernel, Grid{blocks_for(count)}, kThreads, 0, y, dy, dx, count);
}

template <typename Launch>
void launch_bytes_to_float(const Launch& launch, const uint8_t* bytes, float* y, int64_t count, float scale) {
  if (count == 0) return;
  launch(bytes_to_float_kernel, Grid{blocks_for(count)}, kThreads, 0, bytes, y, count, scale);
}

template <typename Launch>
void launch_dropout(const Launch& launch, const float* x, float* y, int64_t count, float p, uint64_t key) {
  if (count == 0) return;
  launch(dropout_kernel, Grid{blocks_for(count)}, kThreads, 0, x, y, count, p, 1.0f / (1.0f - p), key);
}

template <typename Launch>
void launch_sgd_momentum(const Launch& launch, float* params, const float* grads, float* velocity, int64_t count,
                         float lr, float momentum, float weight_decay, const uint32_t* skip_if_set) {
  if (count == 0) return;
  launch(sgd_momentum_kernel, Grid{blocks_for(count)}, kThreads, 0, params, grads, velocity, count, lr, momentum,
         weight_decay, skip_if_set);
}

}  // namespace RT_KERNELS_NAMESPACE
