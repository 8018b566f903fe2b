// Matrix products through cuBLAS (column-major) on our row-major buffers: a row-major C = A B is
// the column-major C^T = B^T A^T, so every call swaps the operands and the sizes. The bias is our
// own kernel; its gradient, a column sum, is a matrix-vector product with ones.
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

}  // namespace

void gemm(Transpose trans_a, Transpose trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
          const float* b, float beta, float* c) {
  bool ta = trans_a == Transpose::kYes, tb = trans_b == Transpose::kYes;
  int lda = static_cast<int>(ta ? m : k), ldb = static_cast<int>(tb ? k : n);
  RT_CHECK_CUBLAS(cublasGemmEx(blas_handle(), tb ? CUBLAS_OP_T : CUBLAS_OP_N, ta ? CUBLAS_OP_T : CUBLAS_OP_N,
                               static_cast<int>(n), static_cast<int>(m), static_cast<int>(k), &alpha, b, CUDA_R_32F, ldb,
                               a, CUDA_R_32F, lda, &beta, c, CUDA_R_32F, static_cast<int>(n), compute_type(),
                               CUBLAS_GEMM_DEFAULT));
}

void linear_forward(const float* x, const float* weight, const float* bias, int64_t rows, int64_t in, int64_t out,
                    float* y) {
  gemm(Transpose::kNo, Transpose::kYes, rows, out, in, 1.0f, x, weight, 0.0f, y);
  add_bias_kernel<<<blocks_for(rows * out), kThreads, 0, current_stream()>>>(y, bias, rows, out);
  RT_CHECK_LAUNCH(add_bias_kernel);
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
