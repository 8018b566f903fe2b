// Matrix products through Eigen: on this project's 2-core machines Eigen's GEMM, built with
// -march=native -fopenmp, ran ahead of OpenBLAS (see docs/performance.md).
#include <Eigen/Core>

#include "kernels/cpu/cpu_kernels.h"

namespace rt::kernels::cpu {

namespace {
using Matrix = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using MatrixMap = Eigen::Map<Matrix>;
using ConstMatrixMap = Eigen::Map<const Matrix>;
using RowVectorMap = Eigen::Map<Eigen::RowVectorXf>;
using ConstRowVectorMap = Eigen::Map<const Eigen::RowVectorXf>;

template <typename A, typename B>
void multiply_into(MatrixMap& c, float alpha, const A& op_a, const B& op_b, float beta) {
  if (beta == 0.0f) {
    c.noalias() = alpha * (op_a * op_b);
  } else {
    if (beta != 1.0f) c *= beta;
    c.noalias() += alpha * (op_a * op_b);
  }
}
}  // namespace

void gemm(Transpose trans_a, Transpose trans_b, int64_t m, int64_t n, int64_t k, float alpha,
          const float* a, const float* b, float beta, float* c) {
  MatrixMap c_map(c, m, n);
  bool ta = trans_a == Transpose::kYes, tb = trans_b == Transpose::kYes;
  ConstMatrixMap a_map(a, ta ? k : m, ta ? m : k);
  ConstMatrixMap b_map(b, tb ? n : k, tb ? k : n);
  if (!ta && !tb) multiply_into(c_map, alpha, a_map, b_map, beta);
  if (!ta && tb) multiply_into(c_map, alpha, a_map, b_map.transpose(), beta);
  if (ta && !tb) multiply_into(c_map, alpha, a_map.transpose(), b_map, beta);
  if (ta && tb) multiply_into(c_map, alpha, a_map.transpose(), b_map.transpose(), beta);
}

void linear_forward(const float* x, const float* weight, const float* bias, int64_t rows, int64_t in,
                    int64_t out, float* y) {
  MatrixMap y_map(y, rows, out);
  y_map.noalias() = ConstMatrixMap(x, rows, in) * ConstMatrixMap(weight, out, in).transpose();
  y_map.rowwise() += ConstRowVectorMap(bias, out);
}

void linear_backward_input(const float* dy, const float* weight, int64_t rows, int64_t in, int64_t out,
                           float* dx) {
  gemm(Transpose::kNo, Transpose::kNo, rows, in, out, 1.0f, dy, weight, 0.0f, dx);
}

void linear_backward_params(const float* dy, const float* x, int64_t rows, int64_t in, int64_t out,
                            float beta, float* dweight, float* dbias) {
  gemm(Transpose::kYes, Transpose::kNo, out, in, rows, 1.0f, dy, x, beta, dweight);
  RowVectorMap dbias_map(dbias, out);
  if (beta == 0.0f) {
    dbias_map.noalias() = ConstMatrixMap(dy, rows, out).colwise().sum();
  } else {
    dbias_map = beta * dbias_map + ConstMatrixMap(dy, rows, out).colwise().sum();
  }
}

}  // namespace rt::kernels::cpu
