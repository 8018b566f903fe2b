// A host emulation of the CUDA subset that the kernel headers (kernels/cuda/*_kernels.cuh) use,
// so that their logic (tiling, masks, reductions, the online softmax, the backward recurrences,
// where they synchronise, which lane holds which element of an mma fragment, the launchers' choice
// of grid and of float4 or scalar paths) is tested on every machine, GPU or not. A block's threads
// are fibers that take turns on the calling thread (each runs until it waits at a barrier or
// ends), blocks run one after another; __syncthreads and __syncwarp are barriers, and threads
// that wait at barriers the others never reach fail the launch instead of hanging; static shared
// memory is one variable per kernel; mma_16816 gathers the warp's fragments as PTX's
// mma.m16n8k16 lays them out over the lanes and multiplies them in fp32; bf16 rounds to nearest
// even, as __float2bfloat16 does. What it cannot show: timing, and the limits of registers and
// shared memory (the GPU tests do).
#pragma once

#define RT_EMULATED_CUDA 1
// The kernel headers compile their kernels into this namespace here (kernels/cuda/launch.h).
#define RT_KERNELS_NAMESPACE rt::kernels::emulated_cuda

#include <ucontext.h>

#include <array>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <exception>
#include <functional>
#include <memory>
#include <stdexcept>
#include <type_traits>
#include <vector>

#include "kernels/cuda/launch.h"

#define __global__
#define __device__
#define __launch_bounds__(threads)
// A kernel's static shared memory: one variable for all the threads of the block running now
// (blocks run one after another).
#define __shared__ static
#define __align__(bytes) __attribute__((aligned(bytes)))

struct EmulatedDim3 {
  unsigned x = 0, y = 0, z = 0;
};
inline EmulatedDim3 threadIdx, blockIdx;  // the running fiber's
inline EmulatedDim3 blockDim, gridDim;

namespace rt::testing::cuda_emulation {

struct Fiber {
  ucontext_t context;
  unsigned thread = 0;
  int mma_calls = 0;
  bool done = false;
  std::exception_ptr error;
};

class Barrier;

struct Block {
  std::unique_ptr<Barrier> all;
  std::vector<std::unique_ptr<Barrier>> warps;
  std::vector<double> exchange;  // __shfl_xor_sync's values (float or double), a slot per thread
  // mma_16816's fragments, a slot per thread in each of two sets used in turn: a lane reuses a set
  // only after the next call's barrier, which every lane reaches only once done reading it.
  std::vector<std::array<uint32_t, 6>> fragments[2];
  std::vector<unsigned char> shared;  // dynamic shared memory
  std::function<void()> body;         // the kernel with its arguments
  std::vector<Fiber> fibers;
  Fiber* running = nullptr;
  ucontext_t scheduler;
  uint64_t progress = 0;  // arrivals at barriers and ends of threads
};
inline Block* block = nullptr;

inline void yield() { swapcontext(&block->running->context, &block->scheduler); }

class Barrier {
 public:
  explicit Barrier(int count) : count_(count) {}
  void arrive_and_wait() {
    ++block->progress;
    const uint64_t generation = generation_;
    if (++arrived_ == count_) {
      arrived_ = 0;
      ++generation_;
      return;
    }
    while (generation_ == generation) yield();
  }

 private:
  const int count_;
  int arrived_ = 0;
  uint64_t generation_ = 0;
};

inline void fiber_main() {
  Fiber* fiber = block->running;
  try {
    block->body();
  } catch (...) {
    fiber->error = std::current_exception();
  }
  fiber->done = true;
  ++block->progress;
}  // returns to the scheduler (uc_link)

// Runs the block's fibers in turns until all have ended. (A function of its own, as is the
// fibers' set-up: the variables that live across getcontext and swapcontext, which return more
// than once, are then only their constants.)
[[gnu::noinline]] inline void prepare_fiber(Block& current, unsigned thread, char* stack, size_t stack_bytes) {
  Fiber& fiber = current.fibers[thread];
  fiber.thread = thread;
  getcontext(&fiber.context);
  fiber.context.uc_stack.ss_sp = stack;
  fiber.context.uc_stack.ss_size = stack_bytes;
  fiber.context.uc_link = &current.scheduler;
  makecontext(&fiber.context, fiber_main, 0);
}

[[gnu::noinline]] inline void run_block(Block& current, const unsigned x, const unsigned y) {
  block = &current;
  for (size_t live = current.fibers.size(); live > 0;) {
    const uint64_t before = current.progress;
    for (Fiber& fiber : current.fibers) {
      if (fiber.done) continue;
      current.running = &fiber;
      threadIdx = {fiber.thread, 0, 0};
      blockIdx = {x, y, 0};
      swapcontext(&current.scheduler, &fiber.context);
      if (!fiber.done) continue;
      --live;
      if (fiber.error) {
        block = nullptr;
        std::rethrow_exception(fiber.error);
      }
    }
    if (live > 0 && current.progress == before) {
      block = nullptr;
      throw std::runtime_error("emulated kernel deadlocked: threads wait at barriers the others do not reach");
    }
  }
  block = nullptr;
}

// Runs kernel(arguments...) on a grid of blocks of `threads` threads, one block after another.
template <typename Kernel, typename... Arguments>
void launch(EmulatedDim3 grid, unsigned threads, size_t shared_bytes, Kernel kernel, Arguments... arguments) {
  constexpr size_t kStackBytes = 256 * 1024;
  blockDim = {threads, 1, 1};
  gridDim = grid;
  std::vector<std::unique_ptr<char[]>> stacks(threads);
  for (auto& stack : stacks) stack = std::make_unique<char[]>(kStackBytes);
  for (unsigned y = 0; y < grid.y; ++y) {
    for (unsigned x = 0; x < grid.x; ++x) {
      Block current;
      current.all = std::make_unique<Barrier>(static_cast<int>(threads));
      for (unsigned w = 0; w < threads / 32; ++w) current.warps.push_back(std::make_unique<Barrier>(32));
      current.exchange.assign(threads, 0.0);
      for (auto& set : current.fragments) set.assign(threads, {});
      current.shared.assign(shared_bytes, 0xab);  // not zeroed on a GPU either
      current.body = [&] { kernel(arguments...); };
      current.fibers.resize(threads);
      for (unsigned t = 0; t < threads; ++t) prepare_fiber(current, t, stacks[t].get(), kStackBytes);
      run_block(current, x, y);
    }
  }
}

// The `launch` that the kernel headers' launchers take (kernels/cuda/launch.h), here.
struct Launch {
  template <typename Kernel, typename... Arguments>
  void operator()(Kernel kernel, rt::kernels::emulated_cuda::Grid grid, unsigned threads, size_t shared_bytes,
                  Arguments... arguments) const {
    launch({grid.x, grid.y, 1}, threads, shared_bytes, kernel, arguments...);
  }
};

}  // namespace rt::testing::cuda_emulation

#define RT_DYNAMIC_SHARED_MEMORY(name) unsigned char* name = rt::testing::cuda_emulation::block->shared.data()

inline void __syncthreads() { rt::testing::cuda_emulation::block->all->arrive_and_wait(); }
inline void __syncwarp() { rt::testing::cuda_emulation::block->warps[threadIdx.x / 32]->arrive_and_wait(); }
template <typename T>
T __shfl_xor_sync(unsigned, T value, int lane_mask) {
  static_assert(std::is_same<T, float>::value || std::is_same<T, double>::value, "floats and doubles are emulated");
  auto& exchange = rt::testing::cuda_emulation::block->exchange;
  const unsigned warp_first = threadIdx.x / 32 * 32;
  exchange[threadIdx.x] = value;
  __syncwarp();
  const T other = static_cast<T>(exchange[warp_first + ((threadIdx.x % 32) ^ static_cast<unsigned>(lane_mask))]);
  __syncwarp();
  return other;
}
// One thread runs at a time: no other can come between the read and the write.
template <typename T>
T atomicAdd(T* address, T value) {
  const T old = *address;
  *address = old + value;
  return old;
}
inline float __expf(float x) { return std::exp(x); }  // the GPU's is faster and a few ulp less exact

struct float4 {
  float x, y, z, w;
};
inline float4 make_float4(float x, float y, float z, float w) { return {x, y, z, w}; }
struct uint2 {
  uint32_t x, y;
};
inline uint2 make_uint2(uint32_t x, uint32_t y) { return {x, y}; }

[[noreturn]] inline void __trap() { throw std::runtime_error("__trap() in an emulated kernel"); }

struct __nv_bfloat16 {
  uint16_t bits;
  operator float() const {
    const uint32_t word = uint32_t{bits} << 16;
    float value;
    std::memcpy(&value, &word, sizeof value);
    return value;
  }
};
inline __nv_bfloat16 __float2bfloat16(float value) {  // to nearest, ties to even (no NaN inputs here)
  uint32_t word;
  std::memcpy(&word, &value, sizeof word);
  word += 0x7fff + ((word >> 16) & 1);
  return __nv_bfloat16{static_cast<uint16_t>(word >> 16)};
}

inline __nv_bfloat16 __float2bfloat16_rn(float value) { return __float2bfloat16(value); }
inline uint16_t __bfloat16_as_ushort(__nv_bfloat16 value) { return value.bits; }
inline float __bfloat162float(__nv_bfloat16 value) { return static_cast<float>(value); }
inline float __uint_as_float(uint32_t word) {
  float value;
  std::memcpy(&value, &word, sizeof value);
  return value;
}

namespace rt::testing::cuda_emulation {
inline float bf16_at(uint32_t pair, int half) {
  return static_cast<float>(__nv_bfloat16{static_cast<uint16_t>(half == 0 ? pair & 0xffff : pair >> 16)});
}
}  // namespace rt::testing::cuda_emulation

// PTX's mma.m16n8k16 with bf16 inputs and fp32 sums, a warp-wide call: every lane gives its
// fragments (the layout in attention_tensor_core_kernels.cuh) and gets its own elements of c.
inline void mma_16816(float (&c)[4], const uint32_t (&a)[4], const uint32_t (&b)[2]) {
  namespace emulation = rt::testing::cuda_emulation;
  auto& slots = emulation::block->fragments[emulation::block->running->mma_calls++ % 2];
  const unsigned warp_first = threadIdx.x / 32 * 32, lane = threadIdx.x % 32;
  slots[threadIdx.x] = {a[0], a[1], a[2], a[3], b[0], b[1]};
  __syncwarp();
  // Element (row, k) of A and (k, column) of B, from the lane and register that hold it.
  auto a_at = [&](int row, int k) {
    const auto& slot = slots[warp_first + (row % 8) * 4 + (k % 8) / 2];
    return emulation::bf16_at(slot[(row >= 8 ? 1 : 0) + (k >= 8 ? 2 : 0)], k % 2);
  };
  auto b_at = [&](int k, int column) {
    const auto& slot = slots[warp_first + column * 4 + (k % 8) / 2];
    return emulation::bf16_at(slot[4 + (k >= 8 ? 1 : 0)], k % 2);
  };
  const int g = static_cast<int>(lane / 4), t = static_cast<int>(lane % 4);
  for (int e = 0; e < 4; ++e) {
    const int row = g + (e >= 2 ? 8 : 0), column = 2 * t + (e & 1);
    float sum = c[e];
    for (int k = 0; k < 16; ++k) sum += a_at(row, k) * b_at(k, column);
    c[e] = sum;
  }
}
