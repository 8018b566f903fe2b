// A host emulation of the CUDA subset that the tensor-core attention kernels use, so that their
// logic (tiling, masks, the online softmax, the backward recurrences, where they synchronise) is
// tested on every machine, GPU or not. A block's threads are std::threads; __syncthreads and
// __syncwarp are barriers; a WMMA fragment holds the whole 16 x 16 matrix in every lane (each lane
// loads and multiplies it whole), and a fragment store is made by lane 0 alone, so a kernel that
// reads the stored tile before its own __syncwarp reads stale data here too. bf16 rounds to
// nearest even, as __float2bfloat16 does. What it cannot show: how the hardware spreads a fragment
// over the lanes, timing, and the limits of registers and shared memory (the GPU test does).
#pragma once

#define RT_EMULATED_CUDA 1

#include <cmath>
#include <condition_variable>
#include <cstdint>
#include <cstring>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <type_traits>
#include <vector>

#define __global__
#define __device__
#define __launch_bounds__(threads)

struct EmulatedDim3 {
  unsigned x = 0, y = 0, z = 0;
};
inline thread_local EmulatedDim3 threadIdx, blockIdx;
inline EmulatedDim3 blockDim, gridDim;

namespace rt::testing::cuda_emulation {

class Barrier {
 public:
  explicit Barrier(int count) : count_(count) {}
  void arrive_and_wait() {
    std::unique_lock<std::mutex> lock(mutex_);
    const uint64_t generation = generation_;
    if (++arrived_ == count_) {
      arrived_ = 0;
      ++generation_;
      changed_.notify_all();
      return;
    }
    changed_.wait(lock, [&] { return generation_ != generation; });
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  const int count_;
  int arrived_ = 0;
  uint64_t generation_ = 0;
};

struct Block {
  std::unique_ptr<Barrier> all;
  std::vector<std::unique_ptr<Barrier>> warps;
  std::vector<float> exchange;        // __shfl_xor_sync's values, a slot per thread
  std::vector<unsigned char> shared;  // dynamic shared memory
};
inline Block* block = nullptr;

// Runs kernel(arguments...) on a grid of blocks of `threads` threads, one block after another.
template <typename Kernel, typename... Arguments>
void launch(EmulatedDim3 grid, unsigned threads, size_t shared_bytes, Kernel kernel, Arguments... arguments) {
  blockDim = {threads, 1, 1};
  gridDim = grid;
  for (unsigned y = 0; y < grid.y; ++y) {
    for (unsigned x = 0; x < grid.x; ++x) {
      Block current;
      current.all = std::make_unique<Barrier>(static_cast<int>(threads));
      for (unsigned w = 0; w < threads / 32; ++w) current.warps.push_back(std::make_unique<Barrier>(32));
      current.exchange.assign(threads, 0.0f);
      current.shared.assign(shared_bytes, 0xab);  // not zeroed on a GPU either
      block = &current;
      std::vector<std::thread> pool;
      for (unsigned t = 0; t < threads; ++t) {
        pool.emplace_back([&, t] {
          threadIdx = {t, 0, 0};
          blockIdx = {x, y, 0};
          kernel(arguments...);
        });
      }
      for (std::thread& thread : pool) thread.join();
      block = nullptr;
    }
  }
}

}  // namespace rt::testing::cuda_emulation

#define RT_DYNAMIC_SHARED_MEMORY(name) unsigned char* name = rt::testing::cuda_emulation::block->shared.data()

inline void __syncthreads() { rt::testing::cuda_emulation::block->all->arrive_and_wait(); }
inline void __syncwarp() { rt::testing::cuda_emulation::block->warps[threadIdx.x / 32]->arrive_and_wait(); }
inline float __shfl_xor_sync(unsigned, float value, int lane_mask) {
  auto& exchange = rt::testing::cuda_emulation::block->exchange;
  const unsigned warp_first = threadIdx.x / 32 * 32;
  exchange[threadIdx.x] = value;
  __syncwarp();
  const float other = exchange[warp_first + ((threadIdx.x % 32) ^ static_cast<unsigned>(lane_mask))];
  __syncwarp();
  return other;
}
inline float __expf(float x) { return std::exp(x); }  // the GPU's is faster and a few ulp less exact

struct float4 {
  float x, y, z, w;
};
inline float4 make_float4(float x, float y, float z, float w) { return {x, y, z, w}; }

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

namespace nvcuda::wmma {
struct matrix_a {};
struct matrix_b {};
struct accumulator {};
struct row_major {};
struct col_major {};
enum layout_t { mem_row_major, mem_col_major };

template <typename Use, int M, int N, int K, typename T, typename Layout = void>
struct fragment {
  static_assert(M == 16 && N == 16 && K == 16, "only 16 x 16 x 16 tiles are emulated");
  float x[16][16];
};
using Accumulator = fragment<accumulator, 16, 16, 16, float>;

template <typename Use, typename T, typename Layout>
void load_matrix_sync(fragment<Use, 16, 16, 16, T, Layout>& f, const T* p, unsigned ld) {
  for (unsigned r = 0; r < 16; ++r) {
    for (unsigned c = 0; c < 16; ++c) {
      f.x[r][c] = static_cast<float>(std::is_same<Layout, row_major>::value ? p[r * ld + c] : p[c * ld + r]);
    }
  }
}
inline void load_matrix_sync(Accumulator& f, const float* p, unsigned ld, layout_t layout) {
  for (unsigned r = 0; r < 16; ++r) {
    for (unsigned c = 0; c < 16; ++c) f.x[r][c] = layout == mem_row_major ? p[r * ld + c] : p[c * ld + r];
  }
}
inline void store_matrix_sync(float* p, const Accumulator& f, unsigned ld, layout_t layout) {
  if (threadIdx.x % 32 != 0) return;  // lane 0 alone: readers must wait for the kernel's __syncwarp
  for (unsigned r = 0; r < 16; ++r) {
    for (unsigned c = 0; c < 16; ++c) (layout == mem_row_major ? p[r * ld + c] : p[c * ld + r]) = f.x[r][c];
  }
}
inline void fill_fragment(Accumulator& f, float value) {
  for (auto& row : f.x) {
    for (float& element : row) element = value;
  }
}
template <typename A, typename B>
void mma_sync(Accumulator& d, const A& a, const B& b, const Accumulator& c) {
  Accumulator sum;
  for (int r = 0; r < 16; ++r) {
    for (int col = 0; col < 16; ++col) {
      float total = c.x[r][col];
      for (int k = 0; k < 16; ++k) total += a.x[r][k] * b.x[k][col];
      sum.x[r][col] = total;
    }
  }
  d = sum;
}
}  // namespace nvcuda::wmma
