// Matrix products through Eigen, or through OpenBLAS (runtime.cpu_blas): on an AVX-512 Xeon
// Eigen's GEMM, built with -march=native, ran ahead of OpenBLAS; on an AVX2 EPYC behind it
// (docs/performance.md).
//
// The threads split a product into blocks of C's rows or columns of a fixed width (for_each_block),
// and each block is an Eigen or OpenBLAS product on one thread (their own threading stays off:
// set_threads, set_blas).
// Eigen picks its depth blocking, and so the order in which each element's sum is added up, by
// the number of threads it runs on; with blocks that do not depend on it, every element is
// computed by the same code in the same order, and results do not change with runtime.threads.
#include <algorithm>

#include <omp.h>

#include <atomic>

#include <Eigen/Core>

#include "kernels/cpu/cpu_kernels.h"
#include "kernels/cpu/openblas.h"

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

std::atomic<bool> products_by_openblas{false};

// A row-major operand as OpenBLAS takes it: its first element, row stride and transposition.
struct Operand {
  const float* data;
  int64_t stride;
  bool transposed;
};

// C[m x n] (row stride ldc) = alpha op(A) op(B) + beta C, on this thread.
void openblas_product(const Operand& a, const Operand& b, int64_t m, int64_t n, int64_t k, float alpha, float beta,
                      float* c, int64_t ldc) {
  openblas::sgemm(a.transposed ? CblasTrans : CblasNoTrans, b.transposed ? CblasTrans : CblasNoTrans,
                  static_cast<blasint>(m), static_cast<blasint>(n), static_cast<blasint>(k), alpha, a.data,
                  static_cast<blasint>(a.stride), b.data, static_cast<blasint>(b.stride), beta, c,
                  static_cast<blasint>(ldc));
}

// Splits the product C[m x n] (k deep) into blocks of kBlock of C's rows where C is taller than
// wide, else of its columns, and runs block(by_rows, first, size) for each, on the threads where
// the product is worth it. Both libraries' products take these blocks, which do not depend on the
// thread count.
template <typename Block>
void for_each_block(int64_t m, int64_t n, int64_t k, const Block& block) {
  const bool by_rows = m > n;
  const int64_t extent = by_rows ? m : n;
  const int64_t blocks = (extent + kBlock - 1) / kBlock;
  const auto run = [&](int64_t b) {
    const int64_t first = b * kBlock;
    block(by_rows, first, std::min(kBlock, extent - first));
  };
  // A region is entered only to be shared: one of a single thread (too small a product, or called
  // from a region already) still costs libgomp a reshaping of its team between the callers'
  // two-thread regions (a tiny GPT's step 25x slower).
  if (blocks > 1 && m * n * k >= kParallelMultiplyAdds && !omp_in_parallel()) {
#pragma omp parallel for schedule(static)
    for (int64_t b = 0; b < blocks; ++b) run(b);
  } else {
    for (int64_t b = 0; b < blocks; ++b) run(b);
  }
}

// Each block an OpenBLAS product: a block of C's rows takes op(A)'s rows with them, one of its
// columns op(B)'s columns.
void openblas_gemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha, const float* a, const float* b,
                   float beta, float* c) {
  // (BLAS wants a row stride of at least 1, also for an empty operand.)
  const int64_t lda = std::max<int64_t>(1, ta ? m : k), ldb = std::max<int64_t>(1, tb ? k : n);
  for_each_block(m, n, k, [&](bool by_rows, int64_t first, int64_t size) {
    if (by_rows) {  // rows first.. of op(A): of A's rows, or of its columns when transposed
      const Operand a_part{ta ? a + first : a + first * lda, lda, ta};
      openblas_product(a_part, Operand{b, ldb, tb}, size, n, k, alpha, beta, c + first * n, n);
    } else {  // columns first.. of op(B): of B's columns, or of its rows when transposed
      const Operand b_part{tb ? b + first * ldb : b + first, ldb, tb};
      openblas_product(Operand{a, lda, ta}, b_part, m, size, k, alpha, beta, c + first, n);
    }
  });
}

template <typename A, typename B>
void multiply_into(MatrixMap& c, float alpha, const A& op_a, const B& op_b, float beta) {
  const auto multiply_part = [alpha, beta](auto&& c_part, const auto& a_part, const auto& b_part) {
    if (beta == 0.0f) {
      c_part.noalias() = alpha * (a_part * b_part);
    } else {
      if (beta != 1.0f) c_part *= beta;
      c_part.noalias() += alpha * (a_part * b_part);
    }
  };
  for_each_block(c.rows(), c.cols(), op_a.cols(), [&](bool by_rows, int64_t first, int64_t size) {
    if (by_rows) {
      multiply_part(c.middleRows(first, size), op_a.middleRows(first, size), op_b);
    } else {
      multiply_part(c.middleCols(first, size), op_a, op_b.middleCols(first, size));
    }
  });
}
}  // namespace

static std::vector<GemmShape>* recorded_shapes = nullptr;  // record_gemm_shapes

void record_gemm_shapes(std::vector<GemmShape>* sink) { recorded_shapes = sink; }

void set_blas(bool use_openblas) {
  if (use_openblas) openblas::load();
  products_by_openblas.store(use_openblas);
}

bool uses_openblas() { return products_by_openblas.load(); }

void gemm(Transpose trans_a, Transpose trans_b, int64_t m, int64_t n, int64_t k, float alpha,
          const float* a, const float* b, float beta, float* c) {
  bool ta = trans_a == Transpose::kYes, tb = trans_b == Transpose::kYes;
  if (recorded_shapes != nullptr) {
    const GemmShape shape{ta, tb, m, n, k};
    if (std::find(recorded_shapes->begin(), recorded_shapes->end(), shape) == recorded_shapes->end()) {
      recorded_shapes->push_back(shape);
    }
  }
  if (products_by_openblas.load(std::memory_order_relaxed)) {
    if (m > 0 && n > 0) openblas_gemm(ta, tb, m, n, k, alpha, a, b, beta, c);
    return;
  }
  MatrixMap c_map(c, m, n);
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
