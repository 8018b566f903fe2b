// Causal attention in the manner of flash attention 2, its products on tensor cores (mma.sync,
// bf16 inputs, fp32 accumulation): AttentionAlgorithm::kTensorCore (kernels.h). The same tiling as
// the fused kernels of attention.cu (64 queries per block, key tiles of 64, the T x T scores never
// stored), but a warp owns 16 query (or key) rows and keeps their 16 x 64 score tile, the softmax
// and its output in registers (attention_tensor_core_kernels.cuh says how).
//
// Each tile of q, k, v (and dO) is read from the qkv activation (fp32, rounded to bf16 as it is
// staged; or bf16 where a GPT keeps its activations in bf16, staged as it is) into shared memory
// once per block, and multiplied from there; y and the gradient dqkv are stored fp32 or bf16 as
// qkv. Backward is two kernels, as in attention.cu, so that
// every gradient has one writer and the sums are deterministic: dq per query tile, dk and dv per
// key tile; both recompute the probabilities from the log-sum-exp, and read rowsum(dO O) from a
// small kernel run before them. Needs compute capability 8.0 (bf16 mma); head sizes 32 and 64.
#include <cmath>

#include "core/base/check.h"
#include "core/base/check_cuda.h"
#include "kernels/cuda/attention_tensor_core_kernels.cuh"
#include "kernels/cuda/context.h"
#include "kernels/cuda/cuda_kernels.h"

namespace rt::kernels::cuda {

namespace {

using namespace tensor_core_attention;

// The tiles begin at multiples of 16 bytes, their rows at multiples of 4 (a fragment register).
static_assert(Layout<64>::kTileBytes % 16 == 0 && Layout<32>::kTileBytes % 16 == 0, "tile alignment");
static_assert(Layout<64>::kTileTBytes % 16 == 0 && Layout<32>::kTileTBytes % 16 == 0, "tile alignment");
static_assert(Layout<64>::kLd % 2 == 0 && Layout<64>::kLdT % 2 == 0, "row alignment");

// Raises a kernel's dynamic shared memory limit once (where it needs more than the default 48 KB).
template <typename Kernel>
void allow_shared(Kernel kernel, int bytes) {
  RT_CHECK_CUDA(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, bytes));
}

template <int D, typename A>
void run_forward(const AttentionShape& s, const A* qkv, A* y, float* lse, float scale) {
  static const bool ready = (allow_shared(tc_forward_kernel<D, A>, forward_shared_bytes<D>()), true);
  (void)ready;
  launch_forward<D>(StreamLaunch{}, s.rows * s.heads, s.context, s.heads, qkv, y, lse, scale);
}

template <int D, typename A>
void run_backward(const AttentionShape& s, const A* qkv, const A* y, const float* lse, const float* dy, A* dqkv,
                  float scale) {
  static const bool ready = (allow_shared(tc_backward_dq_kernel<D, A>, dq_shared_bytes<D>()),
                             allow_shared(tc_backward_dkv_kernel<D, A>, dkv_shared_bytes<D>()), true);
  (void)ready;
  const size_t queries = static_cast<size_t>(s.rows * s.heads * s.context);
  auto* deltas = static_cast<float*>(scratch(queries * sizeof(float)));  // used by the launches that follow
  launch_backward<D>(StreamLaunch{}, s.rows * s.heads, s.context, s.heads, qkv, y, lse, dy, deltas, dqkv, scale);
}

void check_capability() {
  static const int major = compute_capability_major();
  RT_CHECK(major >= 8,
           "model.attention = \"tensor_core\" needs a GPU of compute capability 8.0 or newer (bf16 tensor cores); this "
           "one is {}.x: use \"fused\"",
           major);
}

}  // namespace

bool tensor_core_attention_supported(int64_t head_dim) { return head_dim == 32 || head_dim == 64; }

namespace {

template <typename A>
void forward(const AttentionShape& s, const A* qkv, A* y, float* lse, float scale) {
  check_capability();
  if (s.head_dim() == 32) return run_forward<32>(s, qkv, y, lse, scale);
  RT_CHECK(s.head_dim() == 64, "tensor-core attention has no kernel for heads of {}", s.head_dim());
  run_forward<64>(s, qkv, y, lse, scale);
}

template <typename A>
void backward(const AttentionShape& s, const A* qkv, const A* y, const float* lse, const float* dy, A* dqkv,
              float scale) {
  check_capability();
  if (s.head_dim() == 32) return run_backward<32>(s, qkv, y, lse, dy, dqkv, scale);
  RT_CHECK(s.head_dim() == 64, "tensor-core attention has no kernel for heads of {}", s.head_dim());
  run_backward<64>(s, qkv, y, lse, dy, dqkv, scale);
}

}  // namespace

void tensor_core_attention_forward(const AttentionShape& s, const float* qkv, float* y, float* lse, float scale) {
  forward(s, qkv, y, lse, scale);
}

void tensor_core_attention_forward(const AttentionShape& s, const bfloat16* qkv, bfloat16* y, float* lse,
                                   float scale) {
  forward(s, device_bf16(qkv), device_bf16(y), lse, scale);
}

void tensor_core_attention_backward(const AttentionShape& s, const float* qkv, const float* y, const float* lse,
                                    const float* dy, float* dqkv, float scale) {
  backward(s, qkv, y, lse, dy, dqkv, scale);
}

void tensor_core_attention_backward(const AttentionShape& s, const bfloat16* qkv, const bfloat16* y,
                                    const float* lse, const float* dy, bfloat16* dqkv, float scale) {
  backward(s, device_bf16(qkv), device_bf16(y), lse, dy, device_bf16(dqkv), scale);
}

}  // namespace rt::kernels::cuda
