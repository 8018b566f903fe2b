// Sampling text from a trained language model (model.kind = "gpt"), one token at a time: each
// step runs the model over the last `context` tokens (positions after them padded; the causal
// model's logits at a position do not see later ones) and draws the next token from the logits
// at the last real position.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/base/random.h"
#include "core/model.h"

namespace rt {

struct SamplingOptions {
  float temperature = 1.0f;  // 0: always the most likely token
  int64_t top_k = 0;         // > 0: draw among the k most likely tokens only
  uint64_t seed = 1;
};

// A token drawn from softmax(logits / temperature) over the top_k largest logits (the first
// maximum when temperature is 0).
int64_t sample_token(const float* logits, int64_t vocab, const SamplingOptions& options, Rng& rng,
                     std::vector<float>& scratch);

// `prompt` followed by `tokens` sampled tokens, from a model built by build_gpt with this
// context (its input: windows of context + 1). The prompt must not be empty.
std::vector<int64_t> generate_tokens(Model& model, int64_t context, const std::vector<int64_t>& prompt, int64_t tokens,
                                     const SamplingOptions& options);

}  // namespace rt
