// Token and position embeddings, and next-token targets, on the CPU. The scatter of the token
// gradient goes over the tokens in order, so its sums do not depend on the thread count.
#include <algorithm>
#include <cmath>

#include "core/base/check.h"
#include "kernels/cpu/cpu_kernels.h"
#include "kernels/cpu/parallel.h"

namespace rt::kernels::cpu {

namespace {
int64_t token_at(const float* tokens, int64_t rows, int64_t context, int64_t vocab, int64_t r, int64_t t) {
  const float value = tokens[r * (context + 1) + t];
  const auto token = static_cast<int64_t>(value);
  RT_CHECK(value >= 0 && static_cast<float>(token) == value && token < vocab,
           "token {} at position {} of window {} of {} is not a token id in [0, {})", value, t, r, rows, vocab);
  return token;
}
}  // namespace

void embedding_forward(const float* tokens, int64_t rows, int64_t context, int64_t vocab, int64_t width,
                       const float* wte, const float* wpe, float* y) {
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t t = 0; t < context; ++t) token_at(tokens, rows, context, vocab, r, t);  // throws before any write
  }
#pragma omp parallel for schedule(static) if (rows * context * width >= kParallelElements)
  for (int64_t i = 0; i < rows * context; ++i) {
    const int64_t r = i / context, t = i % context;
    const float* token_row = wte + static_cast<int64_t>(tokens[r * (context + 1) + t]) * width;
    const float* position_row = wpe + t * width;
    float* out = y + i * width;
    for (int64_t c = 0; c < width; ++c) out[c] = token_row[c] + position_row[c];
  }
}

void embedding_backward(const float* tokens, const float* dy, int64_t rows, int64_t context, int64_t vocab,
                        int64_t width, float beta_wte, float* dwte, float beta_wpe, float* dwpe) {
  if (beta_wte == 0.0f) std::fill(dwte, dwte + vocab * width, 0.0f);
  else if (beta_wte != 1.0f) for (int64_t i = 0; i < vocab * width; ++i) dwte[i] *= beta_wte;
  // Positions: each (t, c) sums its windows in order; split across threads by position.
#pragma omp parallel for schedule(static) if (rows * context * width >= kParallelElements)
  for (int64_t t = 0; t < context; ++t) {
    float* out = dwpe + t * width;
    for (int64_t c = 0; c < width; ++c) out[c] = beta_wpe == 0.0f ? 0.0f : beta_wpe * out[c];
    for (int64_t r = 0; r < rows; ++r) {
      const float* in = dy + (r * context + t) * width;
      for (int64_t c = 0; c < width; ++c) out[c] += in[c];
    }
  }
  // Tokens: a scatter; one thread, in token order (a vocabulary row may be hit many times).
  for (int64_t i = 0; i < rows * context; ++i) {
    const int64_t token = token_at(tokens, rows, context, vocab, i / context, i % context);
    float* out = dwte + token * width;
    const float* in = dy + i * width;
    for (int64_t c = 0; c < width; ++c) out[c] += in[c];
  }
}

void next_token_targets(const float* tokens, int64_t rows, int64_t context, int32_t* targets) {
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t t = 0; t < context; ++t) {
      targets[r * context + t] = static_cast<int32_t>(tokens[r * (context + 1) + t + 1]);
    }
  }
}

}  // namespace rt::kernels::cpu
