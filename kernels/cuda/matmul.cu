// Matrix products through cuBLAS (column-major) on our row-major buffers: a row-major C = A B is
// the column-major C^T = B^T A^T, so every call swaps the operands and the sizes. Bias and its
// gradient are our own kernels.
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

// dbias[c] = beta * dbias[c] + sum over rows of dy[r, c]: a thread per column, reading rows in
// order, so that neighbouring threads read neighbouring addresses.
__global__ void bias_grad_kernel(const float* dy, int64_t rows, int64_t cols, float beta, float* dbias) {
  int64_t c = blockIdx.x * int64_t{blockDim.x} + threadIdx.x;
  if (c >= cols) return;
  float sum = 0.0f;
  for (int64_t r = 0; r < rows; ++r) sum += dy[r * cols + c];
  dbias[c] = beta == 0.0f ? sum : beta * dbias[c] + sum;
}

}  // namespace

void gemm(Transpose trans_a, Transpose trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
          const float* b, float beta, float* c) {
  bool ta = trans_a == Transpose::kYes, tb = trans_b == Transpose::kYes;
  int lda = static_cast<int>(ta ? m : k), ldb = static_cast<int>(tb ? k : n);
  RT_CHECK_CUBLAS(cublasSgemm(blas_handle(), tb ? CUBLAS_OP_T : CUBLAS_OP_N, ta ? CUBLAS_OP_T : CUBLAS_OP_N,
                              static_cast<int>(n), static_cast<int>(m), static_cast<int>(k), &alpha, b, ldb, a, lda,
                              &beta, c, static_cast<int>(n)));
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
  bias_grad_kernel<<<blocks_for(out), kThreads, 0, current_stream()>>>(dy, rows, out, beta, dbias);
  RT_CHECK_LAUNCH(bias_grad_kernel);
}

}  // namespace rt::kernels::cuda
