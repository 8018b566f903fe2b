#include <cmath>

#include "core/base/check.h"
#include "kernels/cpu/cpu_kernels.h"
#include "kernels/cpu/parallel.h"

namespace rt::kernels::cpu {

void softmax_cross_entropy(const float* logits, const int32_t* labels, int64_t rows, int64_t classes,
                           float grad_scale, float* dlogits, double* loss_sum) {
  for (int64_t r = 0; r < rows; ++r) {
    RT_CHECK(labels[r] >= 0 && labels[r] < classes, "label {} of row {} is outside [0, {})", labels[r], r, classes);
  }
  double total = 0.0;
  // Rows split across the rank's threads (a language model has many, over a large vocabulary).
#pragma omp parallel for schedule(static) reduction(+ : total) if (rows * classes >= kParallelElements)
  for (int64_t r = 0; r < rows; ++r) {
    const float* row = logits + r * classes;
    const int32_t label = labels[r];
    float max_logit = row[0];
    for (int64_t c = 1; c < classes; ++c) max_logit = std::max(max_logit, row[c]);
    double sum = 0.0;
    for (int64_t c = 0; c < classes; ++c) sum += std::exp(static_cast<double>(row[c] - max_logit));
    double log_sum = std::log(sum);
    total += log_sum - (row[label] - max_logit);
    if (dlogits) {
      float* grad = dlogits + r * classes;
      for (int64_t c = 0; c < classes; ++c) {
        double probability = std::exp(static_cast<double>(row[c] - max_logit) - log_sum);
        grad[c] = static_cast<float>((probability - (c == label ? 1.0 : 0.0)) * grad_scale);
      }
    }
  }
  *loss_sum += total;
}

void squared_error(const float* outputs, const float* targets, int64_t rows, float grad_scale, float* grad,
                   double* sums) {
  double error = 0.0, sum = 0.0, squares = 0.0;
  for (int64_t r = 0; r < rows; ++r) {
    const double difference = static_cast<double>(outputs[r]) - targets[r];
    error += difference * difference;
    sum += targets[r];
    squares += static_cast<double>(targets[r]) * targets[r];
    if (grad) grad[r] = static_cast<float>(2.0 * difference * grad_scale);
  }
  sums[0] += error;
  sums[1] += sum;
  sums[2] += squares;
}

void count_correct(const float* logits, const int32_t* labels, int64_t rows, int64_t classes,
                   int64_t* correct) {
  int64_t hits = 0;
  for (int64_t r = 0; r < rows; ++r) {
    const float* row = logits + r * classes;
    int64_t best = 0;
    for (int64_t c = 1; c < classes; ++c) {
      if (row[c] > row[best]) best = c;
    }
    hits += best == labels[r];
  }
  *correct += hits;
}

}  // namespace rt::kernels::cpu
