#include "core/trainer.h"

#include <chrono>

#include "core/base/logging.h"
#include "core/models.h"
#include "kernels/kernels.h"

namespace rt {

namespace {
using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}
}  // namespace

Trainer::Trainer(const TrainConfig& config, Communicator& comm)
    : config_(config), comm_(comm), metrics_log_(comm.rank() == 0 ? config.metrics_path : "") {
  RT_CHECK(config_.device == Device::kCpu, "runtime.device = \"{}\": this build of ringtrain has no CUDA support",
           device_name(config_.device));
  RT_CHECK(config_.global_batch % comm_.size() == 0,
           "train.global_batch = {} cannot be split evenly across {} ranks", config_.global_batch, comm_.size());
  local_batch_ = config_.global_batch / comm_.size();

  LoaderOptions train_options;
  train_options.mode = LoaderMode::kTraining;
  train_options.batch = local_batch_;
  train_options.rank = comm_.rank();
  train_options.size = comm_.size();
  train_options.seed = config_.seed;
  train_options.shuffle_window = config_.shuffle_window;
  train_options.prefetch = static_cast<int>(config_.prefetch);
  train_loader_ = std::make_unique<Loader>(ShardIndex(config_.train_dir), train_options);

  LoaderOptions test_options = train_options;
  test_options.mode = LoaderMode::kEvaluation;
  test_options.batch = config_.eval_batch;
  test_loader_ = std::make_unique<Loader>(ShardIndex(config_.test_dir), test_options);

  const ShardInfo& train_layout = train_loader_->index().layout();
  const ShardInfo& test_layout = test_loader_->index().layout();
  RT_CHECK(train_layout.feature_size() == test_layout.feature_size() && train_layout.classes == test_layout.classes,
           "test shards ({}: {} features, {} classes) do not match training shards ({}: {} features, {} classes)",
           test_layout.path, test_layout.feature_size(), test_layout.classes, train_layout.path,
           train_layout.feature_size(), train_layout.classes);

  model_ = build_mlp(train_layout.feature_size(), config_.hidden, train_layout.classes, config_.device);
  model_->initialize(config_.seed);
  comm_.broadcast(model_->parameters(), 0);
  optimizer_ = std::make_unique<Sgd>(model_->parameters(), model_->gradients(),
                                     SgdOptions{config_.lr, config_.momentum, config_.weight_decay}, config_.device);

  log_info("model {}", model_->summary());
  log_info("data: {} training samples in {} shards, {} test samples in {} shards; {} batches of {} x {} ranks per epoch",
           train_loader_->index().total_samples(), train_loader_->index().shards().size(),
           test_loader_->index().total_samples(), test_loader_->index().shards().size(),
           train_loader_->batches_per_epoch(), local_batch_, comm_.size());
}

EpochMetrics Trainer::train_epoch(int64_t epoch) {
  EpochMetrics metrics;
  metrics.epoch = epoch + 1;
  double loss_sum = 0;
  int64_t correct = 0, samples = 0;
  const int64_t classes = model_->output_features();
  Clock::time_point start = Clock::now();

  train_loader_->start_epoch(epoch);
  for (;;) {
    Clock::time_point wait_start = Clock::now();
    const Batch* batch = train_loader_->next();
    metrics.data_wait_seconds += seconds_since(wait_start);
    if (!batch) break;

    Tensor input = Tensor::view(const_cast<float*>(batch->features), {batch->rows, batch->feature_size});
    const Tensor& logits = model_->forward(input);
    const Tensor& grad_logits = grad_logits_.ensure(batch->rows, classes, config_.device);
    double step_loss = 0;
    kernels::softmax_cross_entropy(config_.device, logits.data<float>(), batch->labels, batch->rows, classes,
                                   1.0f / static_cast<float>(batch->rows), grad_logits.data<float>(), &step_loss);
    kernels::count_correct(config_.device, logits.data<float>(), batch->labels, batch->rows, classes, &correct);
    model_->backward(grad_logits);

    Clock::time_point comm_start = Clock::now();
    comm_.all_reduce(model_->gradients(), ReduceOp::kAverage);
    metrics.communication_seconds += seconds_since(comm_start);
    optimizer_->set_lr(scheduled_lr(config_.schedule, config_.lr, epoch * train_loader_->batches_per_epoch() + metrics.steps,
                                    config_.epochs * train_loader_->batches_per_epoch()));
    optimizer_->step();

    loss_sum += step_loss;
    samples += batch->rows;
    ++metrics.steps;
    if (config_.log_every > 0 && metrics.steps % config_.log_every == 0) {
      log_info("epoch {} step {}/{}: loss {:.4f} (this rank's batch)", epoch + 1, metrics.steps,
               train_loader_->batches_per_epoch(), step_loss / static_cast<double>(batch->rows));
    }
  }
  metrics.train_seconds = seconds_since(start);

  double totals[3] = {loss_sum, static_cast<double>(correct), static_cast<double>(samples)};
  comm_.all_reduce(Span<double>(totals, 3), ReduceOp::kSum);
  metrics.train_loss = totals[0] / totals[2];
  metrics.train_accuracy = totals[1] / totals[2];
  metrics.samples_per_second = totals[2] / metrics.train_seconds;
  return metrics;
}

void Trainer::evaluate(EpochMetrics& metrics) {
  double loss_sum = 0;
  int64_t correct = 0, samples = 0;
  const int64_t classes = model_->output_features();
  test_loader_->start_epoch(0);
  while (const Batch* batch = test_loader_->next()) {
    Tensor input = Tensor::view(const_cast<float*>(batch->features), {batch->rows, batch->feature_size});
    const Tensor& logits = model_->forward(input);
    kernels::softmax_cross_entropy(config_.device, logits.data<float>(), batch->labels, batch->rows, classes, 0.0f,
                                   nullptr, &loss_sum);
    kernels::count_correct(config_.device, logits.data<float>(), batch->labels, batch->rows, classes, &correct);
    samples += batch->rows;
  }
  double totals[3] = {loss_sum, static_cast<double>(correct), static_cast<double>(samples)};
  comm_.all_reduce(Span<double>(totals, 3), ReduceOp::kSum);
  metrics.test_loss = totals[0] / totals[2];
  metrics.test_accuracy = totals[1] / totals[2];
}

uint64_t Trainer::check_ranks_identical() {
  Span<float> parameters = model_->parameters();
  uint64_t fingerprint = parameter_fingerprint(Span<const float>(parameters.data(), parameters.size()));
  auto signed_fingerprint = static_cast<int64_t>(fingerprint);
  int64_t low = comm_.all_reduce_value(signed_fingerprint, ReduceOp::kMin);
  int64_t high = comm_.all_reduce_value(signed_fingerprint, ReduceOp::kMax);
  RT_CHECK(low == high, "parameters differ between ranks (fingerprints {:016x} to {:016x}); this rank has {:016x}",
           static_cast<uint64_t>(low), static_cast<uint64_t>(high), fingerprint);
  return fingerprint;
}

TrainingResult Trainer::run() {
  TrainingResult result;
  for (int64_t epoch = 0; epoch < config_.epochs; ++epoch) {
    EpochMetrics metrics = train_epoch(epoch);
    evaluate(metrics);
    result.parameter_fingerprint = check_ranks_identical();
    log_info("epoch {}/{}: loss {:.4f} train acc {:.2f}% test loss {:.4f} test acc {:.2f}% | {:.0f} samples/s, "
             "{:.2f} s (data wait {:.3f} s, all-reduce {:.3f} s)",
             metrics.epoch, config_.epochs, metrics.train_loss, 100 * metrics.train_accuracy, metrics.test_loss,
             100 * metrics.test_accuracy, metrics.samples_per_second, metrics.train_seconds, metrics.data_wait_seconds,
             metrics.communication_seconds);
    metrics_log_.write(metrics);
    result.epochs.push_back(metrics);
  }
  log_info("done: test accuracy {:.2f}%, parameter fingerprint {:016x} (identical on all {} ranks)",
           100 * result.epochs.back().test_accuracy, result.parameter_fingerprint, comm_.size());
  return result;
}

}  // namespace rt
