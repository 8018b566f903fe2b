// What the CUDA kernels and their launchers share, with no CUDA header, so that a test can also
// compile the kernel headers (*_kernels.cuh) under the host emulation of tests/kernels/
// cuda_emulation.h: launch sizes, a grid, and the namespace the kernels are compiled into.
#pragma once

#include <cstdint>

// CUDA's kernels live in rt::kernels::cuda; the emulation defines this first, so that its
// compilation of the same kernels never shares a name with the library's.
#ifndef RT_KERNELS_NAMESPACE
#define RT_KERNELS_NAMESPACE rt::kernels::cuda
#endif

namespace RT_KERNELS_NAMESPACE {

constexpr int kThreads = 256;
inline unsigned blocks_for(int64_t count) {
  int64_t blocks = (count + kThreads - 1) / kThreads;
  return static_cast<unsigned>(blocks < 65535 * 32 ? (blocks > 0 ? blocks : 1) : 65535 * 32);
}
// Whether a pointer can be read and written as float4s.
inline bool aligned16(const void* pointer) { return reinterpret_cast<uintptr_t>(pointer) % 16 == 0; }
// How many whole float4s of `count` floats an elementwise kernel takes four at a time: count / 4
// where every one of the pointers is 16-byte aligned, else none (the rest go one at a time).
template <typename... Pointers>
int64_t float4s_of(int64_t count, const Pointers*... pointers) {
  return (aligned16(pointers) && ...) ? count / 4 : 0;
}

// A launch's grid (blocks along x, then y). The launchers in the kernel headers take a `launch`
// callable, launch(kernel, Grid, threads, shared_bytes, arguments...): StreamLaunch (context.h)
// on the GPU, the emulation's in its test.
struct Grid {
  unsigned x = 1, y = 1;
};

}  // namespace RT_KERNELS_NAMESPACE
