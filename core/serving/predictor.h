// A trained model ready to score samples (or, a gpt, to continue text): rebuilt from a checkpoint's own description (no config
// or shards needed), its parameters loaded, in evaluation mode. Samples come as the shards store
// them (uint8 pixels 0-255, or float32 values), one row of the input's size each; the predictor
// scales them as training did and returns each row's class and probabilities (softmax of the
// logits). One forward pass at a time: callers share it through a lock (the server's batcher
// gathers rows into one pass).
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "core/base/span.h"
#include "core/checkpoint.h"
#include "core/generation.h"
#include "core/model_description.h"

namespace rt {

struct Scores {
  int64_t step = 0;  // of the checkpoint that scored them
  int64_t rows = 0;
  int64_t classes = 0;
  std::vector<int64_t> predicted;     // per row: the most probable class
  std::vector<float> probabilities;   // rows x classes
  std::vector<float> logits;          // rows x classes
  // A regression model's (model.task = "regression"): the predicted value of each row; predicted
  // and probabilities are then empty.
  bool regression = false;
  std::vector<float> values;
};

class Predictor {
 public:
  // A checkpoint directory (step-NNNNNNNNN) or a checkpoint.dir (its newest valid checkpoint).
  // Throws rt::Error naming the path when there is none, or it does not describe its model.
  static std::unique_ptr<Predictor> load(const std::string& path, int64_t max_batch = 1024);
  Predictor(Checkpoint checkpoint, int64_t max_batch);

  const ModelDescription& description() const { return description_; }
  const std::string& checkpoint_path() const { return checkpoint_path_; }
  int64_t step() const { return step_; }
  int64_t max_batch() const { return max_batch_; }
  int64_t input_size() const { return description_.input.size(); }
  int64_t classes() const { return description_.classes; }

  // Empty when `values` (rows x input_size, as stored) are valid input; else what is wrong, naming
  // the row and column (not finite; for uint8 input, not an integer in 0-255).
  std::string check_input(Span<const float> values) const;
  // Whether the model is a gpt: it generates text (generate()) instead of scoring rows.
  bool generates_text() const { return description_.kind == "gpt"; }
  // A gpt's continuation of `prompt` (bytes are its tokens): `tokens` sampled tokens, as
  // `ringtrain generate` samples them. Thread-safe (one generation or pass at a time).
  std::string generate(const std::string& prompt, int64_t tokens, const SamplingOptions& options);
  // Scores `rows` samples (input_size values each, as stored, checked), in passes of at most
  // max_batch rows. Thread-safe. Not for a gpt.
  Scores score(Span<const float> values, int64_t rows);
  // As score(), for rows already scaled as the model reads them (a Loader's batches).
  Scores score_scaled(Span<const float> features, int64_t rows);

 private:
  ModelDescription description_;
  std::string checkpoint_path_;
  int64_t step_ = 0;
  int64_t max_batch_;
  std::unique_ptr<Model> model_;
  std::mutex mutex_;
  std::vector<float> scaled_;  // one pass's input, scaled; kept between passes
  Scores score_locked(const float* features, int64_t rows, bool scale);
};

// A checkpoint directory, or the newest valid checkpoint of a checkpoint.dir; throws naming the path.
Checkpoint load_checkpoint_at(const std::string& path);

}  // namespace rt
