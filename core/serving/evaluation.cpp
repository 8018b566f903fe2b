#include "core/serving/evaluation.h"

#include <cmath>
#include <nlohmann/json.hpp>

#include "core/base/check.h"
#include "core/metrics_log.h"
#include "data/loader.h"

namespace rt {

int64_t Evaluation::correct() const {
  int64_t correct = 0;
  for (int64_t c = 0; c < classes; ++c) correct += confusion[static_cast<size_t>(c * classes + c)];
  return correct;
}

double Evaluation::r_squared() const {
  return rt::r_squared(squared_error_sum, target_sum, target_square_sum, static_cast<double>(samples));
}

double Evaluation::accuracy() const {
  return samples > 0 ? static_cast<double>(correct()) / static_cast<double>(samples) : 0.0;
}

int64_t Evaluation::true_count(int64_t c) const {
  int64_t count = 0;
  for (int64_t p = 0; p < classes; ++p) count += confusion[static_cast<size_t>(c * classes + p)];
  return count;
}

int64_t Evaluation::predicted_count(int64_t c) const {
  int64_t count = 0;
  for (int64_t t = 0; t < classes; ++t) count += confusion[static_cast<size_t>(t * classes + c)];
  return count;
}

double Evaluation::precision(int64_t c) const {
  const int64_t predicted = predicted_count(c);
  return predicted > 0 ? static_cast<double>(confusion[static_cast<size_t>(c * classes + c)]) / predicted : 0.0;
}

double Evaluation::recall(int64_t c) const {
  const int64_t actual = true_count(c);
  return actual > 0 ? static_cast<double>(confusion[static_cast<size_t>(c * classes + c)]) / actual : 0.0;
}

Evaluation evaluate(Predictor& predictor, const std::string& data_dir, Communicator& comm, int64_t batch) {
  const ModelDescription& model = predictor.description();
  ShardIndex index(data_dir);
  const ShardInfo& layout = index.layout();
  RT_CHECK(layout.regression == model.regression, "{} holds {}, and the model of {} {}", data_dir,
           layout.regression ? "regression targets" : "class labels", predictor.checkpoint_path(),
           model.regression ? "predicts values (a regression)" : "classifies");
  RT_CHECK(layout.feature_size() == model.input.size() && layout.classes <= model.classes,
           "{} holds samples of shape {} in {} classes; the model of {} reads {} in {} classes", data_dir,
           shape_text(layout.feature_shape), layout.classes, predictor.checkpoint_path(),
           shape_text(model.input.shape), model.classes);
  LoaderOptions options;
  options.mode = LoaderMode::kEvaluation;
  options.batch = batch;
  options.rank = comm.rank();
  options.size = comm.size();
  Loader loader(std::move(index), options);
  Evaluation evaluation;
  evaluation.classes = model.classes;
  evaluation.regression = model.regression;
  evaluation.confusion.assign(static_cast<size_t>(model.classes * model.classes), 0);
  loader.start_epoch(0);
  while (const Batch* batch_read = loader.next()) {
    const Scores scores = predictor.score_scaled(
        Span<const float>(batch_read->features, static_cast<size_t>(batch_read->rows * batch_read->feature_size)),
        batch_read->rows);
    evaluation.samples += batch_read->rows;
    if (model.regression) {
      const float* targets = targets_of(batch_read->labels);
      for (int64_t r = 0; r < batch_read->rows; ++r) {
        const double target = targets[r], error = scores.values[static_cast<size_t>(r)] - target;
        evaluation.squared_error_sum += error * error;
        evaluation.absolute_error_sum += std::abs(error);
        evaluation.target_sum += target;
        evaluation.target_square_sum += target * target;
      }
      continue;
    }
    for (int64_t r = 0; r < batch_read->rows; ++r) {
      const int64_t label = batch_read->labels[r];
      const float* logits = scores.logits.data() + r * model.classes;
      // Cross-entropy from the logits: log-sum-exp minus the label's logit, in double.
      const double top = logits[scores.predicted[static_cast<size_t>(r)]];
      double total = 0;
      for (int64_t c = 0; c < model.classes; ++c) total += std::exp(static_cast<double>(logits[c]) - top);
      evaluation.loss_sum += top + std::log(total) - static_cast<double>(logits[label]);
      ++evaluation.confusion[static_cast<size_t>(label * model.classes + scores.predicted[static_cast<size_t>(r)])];
    }
  }
  comm.all_reduce(Span<int64_t>(evaluation.confusion), ReduceOp::kSum);
  double sums[5] = {evaluation.loss_sum, evaluation.squared_error_sum, evaluation.absolute_error_sum,
                    evaluation.target_sum, evaluation.target_square_sum};
  comm.all_reduce(Span<double>(sums, 5), ReduceOp::kSum);
  evaluation.loss_sum = sums[0];
  evaluation.squared_error_sum = sums[1];
  evaluation.absolute_error_sum = sums[2];
  evaluation.target_sum = sums[3];
  evaluation.target_square_sum = sums[4];
  evaluation.samples = comm.all_reduce_value(evaluation.samples, ReduceOp::kSum);
  return evaluation;
}

std::string evaluation_table(const Evaluation& e, const ModelDescription& model) {
  if (e.regression) {
    return fmt::format("{} samples: mean squared error {:.6g} (root {:.6g}), mean absolute error {:.6g}, R^2 {:.6f}\n",
                       e.samples, e.mean_squared_error(), std::sqrt(e.mean_squared_error()), e.mean_absolute_error(),
                       e.r_squared());
  }
  std::string out = fmt::format("{} samples: loss {:.4f}, accuracy {:.2f}% ({} correct)\n", e.samples, e.loss(),
                                100.0 * e.accuracy(), e.correct());
  size_t width = 5;
  for (int64_t c = 0; c < e.classes; ++c) width = std::max(width, model.class_name(c).size());
  out += fmt::format("{:<{}}  {:>9}  {:>7}  {:>8}\n", "class", width, "precision", "recall", "samples");
  for (int64_t c = 0; c < e.classes; ++c) {
    out += fmt::format("{:<{}}  {:>8.2f}%  {:>6.2f}%  {:>8}\n", model.class_name(c), width, 100.0 * e.precision(c),
                       100.0 * e.recall(c), e.true_count(c));
  }
  out += "confusion matrix (a row per true class, a column per predicted class):\n";
  int64_t widest = 1;
  for (int64_t count : e.confusion) widest = std::max<int64_t>(widest, static_cast<int64_t>(std::to_string(count).size()));
  for (int64_t t = 0; t < e.classes; ++t) {
    out += fmt::format("{:<{}} ", model.class_name(t), width);
    for (int64_t p = 0; p < e.classes; ++p) {
      out += fmt::format(" {:>{}}", e.confusion[static_cast<size_t>(t * e.classes + p)], widest);
    }
    out += "\n";
  }
  return out;
}

std::string evaluation_json(const Evaluation& e, const ModelDescription& model) {
  if (e.regression) {
    const double r2 = e.r_squared();
    return nlohmann::json{{"samples", e.samples},
                          {"mse", e.mean_squared_error()},
                          {"rmse", std::sqrt(e.mean_squared_error())},
                          {"mae", e.mean_absolute_error()},
                          {"r2", std::isfinite(r2) ? nlohmann::json(r2) : nlohmann::json()}}
        .dump(2);
  }
  nlohmann::json classes = nlohmann::json::array();
  for (int64_t c = 0; c < e.classes; ++c) {
    classes.push_back({{"class", c},
                       {"name", model.class_name(c)},
                       {"precision", e.precision(c)},
                       {"recall", e.recall(c)},
                       {"samples", e.true_count(c)}});
  }
  nlohmann::json confusion = nlohmann::json::array();
  for (int64_t t = 0; t < e.classes; ++t) {
    confusion.push_back(std::vector<int64_t>(e.confusion.begin() + t * e.classes, e.confusion.begin() + (t + 1) * e.classes));
  }
  return nlohmann::json{{"samples", e.samples},
                        {"loss", e.loss()},
                        {"accuracy", e.accuracy()},
                        {"classes", classes},
                        {"confusion", confusion}}
      .dump(2);
}

}  // namespace rt
