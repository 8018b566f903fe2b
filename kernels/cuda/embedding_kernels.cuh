// The kernels of embedding.cu and their launches, in a header of their own so that a test can also
// run them on the CPU under the host emulation of tests/kernels/cuda_emulation.h.
#pragma once

#include <cstdint>

#include "kernels/cuda/launch.h"

namespace RT_KERNELS_NAMESPACE::embedding {

// A token id outside [0, vocab) reads row 0: its target's loss turns NaN instead (kernels.h).
__device__ int64_t token_id(float value, int64_t vocab) {
  const auto token = static_cast<int64_t>(value);
  return token >= 0 && token < vocab ? token : 0;
}

__global__ void embedding_forward_kernel(const float* tokens, int64_t rows, int64_t context, int64_t vocab,
                                         int64_t width, const float* wte, const float* wpe, float* y) {
  const int64_t total = rows * context * width;
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < total; i += int64_t{gridDim.x} * blockDim.x) {
    const int64_t c = i % width, position = i / width;
    const int64_t r = position / context, t = position % context;
    const int64_t token = token_id(tokens[r * (context + 1) + t], vocab);
    y[i] = wte[token * width + c] + wpe[t * width + c];
  }
}

__global__ void scale_kernel(float* values, int64_t count, float factor) {
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < count; i += int64_t{gridDim.x} * blockDim.x) {
    values[i] = factor == 0.0f ? 0.0f : values[i] * factor;
  }
}

__global__ void token_grad_kernel(const float* tokens, const float* dy, int64_t rows, int64_t context, int64_t vocab,
                                  int64_t width, float* dwte) {
  const int64_t total = rows * context * width;
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < total; i += int64_t{gridDim.x} * blockDim.x) {
    const int64_t c = i % width, position = i / width;
    const int64_t r = position / context, t = position % context;
    const int64_t token = token_id(tokens[r * (context + 1) + t], vocab);
    atomicAdd(dwte + token * width + c, dy[i]);
  }
}

__global__ void position_grad_kernel(const float* dy, int64_t rows, int64_t context, int64_t width, float beta,
                                     float* dwpe) {
  const int64_t total = context * width;
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < total; i += int64_t{gridDim.x} * blockDim.x) {
    float sum = beta == 0.0f ? 0.0f : beta * dwpe[i];
    for (int64_t r = 0; r < rows; ++r) sum += dy[r * total + i];
    dwpe[i] = sum;
  }
}

__global__ void next_token_targets_kernel(const float* tokens, int64_t rows, int64_t context, int32_t* targets) {
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < rows * context;
       i += int64_t{gridDim.x} * blockDim.x) {
    const int64_t r = i / context, t = i % context;
    targets[i] = static_cast<int32_t>(tokens[r * (context + 1) + t + 1]);
  }
}

template <typename Launch>
void launch_forward(const Launch& launch, const float* tokens, int64_t rows, int64_t context, int64_t vocab,
                    int64_t width, const float* wte, const float* wpe, float* y) {
  if (rows == 0) return;
  launch(embedding_forward_kernel, Grid{blocks_for(rows * context * width)}, kThreads, 0, tokens, rows, context, vocab,
         width, wte, wpe, y);
}

template <typename Launch>
void launch_backward(const Launch& launch, const float* tokens, const float* dy, int64_t rows, int64_t context,
                     int64_t vocab, int64_t width, float beta_wte, float* dwte, float beta_wpe, float* dwpe) {
  if (beta_wte != 1.0f) launch(scale_kernel, Grid{blocks_for(vocab * width)}, kThreads, 0, dwte, vocab * width, beta_wte);
  launch(position_grad_kernel, Grid{blocks_for(context * width)}, kThreads, 0, dy, rows, context, width, beta_wpe,
         dwpe);
  if (rows == 0) return;
  launch(token_grad_kernel, Grid{blocks_for(rows * context * width)}, kThreads, 0, tokens, dy, rows, context, vocab,
         width, dwte);
}

template <typename Launch>
void launch_next_token_targets(const Launch& launch, const float* tokens, int64_t rows, int64_t context,
                               int32_t* targets) {
  if (rows == 0) return;
  launch(next_token_targets_kernel, Grid{blocks_for(rows * context)}, kThreads, 0, tokens, rows, context, targets);
}

}  // namespace RT_KERNELS_NAMESPACE::embedding
