#include "core/serving/predictor.h"

#include <algorithm>
#include <cmath>
#include <filesystem>

#include "core/base/check.h"
#include "core/tensor.h"

namespace rt {

Checkpoint load_checkpoint_at(const std::string& path) {
  RT_CHECK(std::filesystem::is_directory(path), "{} is not a checkpoint directory or a checkpoint.dir", path);
  if (std::filesystem::exists(path + "/manifest.json")) return CheckpointStore::load(path);
  std::optional<Checkpoint> newest = CheckpointStore(path, 1).load_newest();
  RT_CHECK(newest.has_value(), "{} holds no checkpoint that verifies", path);
  return std::move(*newest);
}

std::unique_ptr<Predictor> Predictor::load(const std::string& path, int64_t max_batch) {
  return std::make_unique<Predictor>(load_checkpoint_at(path), max_batch);
}

Predictor::Predictor(Checkpoint checkpoint, int64_t max_batch)
    : description_(parse_model_description(checkpoint.state.model, checkpoint.path)),
      checkpoint_path_(checkpoint.path),
      step_(checkpoint.state.step),
      max_batch_(std::max<int64_t>(max_batch, 1)) {
  model_ = build_described_model(description_, Device::kCpu);
  RT_CHECK(static_cast<int64_t>(checkpoint.parameters.size()) == static_cast<int64_t>(model_->parameters().size()),
           "{} holds {} parameters, but the model it describes needs {}", checkpoint_path_,
           checkpoint.parameters.size(), model_->parameters().size());
  std::copy(checkpoint.parameters.begin(), checkpoint.parameters.end(), model_->parameters().begin());
  model_->set_mode(false, 0);
}

std::string Predictor::check_input(Span<const float> values) const {
  const int64_t size = input_size();
  const bool bytes = description_.input.dtype == DType::kUInt8;
  for (size_t i = 0; i < values.size(); ++i) {
    const float v = values[i];
    const bool valid = bytes ? (v >= 0.0f && v <= 255.0f && v == std::floor(v)) : std::isfinite(v);
    if (!valid) {
      return fmt::format("row {}, value {}: {} is not {}", static_cast<int64_t>(i) / size,
                         static_cast<int64_t>(i) % size, std::isnan(v) ? std::string("NaN") : fmt::format("{}", v),
                         bytes ? "an integer in 0-255 (the model reads uint8 pixels)" : "a finite number");
    }
  }
  return "";
}

std::string Predictor::generate(const std::string& prompt, int64_t tokens, const SamplingOptions& options) {
  RT_CHECK(generates_text(), "{} holds a {}, not a gpt: it scores rows", checkpoint_path_, description_.kind);
  RT_CHECK(!prompt.empty(), "the prompt is empty");
  std::vector<int64_t> ids(prompt.begin(), prompt.end());
  for (int64_t& id : ids) id = static_cast<unsigned char>(id);
  std::lock_guard<std::mutex> lock(mutex_);
  const std::vector<int64_t> text = generate_tokens(*model_, description_.gpt.context, ids, tokens, options);
  std::string out;
  for (size_t i = ids.size(); i < text.size(); ++i) out += static_cast<char>(text[i]);
  return out;
}

Scores Predictor::score(Span<const float> values, int64_t rows) {
  RT_CHECK(static_cast<int64_t>(values.size()) == rows * input_size(), "{} values for {} rows of {}", values.size(),
           rows, input_size());
  std::lock_guard<std::mutex> lock(mutex_);
  return score_locked(values.data(), rows, true);
}

Scores Predictor::score_scaled(Span<const float> features, int64_t rows) {
  RT_CHECK(static_cast<int64_t>(features.size()) == rows * input_size(), "{} values for {} rows of {}",
           features.size(), rows, input_size());
  std::lock_guard<std::mutex> lock(mutex_);
  return score_locked(features.data(), rows, false);
}

Scores Predictor::score_locked(const float* values, int64_t rows, bool scale_them) {
  RT_CHECK(!generates_text(), "{} holds a gpt: it continues text (`ringtrain generate`, or serve's "
           "/v2/models/NAME/generate), it does not score rows", checkpoint_path_);
  const int64_t size = input_size(), classes = this->classes();
  Scores scores;
  scores.step = step_;
  scores.rows = rows;
  scores.classes = classes;
  scores.regression = description_.regression;
  if (scores.regression) {
    scores.values.resize(static_cast<size_t>(rows));
  } else {
    scores.predicted.resize(static_cast<size_t>(rows));
    scores.probabilities.resize(static_cast<size_t>(rows * classes));
  }
  scores.logits.resize(static_cast<size_t>(rows * classes));
  const float scale = static_cast<float>(description_.input.scale);
  for (int64_t first = 0; first < rows; first += max_batch_) {
    const int64_t n = std::min(max_batch_, rows - first);
    const float* in = values + first * size;
    float* input = const_cast<float*>(in);  // read only: the first layer takes a view
    if (scale_them) {
      scaled_.resize(static_cast<size_t>(n * size));
      for (int64_t i = 0; i < n * size; ++i) scaled_[static_cast<size_t>(i)] = in[i] * scale;
      input = scaled_.data();
    }
    const Tensor& logits = model_->forward(Tensor::view(input, Shape{n, size}));
    const float* out = logits.data<float>();
    if (scores.regression) {
      std::copy(out, out + n, scores.values.begin() + first);
      std::copy(out, out + n, scores.logits.begin() + first);
      continue;
    }
    for (int64_t r = 0; r < n; ++r) {
      const float* row = out + r * classes;
      float* logit = scores.logits.data() + (first + r) * classes;
      float* probability = scores.probabilities.data() + (first + r) * classes;
      const int64_t best = std::max_element(row, row + classes) - row;
      double total = 0;
      for (int64_t c = 0; c < classes; ++c) {
        logit[c] = row[c];
        total += std::exp(static_cast<double>(row[c] - row[best]));
      }
      for (int64_t c = 0; c < classes; ++c) {
        probability[c] = static_cast<float>(std::exp(static_cast<double>(row[c] - row[best])) / total);
      }
      scores.predicted[static_cast<size_t>(first + r)] = best;
    }
  }
  return scores;
}

}  // namespace rt
