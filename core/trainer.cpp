#include "core/trainer.h"

#include <chrono>

#include "comm/consistency.h"
#include "core/base/logging.h"
#include "core/models.h"
#include "kernels/kernels.h"

namespace rt {

namespace {
using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}
size_t megabytes_to_bytes(double megabytes) { return static_cast<size_t>(megabytes * 1024.0 * 1024.0); }
}  // namespace

Trainer::Trainer(const TrainConfig& config, Communicator& comm)
    : config_(config), comm_(comm), timeline_(config.timeline_path, comm.rank()),
      metrics_log_(comm.rank() == 0 ? config.metrics_path : "") {
  RT_CHECK(config_.device == Device::kCpu, "runtime.device = \"{}\": this build of ringtrain has no CUDA support",
           device_name(config_.device));
  const int64_t split = comm_.size() * config_.accumulate;
  RT_CHECK(config_.global_batch % split == 0,
           "train.global_batch = {} cannot be split evenly across {} ranks x {} accumulated micro-batches",
           config_.global_batch, comm_.size(), config_.accumulate);
  micro_batch_ = config_.global_batch / split;

  LoaderOptions train_options;
  train_options.mode = LoaderMode::kTraining;
  train_options.batch = micro_batch_;
  train_options.rank = comm_.rank();
  train_options.size = comm_.size();
  train_options.seed = config_.seed;
  train_options.shuffle_window = config_.shuffle_window;
  train_options.prefetch = static_cast<int>(config_.prefetch);
  train_options.batches_per_step = config_.accumulate;
  train_loader_ = std::make_unique<Loader>(ShardIndex(config_.train_dir), train_options);
  steps_per_epoch_ = train_loader_->batches_per_epoch() / config_.accumulate;

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
  model_->set_timeline(&timeline_);
  comm_.broadcast(model_->parameters(), 0);
  optimizer_ = std::make_unique<Sgd>(model_->parameters(), model_->gradients(),
                                     SgdOptions{config_.lr, config_.momentum, config_.weight_decay}, config_.device);
  GradientSyncOptions sync_options;
  sync_options.bucket_bytes = megabytes_to_bytes(config_.bucket_mb);
  sync_options.first_bucket_bytes = megabytes_to_bytes(config_.first_bucket_mb);
  sync_options.overlap = config_.overlap;
  sync_options.wire = parse_wire_format(config_.wire);
  sync_ = std::make_unique<GradientSynchronizer>(comm_, model_->gradients(), sync_options, &timeline_);

  log_info("model {}", model_->summary());
  log_info("data: {} training samples in {} shards, {} test samples in {} shards; {} steps of {} x {} ranks{} per epoch",
           train_loader_->index().total_samples(), train_loader_->index().shards().size(),
           test_loader_->index().total_samples(), test_loader_->index().shards().size(), steps_per_epoch_,
           micro_batch_, comm_.size(),
           config_.accumulate > 1 ? fmt::format(" x {} micro-batches", config_.accumulate) : std::string());
  log_info("gradients: {} bucket(s), {} on the wire, {}, {} communicator", sync_->buckets().size(), config_.wire,
           config_.overlap ? "overlapped with backward" : "after backward", comm_.backend());
  check_ranks_identical("start");
}

Trainer::~Trainer() = default;

EpochMetrics Trainer::train_epoch(int64_t epoch) {
  EpochMetrics metrics;
  metrics.epoch = epoch + 1;
  double loss_sum = 0;
  int64_t correct = 0, samples = 0;
  const int64_t classes = model_->output_features();
  const int64_t total_steps = config_.epochs * steps_per_epoch_;
  Clock::time_point start = Clock::now();

  train_loader_->start_epoch(epoch);
  for (int64_t step = 0; step < steps_per_epoch_; ++step) {
    for (int64_t micro = 0; micro < config_.accumulate; ++micro) {
      const bool last = micro + 1 == config_.accumulate;
      Clock::time_point wait_start = Clock::now();
      const Batch* batch;
      {
        TimelineScope scope(&timeline_, TimelineLane::kData, "data wait");
        batch = train_loader_->next();
      }
      metrics.data_wait_seconds += seconds_since(wait_start);
      RT_CHECK(batch != nullptr, "the loader ended the epoch early, at step {} of {}", step, steps_per_epoch_);

      Tensor input = Tensor::view(const_cast<float*>(batch->features), {batch->rows, batch->feature_size});
      const Tensor* logits;
      {
        TimelineScope scope(&timeline_, TimelineLane::kCompute, "forward");
        logits = &model_->forward(input);
      }
      const Tensor& grad_logits = grad_logits_.ensure(batch->rows, classes, config_.device);
      double micro_loss = 0;
      // The gradient of the mean loss over the global batch: the synchroniser's sum over the
      // ranks is then the average, with no extra pass over the arena.
      const float grad_scale = 1.0f / static_cast<float>(batch->rows * config_.accumulate * comm_.size());
      kernels::softmax_cross_entropy(config_.device, logits->data<float>(), batch->labels, batch->rows, classes,
                                     grad_scale, grad_logits.data<float>(), &micro_loss);
      kernels::count_correct(config_.device, logits->data<float>(), batch->labels, batch->rows, classes, &correct);
      {
        TimelineScope scope(&timeline_, TimelineLane::kCompute, "backward");
        // Only the last micro-batch's backward finishes gradients, so only it starts buckets.
        model_->set_gradients_final_callback(
            last ? std::function<void(size_t)>([this](size_t n) { sync_->gradients_ready(n); }) : nullptr);
        model_->backward(grad_logits, micro == 0 ? GradientWrite::kOverwrite : GradientWrite::kAccumulate);
      }
      loss_sum += micro_loss;
      samples += batch->rows;
    }
    Clock::time_point comm_start = Clock::now();
    {
      TimelineScope scope(&timeline_, TimelineLane::kCompute, "gradient wait");
      sync_->wait();
    }
    metrics.communication_seconds += seconds_since(comm_start);
    {
      TimelineScope scope(&timeline_, TimelineLane::kCompute, "optimizer");
      optimizer_->set_lr(scheduled_lr(config_.schedule, config_.lr, step_, total_steps));
      optimizer_->step();
    }
    ++step_;
    ++metrics.steps;
    if (config_.check_every > 0 && step_ % config_.check_every == 0) {
      check_ranks_identical(fmt::format("step {}", step_));
    }
    if (config_.log_every > 0 && metrics.steps % config_.log_every == 0) {
      log_info("epoch {} step {}/{}: loss {:.4f} (this rank's batch)", epoch + 1, metrics.steps, steps_per_epoch_,
               loss_sum / static_cast<double>(samples));
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

uint64_t Trainer::check_ranks_identical(const std::string& when) {
  Span<float> parameters = model_->parameters();
  return check_identical_across_ranks(comm_, Span<const float>(parameters.data(), parameters.size()), when);
}

TrainingResult Trainer::run() {
  TrainingResult result;
  for (int64_t epoch = 0; epoch < config_.epochs; ++epoch) {
    EpochMetrics metrics = train_epoch(epoch);
    evaluate(metrics);
    result.parameter_fingerprint = check_ranks_identical(fmt::format("the end of epoch {}", epoch + 1));
    log_info("epoch {}/{}: loss {:.4f} train acc {:.2f}% test loss {:.4f} test acc {:.2f}% | {:.0f} samples/s, "
             "{:.2f} s (data wait {:.3f} s, gradient wait {:.3f} s)",
             metrics.epoch, config_.epochs, metrics.train_loss, 100 * metrics.train_accuracy, metrics.test_loss,
             100 * metrics.test_accuracy, metrics.samples_per_second, metrics.train_seconds, metrics.data_wait_seconds,
             metrics.communication_seconds);
    metrics_log_.write(metrics);
    result.epochs.push_back(metrics);
  }
  timeline_.write();
  if (timeline_.enabled()) log_info("timeline written to {} (and one file per rank)", timeline_.file());
  log_info("done: test accuracy {:.2f}%, parameter fingerprint {:016x} (identical on all {} ranks)",
           100 * result.epochs.back().test_accuracy, result.parameter_fingerprint, comm_.size());
  return result;
}

}  // namespace rt
