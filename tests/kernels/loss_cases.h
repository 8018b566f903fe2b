// The loss cases that the GPU test and the emulated one share. Softmax cross-entropy: random
// logits in [-8, 8), a random label per row, and the CPU kernels' gradient (times `scale`), loss
// and count of rows whose largest logit is the label's. Squared error: random outputs and targets
// in [-3, 3), and the CPU kernel's gradient (times `scale`) and sums.
#pragma once

#include <cstdint>
#include <vector>

#include "core/base/random.h"
#include "kernels/cpu/cpu_kernels.h"

namespace rt::kernels {

struct CrossEntropyCase {
  std::vector<float> logits;
  std::vector<int32_t> labels;
  std::vector<float> grad;
  double loss = 0;
  int64_t correct = 0;
};

inline CrossEntropyCase cross_entropy_case(Rng& rng, int64_t rows, int64_t classes, float scale) {
  CrossEntropyCase c;
  c.logits.resize(static_cast<size_t>(rows * classes));
  for (float& v : c.logits) v = rng.uniform(-8.0f, 8.0f);
  c.labels.resize(static_cast<size_t>(rows));
  for (int32_t& label : c.labels) label = static_cast<int32_t>(rng.below(static_cast<uint64_t>(classes)));
  c.grad.resize(c.logits.size());
  cpu::softmax_cross_entropy(c.logits.data(), c.labels.data(), rows, classes, scale, c.grad.data(), &c.loss);
  cpu::count_correct(c.logits.data(), c.labels.data(), rows, classes, &c.correct);
  return c;
}

struct SquaredErrorCase {
  std::vector<float> outputs;
  std::vector<float> targets;
  std::vector<float> grad;
  double sums[3] = {0, 0, 0};
};

inline SquaredErrorCase squared_error_case(Rng& rng, int64_t rows, float scale) {
  SquaredErrorCase c;
  for (int64_t r = 0; r < rows; ++r) {
    c.outputs.push_back(rng.uniform(-3.0f, 3.0f));
    c.targets.push_back(rng.uniform(-3.0f, 3.0f));
  }
  c.grad.resize(static_cast<size_t>(rows));
  cpu::squared_error(c.outputs.data(), c.targets.data(), rows, scale, c.grad.data(), c.sums);
  return c;
}

}  // namespace rt::kernels
