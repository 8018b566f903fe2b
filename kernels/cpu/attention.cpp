// Causal multi-head self-attention on the CPU, the plain form: per window and head the T x T
// scores as a matrix product, masked, softmax by rows; backward recomputes the probabilities from
// the saved log-sum-exp. Windows x heads are split across the rank's threads, each with its own
// scratch matrices (grown once, then reused).
#include <cmath>
#include <limits>

#include <Eigen/Core>

#include "kernels/cpu/cpu_kernels.h"

namespace rt::kernels::cpu {

namespace {
using Matrix = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using Strided = Eigen::OuterStride<>;
using ConstView = Eigen::Map<const Matrix, 0, Strided>;
using View = Eigen::Map<Matrix, 0, Strided>;

// Window b's query (which 0), key (1) or value (2) rows of head h: [T, d] with a row stride of 3C.
ConstView head_view(const float* qkv, int64_t b, int64_t h, int64_t which, const AttentionShape& s) {
  const int64_t T = s.context, C = s.width, d = s.head_dim();
  return ConstView(qkv + b * T * 3 * C + which * C + h * d, T, d, Strided(3 * C));
}

// The probabilities of window r, head h from the scores and each query's log-sum-exp.
void probabilities(const ConstView& q, const ConstView& k, const float* lse, float scale, Matrix& p) {
  const int64_t T = q.rows();
  p.noalias() = (q * k.transpose()) * scale;
  for (int64_t i = 0; i < T; ++i) {
    for (int64_t j = 0; j < T; ++j) p(i, j) = j <= i ? std::exp(p(i, j) - lse[i]) : 0.0f;
  }
}
}  // namespace

void attention_forward(const AttentionShape& s, const float* qkv, float* y, float* lse) {
  const int64_t T = s.context, C = s.width, H = s.heads, d = s.head_dim();
  const float scale = 1.0f / std::sqrt(static_cast<float>(d));
#pragma omp parallel
  {
    thread_local Matrix scores;
    scores.resize(T, T);
#pragma omp for schedule(static)
    for (int64_t bh = 0; bh < s.rows * H; ++bh) {
      const int64_t b = bh / H, h = bh % H;
      const ConstView q = head_view(qkv, b, h, 0, s), k = head_view(qkv, b, h, 1, s), v = head_view(qkv, b, h, 2, s);
      float* row_lse = lse + bh * T;
      scores.noalias() = (q * k.transpose()) * scale;
      for (int64_t i = 0; i < T; ++i) {
        float max_score = -std::numeric_limits<float>::infinity();
        for (int64_t j = 0; j <= i; ++j) max_score = std::max(max_score, scores(i, j));
        double sum = 0.0;
        for (int64_t j = 0; j <= i; ++j) sum += std::exp(static_cast<double>(scores(i, j) - max_score));
        row_lse[i] = max_score + static_cast<float>(std::log(sum));
        for (int64_t j = 0; j < T; ++j) scores(i, j) = j <= i ? std::exp(scores(i, j) - row_lse[i]) : 0.0f;
      }
      View out(y + b * T * C + h * d, T, d, Strided(C));
      out.noalias() = scores * v;
    }
  }
}

void attention_backward(const AttentionShape& s, const float* qkv, const float* y, const float* lse,
                        const float* dy, float* dqkv) {
  const int64_t T = s.context, C = s.width, H = s.heads, d = s.head_dim();
  const float scale = 1.0f / std::sqrt(static_cast<float>(d));
#pragma omp parallel
  {
    thread_local Matrix p, dp;
    thread_local Eigen::VectorXf delta;
    p.resize(T, T);
    dp.resize(T, T);
    delta.resize(T);
#pragma omp for schedule(static)
    for (int64_t bh = 0; bh < s.rows * H; ++bh) {
      const int64_t b = bh / H, h = bh % H;
      const ConstView q = head_view(qkv, b, h, 0, s), k = head_view(qkv, b, h, 1, s), v = head_view(qkv, b, h, 2, s);
      ConstView out(y + b * T * C + h * d, T, d, Strided(C));
      ConstView d_out(dy + b * T * C + h * d, T, d, Strided(C));
      float* grad_base = dqkv + b * T * 3 * C;
      View dq(grad_base + h * d, T, d, Strided(3 * C));
      View dk(grad_base + C + h * d, T, d, Strided(3 * C));
      View dv(grad_base + 2 * C + h * d, T, d, Strided(3 * C));
      probabilities(q, k, lse + bh * T, scale, p);
      dv.noalias() = p.transpose() * d_out;
      dp.noalias() = d_out * v.transpose();
      delta = (d_out.cwiseProduct(out)).rowwise().sum();
      // dS = P * (dP - delta), row by row; masked entries have P = 0.
      for (int64_t i = 0; i < T; ++i) {
        for (int64_t j = 0; j < T; ++j) dp(i, j) = p(i, j) * (dp(i, j) - delta(i)) * scale;
      }
      dq.noalias() = dp * k;
      dk.noalias() = dp.transpose() * q;
    }
  }
}

}  // namespace rt::kernels::cpu
