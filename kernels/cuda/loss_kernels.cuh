// The kernels of loss.cu and their launches, in a header of their own so that a test can also run
// them on the CPU under the host emulation of tests/kernels/cuda_emulation.h.
#pragma once

#include <cmath>
#include <cstdint>

#include "kernels/cuda/bf16.cuh"
#include "kernels/cuda/block_reduce.cuh"
#include "kernels/cuda/launch.h"

namespace RT_KERNELS_NAMESPACE {

// logits fp32 or bf16 (read as their exact values); dlogits fp32 or bf16 (rounded as stored),
// possibly over logits of its own type (each thread reads an element before it writes it).
template <typename In, typename Grad>
__global__ void softmax_cross_entropy_kernel(const In* logits, const int32_t* labels, int64_t classes,
                                             float grad_scale, Grad* dlogits, double* loss_sum) {
  __shared__ float shared_max[kThreads];
  __shared__ double shared_sum[kThreads];
  const int64_t row = blockIdx.x;
  const In* x = logits + row * classes;
  const int32_t label = labels[row];
  const bool valid = label >= 0 && label < classes;
  // Read before any thread writes the gradient, which may overwrite the logits (in place).
  const float label_logit = valid && threadIdx.x == 0 ? load(x + label) : 0.0f;

  // The row's maximum and sum of exponentials in one pass (online: a thread's sum is rescaled when
  // its maximum grows), then the threads' sums rescaled to the row's maximum and added.
  float local_max = -INFINITY;
  double local_sum = 0.0;
  for (int64_t c = threadIdx.x; c < classes; c += blockDim.x) {
    const float value = load(x + c);
    if (value > local_max) {
      local_sum = local_sum * exp(static_cast<double>(local_max) - value) + 1.0;
      local_max = value;
    } else {
      local_sum += exp(static_cast<double>(value) - local_max);
    }
  }
  const float max_logit = block_reduce(local_max, shared_max, BlockMax());
  if (local_max != -INFINITY) local_sum *= exp(static_cast<double>(local_max) - max_logit);
  const double log_sum = log(block_reduce(local_sum, shared_sum, BlockSum()));

  if (threadIdx.x == 0) {
    double loss = valid ? log_sum - static_cast<double>(label_logit - max_logit) : NAN;
    atomicAdd(loss_sum, loss);
  }
  if (dlogits) {
    Grad* grad = dlogits + row * classes;
    for (int64_t c = threadIdx.x; c < classes; c += blockDim.x) {
      double probability = exp(static_cast<double>(load(x + c) - max_logit) - log_sum);
      store(grad + c, valid ? static_cast<float>((probability - (c == label ? 1.0 : 0.0)) * grad_scale) : NAN);
    }
  }
}

// A thread per row; the first maximum wins, as on the CPU.
template <typename In>
__global__ void count_correct_kernel(const In* logits, const int32_t* labels, int64_t rows, int64_t classes,
                                     unsigned long long* correct) {
  int64_t row = blockIdx.x * int64_t{blockDim.x} + threadIdx.x;
  if (row >= rows) return;
  const In* x = logits + row * classes;
  int64_t best = 0;
  float best_value = load(x);
  for (int64_t c = 1; c < classes; ++c) {
    const float value = load(x + c);
    if (value > best_value) best = c, best_value = value;
  }
  if (best == labels[row]) atomicAdd(correct, 1ULL);
}

// A thread per row; each block's three sums reduced in shared memory, then added once.
__global__ void squared_error_kernel(const float* outputs, const float* targets, int64_t rows, float grad_scale,
                                     float* grad, double* sums) {
  __shared__ double shared[kThreads];
  const int64_t row = blockIdx.x * int64_t{blockDim.x} + threadIdx.x;
  double difference = 0.0, target = 0.0;
  if (row < rows) {
    target = targets[row];
    difference = static_cast<double>(outputs[row]) - target;
    if (grad) grad[row] = static_cast<float>(2.0 * difference * grad_scale);
  }
  const double error = block_sum(difference * difference, shared);
  const double sum = block_sum(target, shared);
  const double squares = block_sum(target * target, shared);
  if (threadIdx.x == 0) {
    atomicAdd(sums, error);
    atomicAdd(sums + 1, sum);
    atomicAdd(sums + 2, squares);
  }
}

template <typename Launch>
void launch_squared_error(const Launch& launch, const float* outputs, const float* targets, int64_t rows,
                          float grad_scale, float* grad, double* sums) {
  if (rows == 0) return;
  launch(squared_error_kernel, Grid{blocks_for(rows)}, kThreads, 0, outputs, targets, rows, grad_scale, grad, sums);
}

// logits: float* or __nv_bfloat16*; dlogits: float* (may be fp32 logits, or null: the loss only)
// or __nv_bfloat16* (may be bf16 logits).
template <typename Launch, typename In, typename Grad>
void launch_softmax_cross_entropy(const Launch& launch, const In* logits, const int32_t* labels, int64_t rows,
                                  int64_t classes, float grad_scale, Grad* dlogits, double* loss_sum) {
  if (rows == 0) return;
  launch(softmax_cross_entropy_kernel<In, Grad>, Grid{static_cast<unsigned>(rows)}, kThreads, 0, logits, labels,
         classes, grad_scale, dlogits, loss_sum);
}

template <typename Launch, typename In>
void launch_count_correct(const Launch& launch, const In* logits, const int32_t* labels, int64_t rows,
                          int64_t classes, unsigned long long* correct) {
  if (rows == 0) return;
  launch(count_correct_kernel<In>, Grid{blocks_for(rows)}, kThreads, 0, logits, labels, rows, classes, correct);
}

}  // namespace RT_KERNELS_NAMESPACE
