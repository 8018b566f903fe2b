#include "core/generation.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace rt {

int64_t sample_token(const float* logits, int64_t vocab, const SamplingOptions& options, Rng& rng,
                     std::vector<float>& scratch) {
  if (options.temperature <= 0.0f) return std::max_element(logits, logits + vocab) - logits;
  // Logits below the k-th largest are left out.
  float floor = -INFINITY;
  if (options.top_k > 0 && options.top_k < vocab) {
    scratch.assign(logits, logits + vocab);
    std::nth_element(scratch.begin(), scratch.begin() + (options.top_k - 1), scratch.end(), std::greater<float>());
    floor = scratch[static_cast<size_t>(options.top_k - 1)];
  }
  const float max_logit = *std::max_element(logits, logits + vocab);
  double total = 0.0;
  for (int64_t v = 0; v < vocab; ++v) {
    if (logits[v] >= floor) total += std::exp(static_cast<double>(logits[v] - max_logit) / options.temperature);
  }
  double draw = static_cast<double>(rng.uniform()) * total;
  int64_t last = 0;
  for (int64_t v = 0; v < vocab; ++v) {
    if (logits[v] < floor) continue;
    last = v;
    draw -= std::exp(static_cast<double>(logits[v] - max_logit) / options.temperature);
    if (draw < 0) return v;
  }
  return last;  // rounding left a sliver: the last candidate
}

std::vector<int64_t> generate_tokens(Model& model, int64_t context, const std::vector<int64_t>& prompt, int64_t tokens,
                                     const SamplingOptions& options) {
  RT_CHECK(!prompt.empty(), "generation needs a prompt of at least one token");
  RT_CHECK(model.device() == Device::kCpu, "generation runs on the CPU");
  const int64_t vocab = model.output_features();
  for (int64_t token : prompt) {
    RT_CHECK(token >= 0 && token < vocab, "prompt token {} is outside the vocabulary [0, {})", token, vocab);
  }
  model.set_mode(false, 0);
  Rng rng(options.seed);
  std::vector<int64_t> sequence = prompt;
  Tensor window = Tensor::zeros({1, context + 1});
  std::vector<float> scratch;
  for (int64_t n = 0; n < tokens; ++n) {
    const int64_t length = std::min<int64_t>(static_cast<int64_t>(sequence.size()), context);
    float* input = window.data<float>();
    std::fill(input, input + context + 1, 0.0f);
    for (int64_t t = 0; t < length; ++t) {
      input[t] = static_cast<float>(sequence[sequence.size() - static_cast<size_t>(length) + static_cast<size_t>(t)]);
    }
    const Tensor& logits = model.forward(window);  // [context, vocab]
    sequence.push_back(sample_token(logits.data<float>() + (length - 1) * vocab, vocab, options, rng, scratch));
  }
  return sequence;
}

}  // namespace rt
