// A reduction over the threads of one block through shared memory (`shared`: blockDim.x entries,
// blockDim.x a power of two): every thread gets the result, and the shared memory may be reused
// at once. The tree is fixed, so the result does not depend on timing.
#pragma once

#include "kernels/cuda/launch.h"

namespace RT_KERNELS_NAMESPACE {

template <typename T, typename Op>
__device__ T block_reduce(T value, T* shared, Op op) {
  shared[threadIdx.x] = value;
  __syncthreads();
  for (unsigned stride = blockDim.x / 2; stride > 0; stride /= 2) {
    if (threadIdx.x < stride) shared[threadIdx.x] = op(shared[threadIdx.x], shared[threadIdx.x + stride]);
    __syncthreads();
  }
  T result = shared[0];
  __syncthreads();
  return result;
}

struct BlockMax {
  __device__ float operator()(float a, float b) const { return a > b ? a : b; }
};
struct BlockSum {
  __device__ double operator()(double a, double b) const { return a + b; }
};

__device__ inline double block_sum(double value, double* shared) { return block_reduce(value, shared, BlockSum()); }

}  // namespace RT_KERNELS_NAMESPACE
