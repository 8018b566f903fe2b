// Matrix products through cuBLAS (column-major) on our row-major buffers: a row-major C = A B is
// the column-major C^T = B^T A^T, so every call swaps the operands and the sizes. The bias is our
// own kernel (matmul_kernels.cuh); its gradient, a column sum, is a matrix-vector product with ones.
//
// bf16 products (set_matmul_precision(kBf16)) round both operands to bf16 into buffers of their
// own and multiply those, with fp32 sums and an fp32 result. cuBLAS's own fast-bf16 mode on fp32
// operands does the same arithmetic at its TF32 rate (on an H200, 16384 x 768 x 3072: 324 TFLOP/s
// either way, against 698 with bf16 operands); the rounding passes cost a read and a half-size
// write of each operand, little beside the product. An operand a layer already stores in bf16
// (kernels/operand.h) is multiplied as it is.
#include <cuda_bf16.h>

#include "core/base/check_cuda.h"
#include "kernels/cuda/context.h"
#include "kernels/cuda/cuda_kernels.h"
#include "kernels/cuda/matmul_kernels.cuh"

namespace rt::kernels::cuda {

namespace {

// Which source each operand buffer holds rounded, and whether a SameOperands scope lets products
// reuse it (kernels.h).
struct RoundedOperands {
  bool reuse = false;
  const float* source[2] = {nullptr, nullptr};
  int64_t count[2] = {0, 0};
};
thread_local RoundedOperands rounded_operands;

const __nv_bfloat16* rounded_to_bf16(const float* values, int64_t count, int buffer) {
  auto* out = static_cast<__nv_bfloat16*>(operand_buffer(buffer, static_cast<size_t>(count) * sizeof(__nv_bfloat16)));
  RoundedOperands& rounded = rounded_operands;
  if (rounded.reuse && rounded.source[buffer] == values && rounded.count[buffer] == count) return out;
  launch_round_to_bf16(StreamLaunch{}, values, out, count);
  rounded.source[buffer] = values;
  rounded.count[buffer] = count;
  return out;
}

const __nv_bfloat16* bf16_operand(Operand operand, int64_t count, int buffer) {
  if (operand.bf16) return static_cast<const __nv_bfloat16*>(operand.data);
  return rounded_to_bf16(static_cast<const float*>(operand.data), count, buffer);
}

}  // namespace

void begin_same_operands() {
  rounded_operands = RoundedOperands{};
  rounded_operands.reuse = true;
}
void end_same_operands() noexcept { rounded_operands = RoundedOperands{}; }

void gemm(Transpose trans_a, Transpose trans_b, int64_t m, int64_t n, int64_t k, float alpha, Operand a, Operand b,
          float beta, float* c) {
  bool ta = trans_a == Transpose::kYes, tb = trans_b == Transpose::kYes;
  int lda = static_cast<int>(ta ? m : k), ldb = static_cast<int>(tb ? k : n);
  const cublasOperation_t op_b = tb ? CUBLAS_OP_T : CUBLAS_OP_N, op_a = ta ? CUBLAS_OP_T : CUBLAS_OP_N;
  // (Below compute capability 8.0 cuBLAS has no bf16 operands; its fast-bf16 mode stands in.)
  static const bool bf16_operands = compute_capability_major() >= 8;
  if (bf16_products() && bf16_operands) {
    const __nv_bfloat16* a16 = bf16_operand(a, m * k, 0);
    const __nv_bfloat16* b16 = bf16_operand(b, k * n, 1);
    RT_CHECK_CUBLAS(cublasGemmEx(blas_handle(), op_b, op_a, static_cast<int>(n), static_cast<int>(m),
                                 static_cast<int>(k), &alpha, b16, CUDA_R_16BF, ldb, a16, CUDA_R_16BF, lda, &beta, c,
                                 CUDA_R_32F, static_cast<int>(n), CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
    return;
  }
  RT_CHECK(!a.bf16 && !b.bf16,
           "a product of a bf16 operand needs bf16 products (runtime.precision = \"bf16\") on a GPU of compute "
           "capability 8.0 or more");
  RT_CHECK_CUBLAS(cublasGemmEx(blas_handle(), op_b, op_a, static_cast<int>(n), static_cast<int>(m),
                               static_cast<int>(k), &alpha, b.data, CUDA_R_32F, ldb, a.data, CUDA_R_32F, lda, &beta, c,
                               CUDA_R_32F, static_cast<int>(n), compute_type(), CUBLAS_GEMM_DEFAULT));
}

void linear_forward(Operand x, const float* weight, const float* bias, int64_t rows, int64_t in, int64_t out, float* y) {
  gemm(Transpose::kNo, Transpose::kYes, rows, out, in, 1.0f, x, weight, 0.0f, y);
  launch_add_bias(StreamLaunch{}, y, bias, rows, out);
}

void linear_backward_input(const float* dy, const float* weight, int64_t rows, int64_t in, int64_t out, float* dx) {
  gemm(Transpose::kNo, Transpose::kNo, rows, in, out, 1.0f, dy, weight, 0.0f, dx);
}

void linear_backward_params(const float* dy, Operand x, int64_t rows, int64_t in, int64_t out, float beta,
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
