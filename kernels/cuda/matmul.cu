// Matrix products through cuBLAS (column-major) on our row-major buffers: a row-major C = A B is
// the column-major C^T = B^T A^T, so every call swaps the operands and the sizes. The bias is our
// own kernel; its gradient, a column sum, is a matrix-vector product with ones.
//
// bf16 products (set_matmul_precision(kBf16)) round both operands to bf16 into buffers of their
// own and multiply those, with fp32 sums and an fp32 result. cuBLAS's own fast-bf16 mode on fp32
// operands does the same arithmetic at its TF32 rate (on an H200, 16384 x 768 x 3072: 324 TFLOP/s
// either way, against 698 with bf16 operands); the rounding passes cost a read and a half-size
// write of each operand, little beside the product.
#include <cuda_bf16.h>

#include <algorithm>

#include "core/base/check_cuda.h"
#include "kernels/cuda/context.h"
#include "kernels/cuda/cuda_kernels.h"

namespace rt::kernels::cuda {

namespace {

__global__ void add_bias_kernel(float* y, const float* bias, int64_t rows, int64_t cols) {
  int64_t total = rows * cols;
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < total; i += int64_t{gridDim.x} * blockDim.x) {
    y[i] += bias[i % cols];
  }
}

// The same where the rows are whole float4s: a thread owns four columns (their bias read once)
// down the rows blockIdx.y, blockIdx.y + gridDim.y, ... (no division per element).
__global__ void add_bias4_kernel(float4* y, const float4* bias, int64_t rows, int64_t cols4) {
  const int64_t c = blockIdx.x * int64_t{blockDim.x} + threadIdx.x;
  if (c >= cols4) return;
  const float4 b = bias[c];
  for (int64_t r = blockIdx.y; r < rows; r += gridDim.y) {
    float4 v = y[r * cols4 + c];
    y[r * cols4 + c] = make_float4(v.x + b.x, v.y + b.y, v.z + b.z, v.w + b.w);
  }
}

void add_bias(float* y, const float* bias, int64_t rows, int64_t cols) {
  if (rows == 0) return;
  if (cols % 4 == 0 && reinterpret_cast<uintptr_t>(y) % 16 == 0 && reinterpret_cast<uintptr_t>(bias) % 16 == 0) {
    constexpr unsigned kColumnThreads = 64;
    const int64_t cols4 = cols / 4;
    const dim3 grid(static_cast<unsigned>((cols4 + kColumnThreads - 1) / kColumnThreads),
                    static_cast<unsigned>(std::min<int64_t>(rows, 4096)));
    add_bias4_kernel<<<grid, kColumnThreads, 0, current_stream()>>>(reinterpret_cast<float4*>(y),
                                                                    reinterpret_cast<const float4*>(bias), rows, cols4);
    RT_CHECK_LAUNCH(add_bias4_kernel);
    return;
  }
  add_bias_kernel<<<blocks_for(rows * cols), kThreads, 0, current_stream()>>>(y, bias, rows, cols);
  RT_CHECK_LAUNCH(add_bias_kernel);
}

// out[i] = bf16(in[i]), to nearest even; four at a time where both are 16-byte and 8-byte aligned.
__global__ void round_to_bf16_kernel(const float* in, __nv_bfloat16* out, int64_t count) {
  const int64_t stride = int64_t{gridDim.x} * blockDim.x;
  int64_t first = blockIdx.x * int64_t{blockDim.x} + threadIdx.x;
  if (reinterpret_cast<uintptr_t>(in) % 16 == 0 && reinterpret_cast<uintptr_t>(out) % 8 == 0) {
    for (int64_t i = first; i < count / 4; i += stride) {
      const float4 v = reinterpret_cast<const float4*>(in)[i];
      __nv_bfloat162 pair[2] = {__floats2bfloat162_rn(v.x, v.y), __floats2bfloat162_rn(v.z, v.w)};
      reinterpret_cast<uint2*>(out)[i] = *reinterpret_cast<const uint2*>(pair);
    }
    first += count / 4 * 4;
  }
  for (int64_t i = first; i < count; i += stride) out[i] = __float2bfloat16_rn(in[i]);
}

const __nv_bfloat16* rounded_to_bf16(const float* values, int64_t count, int buffer) {
  auto* out = static_cast<__nv_bfloat16*>(operand_buffer(buffer, static_cast<size_t>(count) * sizeof(__nv_bfloat16)));
  round_to_bf16_kernel<<<blocks_for(count / 4 + 1), kThreads, 0, current_stream()>>>(values, out, count);
  RT_CHECK_LAUNCH(round_to_bf16_kernel);
  return out;
}

}  // namespace

void gemm(Transpose trans_a, Transpose trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
          const float* b, float beta, float* c) {
  bool ta = trans_a == Transpose::kYes, tb = trans_b == Transpose::kYes;
  int lda = static_cast<int>(ta ? m : k), ldb = static_cast<int>(tb ? k : n);
  const cublasOperation_t op_b = tb ? CUBLAS_OP_T : CUBLAS_OP_N, op_a = ta ? CUBLAS_OP_T : CUBLAS_OP_N;
  // (Below compute capability 8.0 cuBLAS has no bf16 operands; its fast-bf16 mode stands in.)
  static const bool bf16_operands = compute_capability_major() >= 8;
  if (bf16_products() && bf16_operands) {
    const __nv_bfloat16* a16 = rounded_to_bf16(a, m * k, 0);
    const __nv_bfloat16* b16 = rounded_to_bf16(b, k * n, 1);
    RT_CHECK_CUBLAS(cublasGemmEx(blas_handle(), op_b, op_a, static_cast<int>(n), static_cast<int>(m),
                                 static_cast<int>(k), &alpha, b16, CUDA_R_16BF, ldb, a16, CUDA_R_16BF, lda, &beta, c,
                                 CUDA_R_32F, static_cast<int>(n), CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
    return;
  }
  RT_CHECK_CUBLAS(cublasGemmEx(blas_handle(), op_b, op_a, static_cast<int>(n), static_cast<int>(m),
                               static_cast<int>(k), &alpha, b, CUDA_R_32F, ldb, a, CUDA_R_32F, lda, &beta, c,
                               CUDA_R_32F, static_cast<int>(n), compute_type(), CUBLAS_GEMM_DEFAULT));
}

void linear_forward(const float* x, const float* weight, const float* bias, int64_t rows, int64_t in, int64_t out,
                    float* y) {
  gemm(Transpose::kNo, Transpose::kYes, rows, out, in, 1.0f, x, weight, 0.0f, y);
  add_bias(y, bias, rows, out);
}

void linear_backward_input(const float* dy, const float* weight, int64_t rows, int64_t in, int64_t out, float* dx) {
  gemm(Transpose::kNo, Transpose::kNo, rows, in, out, 1.0f, dy, weight, 0.0f, dx);
}

void linear_backward_params(const float* dy, const float* x, int64_t rows, int64_t in, int64_t out, float beta,
                            float* dweight, float* dbias) {
  gemm(Transpose::kYes, Transpose::kNo, out, in, rows, 1.0f, dy, x, beta, dweight);
  // dbias = beta * dbias + dy^T 1: row-major dy [rows, out] is column-major [out, rows], so this is
  // one matrix-vector product (cuBLAS reads every element once, across the whole GPU; beta == 0
  // ignores dbias's old contents).
  const float one = 1.0f;
  RT_CHECK_CUBLAS(cublasSgemv(blas_handle(), CUBLAS_OP_N, static_cast<int>(out), static_cast<int>(rows), &one, dy,
                              static_cast<int>(out), ones(rows), 1, &beta, dbias, 1));
}

}  // namespace rt::kernels::cuda
