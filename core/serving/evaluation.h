// A checkpoint measured on labelled shards: the mean cross-entropy, the accuracy, each class's
// precision and recall, and the confusion matrix; a regression's mean squared and absolute error
// and R^2. Under several ranks each scores its share of
// the samples (the loader's evaluation split) and the counts are summed, so every rank holds the
// whole result.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "comm/communicator.h"
#include "core/serving/predictor.h"

namespace rt {

struct Evaluation {
  int64_t samples = 0;
  double loss_sum = 0;  // cross-entropy, in nats, summed over the samples
  int64_t classes = 0;
  std::vector<int64_t> confusion;  // classes x classes: [true class][predicted class]
  // A regression's sums: squared and absolute errors, targets, and their squares.
  bool regression = false;
  double squared_error_sum = 0, absolute_error_sum = 0, target_sum = 0, target_square_sum = 0;
  double mean_squared_error() const { return samples > 0 ? squared_error_sum / static_cast<double>(samples) : 0.0; }
  double mean_absolute_error() const { return samples > 0 ? absolute_error_sum / static_cast<double>(samples) : 0.0; }
  double r_squared() const;  // NaN where the targets do not vary

  double loss() const { return samples > 0 ? loss_sum / static_cast<double>(samples) : 0.0; }
  int64_t correct() const;
  double accuracy() const;
  int64_t true_count(int64_t c) const;       // samples of class c
  int64_t predicted_count(int64_t c) const;  // samples predicted as c
  double precision(int64_t c) const;         // of those predicted c, the share that are (0 when none)
  double recall(int64_t c) const;            // of those of class c, the share predicted so (0 when none)
};

// Scores every sample of the shards in `data_dir` (`batch` rows a pass on each rank). Throws
// naming the directory when its samples do not fit the model's input or classes.
Evaluation evaluate(Predictor& predictor, const std::string& data_dir, Communicator& comm, int64_t batch = 1000);

// For the terminal: loss, accuracy, a row per class, the confusion matrix (a regression: its errors
// and R^2).
std::string evaluation_table(const Evaluation& evaluation, const ModelDescription& model);
// {"samples", "loss", "accuracy", "classes": [{"class", "name", "precision", "recall", "samples"}],
//  "confusion": [[...], ...]}; a regression's {"samples", "mse", "rmse", "mae", "r2"}.
std::string evaluation_json(const Evaluation& evaluation, const ModelDescription& model);

}  // namespace rt
