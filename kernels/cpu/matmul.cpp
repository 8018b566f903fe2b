// Matrix products through Eigen: on this project's 2-core machines Eigen's GEMM, built with
// -march=native -fopenmp, ran ahead of OpenBLAS (see docs/performance.md).
//
// The threads split a product into blocks of C's columns of a fixed width, whatever their number,
// and each block is an Eigen product on one thread (Eigen's own threading stays off: set_threads).
// Eigen picks its depth blocking, and so the order in which each element's sum is added up, by
// the number of threads it runs on; with blocks that do not depend on it, every element is
// computed by the same code in the same order, and results do not change with runtime.threads.
#include <algorithm>

#include <omp.h>

#include <Eigen/Core>

#include "kernels/cpu/cpu_kernels.h"

namespace rt::kernels::cpu {

namespace {
using Matrix = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using MatrixMap = Eigen::Map<Matrix>;
using ConstMatrixMap = Eigen::Map<const Matrix>;
using RowVectorMap = Eigen::Map<Eigen::RowVectorXf>;
using ConstRowVectorMap = Eigen::Map<const Eigen::RowVectorXf>;

// Blocks of C along its longer side: each block packs the other operand again, so the fewer and
// the longer they are, the less is packed twice.
constexpr int64_t kBlock = 128;
// Below this many multiply-adds a product runs on one thread (the fork and join cost more).
constexpr int64_t kParallelMultiplyAdds = int64_t{1} << 18;

template <typename A, typename B>
void multiply_into(MatrixMap& c, float alpha, const A& op_a, const B& op_b, float beta) {
  const int64_t m = c.rows(), n = c.cols();
  const bool by_rows = m > n;
  const int64_t extent = by_rows ? m : n;
  const int64_t blocks = (extent + kBlock - 1) / kBlock;
  const auto multiply_part = [alpha, beta](auto&& c_part, const auto& a_part, const auto& b_part) {
    if (beta == 0.0f) {
      c_part.noalias() = alpha * (a_part * b_part);
    } else {
      if (beta != 1.0f) c_part *= beta;
      c_part.noalias() += alpha * (a_part * b_part);
    }
  };
  const auto multiply_block = [&](int64_t block) {
    const int64_t first = block * kBlock, size = std::min(kBlock, extent - first);
    if (by_rows) {
      multiply_part(c.middleRows(first, size), op_a.middleRows(first, size), op_b);
    } else {
      multiply_part(c.middleCols(first, size), op_a, op_b.middleCols(first, size));
    }
  };
  // A region is entered only to be shared: one of a single thread (too small a product, or called
  // from a region already) still costs libgomp a reshaping of its team between the callers'
  // two-thread regions (a tiny GPT's step 25x slower).
  if (blocks > 1 && m * n * op_a.cols() >= kParallelMultiplyAdds && !omp_in_parallel()) {
#pragma omp parallel for schedule(static)
    for (int64_t block = 0; block < blocks; ++block) multiply_block(block);
  } else {
    for (int64_t block = 0; block < blocks; ++block) multiply_block(block);
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
  gemm(Transpose::kNo, Transpose::kYes, rows, out, in, 1.0f, x, weight, 0.0f, y);
  MatrixMap(y, rows, out).rowwise() += ConstRowVectorMap(bias, out);
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
