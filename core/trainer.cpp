#include "core/trainer.h"

#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>

#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "comm/consistency.h"
#include "core/base/background_work.h"
#include "core/base/environment.h"
#include "core/base/logging.h"
#include "core/base/random.h"
#include "core/base/stall_watch.h"
#include "core/base/termination.h"
#include "core/gpu_binding.h"
#include "core/adamw.h"
#include "core/model_description.h"
#include "core/models.h"
#include "core/report/report.h"
#include "core/sgd.h"
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
    : config_(config), comm_(comm), timeline_(config.timeline_path, comm.rank(), host_name()) {
  const Device device = config_.device;
  if (device == Device::kCuda) {
    require_gpu("runtime.device = \"cuda\"");
    compute_stream_ = std::make_unique<kernels::cuda::Stream>();
    compute_scope_ = std::make_unique<kernels::cuda::StreamScope>(compute_stream_->handle());
    kernels::cuda::set_matmul_precision(config_.precision == "tf32"   ? kernels::cuda::MatmulPrecision::kTf32
                                        : config_.precision == "bf16" ? kernels::cuda::MatmulPrecision::kBf16
                                                                      : kernels::cuda::MatmulPrecision::kFp32);
    nonfinite_device_ = kernels::cuda::DeviceBuffer<uint32_t>(1);
    nonfinite_host_ = kernels::cuda::PinnedBuffer<uint32_t>(2);
    nonfinite_copied_.resize(2);
  } else {
    RT_CHECK(config_.precision == "fp32", "runtime.precision = \"{}\" applies to runtime.device = \"cuda\" only",
             config_.precision);
  }
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
  train_options.prefetch_shards = static_cast<int>(config_.prefetch_shards);
  train_options.prefetch_bytes = static_cast<int64_t>(config_.prefetch_mb * 1024 * 1024);
  train_options.batches_per_step = config_.accumulate;
  train_options.retries = ReadRetries{static_cast<int>(config_.read_retries), static_cast<int>(config_.retry_backoff_ms)};
  if (device == Device::kCuda) {
    train_options.allocator = {kernels::cuda::allocate_pinned, kernels::cuda::release_pinned};
    train_options.stored_features = true;  // uint8 images cross the bus as bytes, converted on the GPU
  }
  const BadShardPolicy policy = config_.on_bad_shard == "skip" ? BadShardPolicy::kSkip : BadShardPolicy::kStop;
  train_loader_ = std::make_unique<Loader>(ShardIndex(config_.train_dir, policy), train_options);
  steps_per_epoch_ = train_loader_->batches_per_epoch() / config_.accumulate;

  LoaderOptions test_options = train_options;
  test_options.mode = LoaderMode::kEvaluation;
  test_options.batch = config_.eval_batch;
  test_loader_ = std::make_unique<Loader>(ShardIndex(config_.test_dir, policy), test_options);
  train_batches_ = std::make_unique<DeviceBatches>(*train_loader_, device);
  test_batches_ = std::make_unique<DeviceBatches>(*test_loader_, device);

  const ShardInfo& train_layout = train_loader_->index().layout();
  const ShardInfo& test_layout = test_loader_->index().layout();
  RT_CHECK(train_layout.feature_size() == test_layout.feature_size() && train_layout.classes == test_layout.classes,
           "test shards ({}: {} features, {} classes) do not match training shards ({}: {} features, {} classes)",
           test_layout.path, test_layout.feature_size(), test_layout.classes, train_layout.path,
           train_layout.feature_size(), train_layout.classes);

  ModelDescription description;
  description.kind = config_.model_kind;
  description.input = {train_layout.feature_shape, train_layout.feature_dtype, train_layout.feature_scale};
  description.classes = train_layout.classes;
  description.hidden = config_.hidden;
  description.channels = config_.channels;
  description.mlp = MlpOptions{config_.activation, config_.layer_norm, static_cast<float>(config_.dropout)};
  description.config = config_.config_text;
  if (config_.model_kind == "gpt") {
    RT_CHECK(train_layout.feature_shape.size() == 1 && train_layout.feature_size() >= 2 &&
                 train_layout.feature_scale == 1.0,
             "model.kind = \"gpt\" needs token shards (`ringtrain shard --text`: windows of context + 1 token ids), "
             "but {} holds samples of shape {} with scale {}",
             train_layout.path, shape_text(train_layout.feature_shape), train_layout.feature_scale);
    GptOptions gpt;
    gpt.vocab = train_layout.classes;
    gpt.context = train_layout.feature_size() - 1;
    gpt.layers = config_.layers;
    gpt.heads = config_.heads;
    gpt.width = config_.width;
    gpt.tie_embeddings = config_.tie_embeddings;
    const bool gpu = config_.device == Device::kCuda;
    const int compute_capability = gpu ? kernels::cuda::compute_capability_major() : 0;
    gpt.bf16_product_inputs = gpu && config_.precision == "bf16" && compute_capability >= 8;
    gpt.bf16_activations = gpt.bf16_product_inputs;
    if (config_.attention == "auto") {
      gpt.attention = kernels::automatic_attention(config_.device, config_.precision == "bf16", compute_capability,
                                                   config_.width / config_.heads);
    } else {
      gpt.attention = kernels::attention_algorithm(config_.attention);
    }
    if (config_.device == Device::kCuda) {
      log_info("attention: {}{}", kernels::attention_algorithm_name(gpt.attention),
               config_.attention == "auto" ? " (model.attention = \"auto\")" : "");
    }
    model_ = build_gpt(gpt, config_.device);
    context_ = gpt.context;
    bf16_logit_gradient_ = gpt.bf16_product_inputs;
    description.gpt = gpt;
  } else if (config_.model_kind == "cnn") {
    model_ = build_cnn(train_layout.feature_shape, config_.channels, config_.hidden, train_layout.classes,
                       config_.device);
  } else {
    model_ = build_mlp(train_layout.feature_size(), config_.hidden, train_layout.classes, config_.device,
                       description.mlp);
  }
  model_description_ = model_description_json(description);
  model_->initialize(config_.seed);
  model_->set_timeline(&timeline_);
  // Every rank starts from rank 0's parameters.
  Span<float> parameters = on_host(model_->parameters(), host_parameters_);
  comm_.broadcast(parameters, 0);
  upload(device, parameters.data(), model_->parameters().data(), parameters.size() * sizeof(float));
  if (config_.optimizer == "adamw") {
    optimizer_ = std::make_unique<AdamW>(
        model_->parameters(), model_->gradients(),
        AdamWOptions{config_.lr, config_.beta1, config_.beta2, config_.eps, config_.weight_decay}, config_.device);
  } else {
    optimizer_ = std::make_unique<Sgd>(model_->parameters(), model_->gradients(),
                                       SgdOptions{config_.lr, config_.momentum, config_.weight_decay}, config_.device);
  }
  loss_counter_ = Tensor::zeros({1}, DType::kFloat64, device);
  correct_counter_ = Tensor::zeros({1}, DType::kInt64, device);
  GradientSyncOptions sync_options;
  sync_options.bucket_bytes = megabytes_to_bytes(config_.bucket_mb);
  sync_options.first_bucket_bytes = megabytes_to_bytes(config_.first_bucket_mb);
  sync_options.overlap = config_.overlap;
  sync_options.wire = parse_wire_format(config_.wire);
  if (device == Device::kCpu) {
    sync_ = std::make_unique<GradientSynchronizer>(comm_, model_->gradients(), sync_options, &timeline_);
  } else {
    set_up_gpu_sync(sync_options);
  }

  log_info("model {}", model_->summary());
  log_info("data: {} training samples in {} shards, {} test samples in {} shards; {} steps of {} x {} ranks{} per epoch",
           train_loader_->index().total_samples(), train_loader_->index().shards().size(),
           test_loader_->index().total_samples(), test_loader_->index().shards().size(), steps_per_epoch_,
           micro_batch_, comm_.size(),
           config_.accumulate > 1 ? fmt::format(" x {} micro-batches", config_.accumulate) : std::string());
  log_info("gradients: {} bucket(s), {} on the wire, {}, summed by {}",
           sync_ ? sync_->buckets().size() : device_sync_ ? device_sync_->buckets().size() : 0, config_.wire,
           config_.overlap ? "overlapped with backward" : "after backward", gradient_transport());
  if (!config_.checkpoint_dir.empty()) {
    checkpoints_ = std::make_unique<CheckpointStore>(config_.checkpoint_dir, config_.checkpoint_keep,
                                                    config_.checkpoint_keep_best);
  }
  // Reads and writes on a mount whose storage stops answering can block in the kernel for ever:
  // past these bounds the job ends, naming the file.
  data_watch_ = std::make_unique<StallWatch>(config_.data_timeout_seconds, [this] {
    const Loader* loader = waiting_for_.load();
    const std::string shard = loader ? loader->reading_shard() : std::string();
    comm_.abort(fmt::format("no batch for {:.0f} s (data.timeout_seconds): reading shard {} has not returned; is its "
                            "storage answering?",
                            config_.data_timeout_seconds, shard.empty() ? std::string("(none yet)") : shard));
  });
  checkpoint_watch_ = std::make_unique<StallWatch>(config_.checkpoint_timeout_seconds, [this] {
    comm_.abort(fmt::format("checkpoint {} has not been written or read in {:.0f} s (checkpoint.timeout_seconds); "
                            "is its storage answering?",
                            checkpoints_->writing(), config_.checkpoint_timeout_seconds));
  });
}

int64_t Trainer::planned_steps() const {
  const int64_t all = config_.epochs * steps_per_epoch_;
  return config_.max_steps > 0 ? std::min(all, config_.max_steps) : all;
}

bool Trainer::steps_done() const { return config_.max_steps > 0 && state_.step >= config_.max_steps; }

Trainer::~Trainer() {
  if (report_thread_.joinable()) report_thread_.join();
}

void Trainer::set_up_gpu_sync(const GradientSyncOptions& options) {
  if (comm_.size() == 1) return;  // the sum over one rank is the gradient itself
  // NCCL needs a GPU per rank; every rank must make the same choice, so they agree on it.
  const Placement placement = detect_placement();
  const bool own_gpu = placement.local_size <= kernels::cuda::device_count();
  const bool all_own_gpu = comm_.all_reduce_value<int32_t>(own_gpu ? 1 : 0, ReduceOp::kMin) == 1;
  bool use_nccl = config_.backend == "nccl" || (config_.backend == "auto" && NcclCommunicator::available() && all_own_gpu);
  if (config_.backend == "nccl") {
    RT_CHECK(all_own_gpu, "comm.backend = \"nccl\" needs a GPU per rank, but some host runs more ranks than it has GPUs "
             "(this one: {} ranks, {} GPU(s)); use comm.backend = \"mpi\" or fewer ranks per host",
             placement.local_size, kernels::cuda::device_count());
  }
  Span<float> gradients = model_->gradients();
  if (use_nccl) {
    RT_CHECK(!config_.hierarchical, "comm.hierarchical applies to the MPI backend; NCCL chooses its own rings and trees");
    nccl_ = std::make_unique<NcclCommunicator>(comm_, config_.timeout_seconds);
    device_sync_ = make_nccl_gradient_synchronizer(*nccl_, gradients.data(), gradients.size(), options,
                                                   compute_stream_->handle());
  } else {
    device_sync_ = make_staged_gradient_synchronizer(comm_, gradients.data(), gradients.size(), options,
                                                     compute_stream_->handle());
  }
}

std::string Trainer::gradient_transport() const {
  if (device_sync_) return device_sync_->transport();
  if (comm_.size() == 1) return "none (one rank)";
  return config_.hierarchical ? "mpi-hierarchical" : comm_.backend();
}

void Trainer::clip_gradients() {
  // After the all-reduce every rank holds the same sums, and the norm is summed in a fixed order,
  // so every rank scales alike.
  Span<float> gradients = model_->gradients();
  const int64_t count = static_cast<int64_t>(gradients.size());
  const double norm = std::sqrt(kernels::sum_of_squares(config_.device, gradients.data(), count));
  if (norm > config_.clip_norm) {
    kernels::scale(config_.device, gradients.data(), count, static_cast<float>(config_.clip_norm / norm));
  }
}

void Trainer::account_step(int64_t step, bool finite) {
  if (finite) {
    state_.consecutive_nonfinite = 0;
    return;
  }
  // Every rank sees the same summed gradients, so every rank skips this step alike.
  ++state_.skipped_steps;
  ++state_.consecutive_nonfinite;
  log_warning("step {}: the gradients hold NaN or infinity; step skipped ({} in a row, {} in all)", step + 1,
              state_.consecutive_nonfinite, state_.skipped_steps);
  RT_CHECK(state_.consecutive_nonfinite < config_.max_nonfinite_steps,
           "{} steps in a row had NaN or infinite gradients (train.max_nonfinite_steps = {}); stopping",
           state_.consecutive_nonfinite, config_.max_nonfinite_steps);
}

void Trainer::optimizer_step_on_gpu(float lr) {
  // The check and the skip happen on the GPU; the host learns the outcome one step later, so it
  // can queue the next step meanwhile instead of waiting for this one to finish.
  Span<float> gradients = model_->gradients();
  const int64_t count = static_cast<int64_t>(gradients.size());
  kernels::cuda::nonfinite_flag(gradients.data(), count, nonfinite_device_.data());
  resolve_gpu_steps();  // the previous step's outcome (its copy was queued a step ago), before counting steps
  if (config_.clip_norm > 0) clip_gradients();  // NaN gradients give a NaN norm and stay as they are
  optimizer_->set_lr(lr);
  optimizer_->step(state_.step - state_.skipped_steps + 1, nonfinite_device_.data());
  const int slot = static_cast<int>(state_.step % 2);
  kernels::cuda::copy_async(nonfinite_host_.data() + slot, nonfinite_device_.data(), sizeof(uint32_t),
                            compute_stream_->handle());
  nonfinite_copied_[slot].record(compute_stream_->handle());
  pending_step_[slot] = state_.step;
}

void Trainer::resolve_gpu_steps() {
  if (config_.device == Device::kCpu) return;
  // Oldest first: the slots hold consecutive steps.
  int order[2] = {0, 1};
  if (pending_step_[1] >= 0 && (pending_step_[0] < 0 || pending_step_[1] < pending_step_[0])) std::swap(order[0], order[1]);
  for (int slot : order) {
    if (pending_step_[slot] < 0) continue;
    nonfinite_copied_[slot].synchronize();
    const int64_t step = pending_step_[slot];
    pending_step_[slot] = -1;
    account_step(step, nonfinite_host_.data()[slot] == 0);
  }
}

Trainer::LossRows Trainer::loss_rows(const DeviceBatch& batch) {
  if (context_ == 0) return {batch.labels, batch.rows};
  // A language model predicts each window's tokens 1..context from those before them.
  const Tensor& targets = targets_.ensure(batch.rows, context_, config_.device, DType::kInt32);
  kernels::next_token_targets(config_.device, batch.features.data<float>(), batch.rows, context_,
                              targets.data<int32_t>());
  return {targets.data<int32_t>(), batch.rows * context_};
}

void Trainer::take_counters(double& loss, double& correct) {
  double loss_value = 0;
  int64_t correct_value = 0;
  download(config_.device, loss_counter_.data<double>(), &loss_value, sizeof loss_value);
  download(config_.device, correct_counter_.data<int64_t>(), &correct_value, sizeof correct_value);
  const double zero_loss = 0;
  const int64_t zero_correct = 0;
  upload(config_.device, &zero_loss, loss_counter_.data<double>(), sizeof zero_loss);
  upload(config_.device, &zero_correct, correct_counter_.data<int64_t>(), sizeof zero_correct);
  loss = loss_value;
  correct = static_cast<double>(correct_value);
}

Span<float> Trainer::on_host(Span<float> values, std::vector<float>& mirror) {
  if (config_.device == Device::kCpu) return values;
  mirror.resize(values.size());
  download(config_.device, values.data(), mirror.data(), values.size() * sizeof(float));
  return Span<float>(mirror);
}

std::vector<float> Trainer::parameters_on_host() {
  std::vector<float> mirror;
  Span<float> values = on_host(model_->parameters(), mirror);
  return std::vector<float>(values.begin(), values.end());
}

std::string Trainer::save_checkpoint(const std::vector<double>& rank_sums, int preemption_signal) {
  // Every rank's running sums of the epoch go into the checkpoint, so a resume continues them.
  std::vector<double> all(3 * static_cast<size_t>(comm_.size()));
  comm_.all_gather(Span<const double>(rank_sums.data(), 3), Span<double>(all));
  TrainingState state = state_;
  state.ranks = comm_.size();
  state.config_hash = config_.config_hash;
  state.model = model_description_;
  if (evaluated_step_ == state_.step) {
    state.evaluated = true;
    state.evaluation_loss = evaluation_.test_loss;
    state.evaluation_accuracy = evaluation_.test_accuracy;
    // Higher is better: a classifier's accuracy, a language model's negative loss.
    state.evaluation_score = context_ > 0 ? -evaluation_.test_loss : evaluation_.test_accuracy;
  }
  state.epoch_loss_sums.clear();
  state.epoch_correct.clear();
  state.epoch_samples.clear();
  for (int r = 0; r < comm_.size(); ++r) {
    state.epoch_loss_sums.push_back(all[3 * r]);
    state.epoch_correct.push_back(static_cast<int64_t>(all[3 * r + 1]));
    state.epoch_samples.push_back(static_cast<int64_t>(all[3 * r + 2]));
  }
  std::string path;
  if (comm_.rank() == 0) {
    Span<float> parameters = on_host(model_->parameters(), host_parameters_);
    Span<float> optimizer_state = on_host(optimizer_->state(), host_optimizer_state_);
    StallWatch::Scope watched(*checkpoint_watch_);
    path = checkpoints_->save(state, Span<const float>(parameters.data(), parameters.size()),
                              Span<const float>(optimizer_state.data(), optimizer_state.size()));
    // At once: a launcher that was itself signalled may kill the ranks soon after it relays it.
    if (preemption_signal > 0) checkpoints_->record_preemption(state_.step, preemption_signal, path);
  }
  comm_.barrier();  // committed before any rank goes on (or exits)
  log_info("checkpoint of step {} written to {}{}", state_.step,
           comm_.rank() == 0 ? path : checkpoints_->directory() + " by rank 0",
           state.evaluated ? fmt::format(" (test loss {:.4f}, test accuracy {:.2f}%)", state.evaluation_loss,
                                         100 * state.evaluation_accuracy)
                           : std::string());
  last_checkpoint_ = path;
  return path;
}

bool Trainer::train_epoch(EpochMetrics& metrics) {
  const int64_t epoch = state_.epoch;
  metrics.epoch = epoch + 1;
  // This rank's running sums of the epoch: loss, correct, samples (restored when resuming).
  std::vector<double> sums(3, 0.0);
  if (static_cast<int64_t>(state_.epoch_loss_sums.size()) == comm_.size()) {
    sums = {state_.epoch_loss_sums[comm_.rank()], static_cast<double>(state_.epoch_correct[comm_.rank()]),
            static_cast<double>(state_.epoch_samples[comm_.rank()])};
  } else if (!state_.epoch_loss_sums.empty() && comm_.rank() == 0) {  // written by another rank count: rank 0 carries them
    for (size_t r = 0; r < state_.epoch_loss_sums.size(); ++r) {
      sums[0] += state_.epoch_loss_sums[r];
      sums[1] += static_cast<double>(state_.epoch_correct[r]);
      sums[2] += static_cast<double>(state_.epoch_samples[r]);
    }
  }
  state_.epoch_loss_sums.clear();
  state_.epoch_correct.clear();
  state_.epoch_samples.clear();
  const int64_t classes = model_->output_features();
  const int64_t total_steps = planned_steps();
  Clock::time_point start = Clock::now();

  waiting_for_ = train_loader_.get();
  {
    StallWatch::Scope watched(*data_watch_);
    train_batches_->start_epoch(epoch, state_.step_in_epoch * config_.accumulate);
  }
  step_meter_.start(state_.step, LossSums{sums[0], sums[1], sums[2]});
  float lr = 0;
  while (state_.step_in_epoch < steps_per_epoch_ && !steps_done()) {
    const Clock::time_point step_start = Clock::now();
    double step_data_wait = 0, step_gradient_wait = 0;
    for (int64_t micro = 0; micro < config_.accumulate; ++micro) {
      const bool last = micro + 1 == config_.accumulate;
      Clock::time_point wait_start = Clock::now();
      const DeviceBatch* batch;
      {
        TimelineScope scope(&timeline_, TimelineLane::kData, "data wait");
        StallWatch::Scope watched(*data_watch_);
        batch = train_batches_->next();
      }
      step_data_wait += seconds_since(wait_start);
      RT_CHECK(batch != nullptr, "the loader ended the epoch early, at step {} of {}", state_.step_in_epoch,
               steps_per_epoch_);

      // Dropout's masks: from the seed, this rank, the step and the micro-batch, so a resumed run
      // draws the masks an uninterrupted one would.
      model_->set_mode(true, Rng(config_.seed ^ 0x6a09e667f3bcc908ULL,
                                 (static_cast<uint64_t>(state_.step) << 20) ^
                                     (static_cast<uint64_t>(comm_.rank()) << 8) ^ static_cast<uint64_t>(micro))
                                 .next_u64());
      const Tensor* logits;
      {
        TimelineScope scope(&timeline_, TimelineLane::kCompute, "forward");
        logits = &model_->forward(batch->features);
      }
      const LossRows loss = loss_rows(*batch);
      kernels::count_correct(config_.device, as_operand(*logits), loss.labels, loss.rows, classes,
                             correct_counter_.data<int64_t>());
      // The gradient of the mean loss over the global batch: the synchroniser's sum over the
      // ranks is then the average, with no extra pass over the arena. A language model's goes
      // where gpt_cross_entropy puts it (over the logits, or in bf16).
      const float grad_scale = 1.0f / static_cast<float>(loss.rows * config_.accumulate * comm_.size());
      const Tensor* grad_logits = logits;
      if (context_ > 0) {
        grad_logits = &gpt_cross_entropy(bf16_logit_gradient_, config_.device, *logits, loss.labels, grad_scale,
                                         grad_logits_, loss_counter_.data<double>());
      } else {
        grad_logits = &grad_logits_.ensure(batch->rows, classes, config_.device);
        kernels::softmax_cross_entropy(config_.device, logits->data<float>(), loss.labels, loss.rows, classes,
                                       grad_scale, grad_logits->data<float>(), loss_counter_.data<double>());
      }
      {
        TimelineScope scope(&timeline_, TimelineLane::kCompute, "backward");
        // Only the last micro-batch's backward finishes gradients, so only it starts buckets.
        model_->set_gradients_final_callback(
            last ? std::function<void(size_t)>([this](size_t n) {
              if (sync_) sync_->gradients_ready(n);
              if (device_sync_) device_sync_->gradients_ready(n);
            })
                 : nullptr);
        model_->backward(*grad_logits, micro == 0 ? GradientWrite::kOverwrite : GradientWrite::kAccumulate);
      }
      sums[2] += static_cast<double>(loss.rows);
    }
    metrics.data_wait_seconds += step_data_wait;
    lr = scheduled_lr(config_.schedule, config_.lr, state_.step, total_steps, config_.warmup_steps);
    if (config_.device == Device::kCpu) {
      Clock::time_point comm_start = Clock::now();
      bool finite;
      {
        TimelineScope scope(&timeline_, TimelineLane::kCompute, "gradient wait");
        finite = sync_->wait();
      }
      step_gradient_wait = seconds_since(comm_start);
      if (finite) {
        TimelineScope scope(&timeline_, TimelineLane::kCompute, "optimizer");
        if (config_.clip_norm > 0) clip_gradients();
        optimizer_->set_lr(lr);
        optimizer_->step(state_.step - state_.skipped_steps + 1);
      }
      account_step(state_.step, finite);
    } else {
      Clock::time_point comm_start = Clock::now();
      if (device_sync_) {
        TimelineScope scope(&timeline_, TimelineLane::kCompute, "gradient wait");
        device_sync_->wait();
      }
      step_gradient_wait = seconds_since(comm_start);
      optimizer_step_on_gpu(lr);
    }
    ++state_.step;
    ++state_.step_in_epoch;
    ++metrics.steps;
    if (config_.check_every > 0 && state_.step % config_.check_every == 0) {
      check_ranks_identical(fmt::format("step {}", state_.step));
    }
    metrics.communication_seconds += step_gradient_wait;
    const double step_seconds = seconds_since(step_start);
    step_meter_.add_step(step_seconds, step_data_wait, step_gradient_wait);
    progress_->add_step(step_seconds, step_data_wait, step_gradient_wait);
    if (config_.log_every > 0 && state_.step % config_.log_every == 0) write_train_row(sums, lr);
    if (progress_->due()) {
      add_counters(sums);
      progress_->update(state_.step, epoch + 1, lr, LossSums{sums[0], sums[1], sums[2]});
    }
    if (config_.eval_every > 0 && state_.step % config_.eval_every == 0 && state_.step_in_epoch < steps_per_epoch_) {
      EpochMetrics evaluation;
      evaluate(evaluation);
      write_eval_row(evaluation);
    }
    const bool terminating = check_collectives_agree(comm_, termination_requested(), fmt::format("step {}", state_.step));
    // The signal may have reached only some ranks: every rank names the one that came.
    if (terminating) preemption_signal_ = comm_.all_reduce_value<int32_t>(termination_signal(), ReduceOp::kMax);
    const bool scheduled = config_.checkpoint_every > 0 && state_.step % config_.checkpoint_every == 0;
    // checkpoint.keep_best: a checkpoint of each evaluated step, so that the best can be kept.
    const bool evaluated = config_.checkpoint_keep_best && evaluated_step_ == state_.step;
    if (checkpoints_ && (terminating || ((scheduled || evaluated) && state_.step_in_epoch < steps_per_epoch_))) {
      resolve_gpu_steps();
      if (config_.log_every > 0 && step_meter_.steps() > 0) write_train_row(sums, lr);
      add_counters(sums);
      save_checkpoint(sums, terminating ? preemption_signal_ : 0);
    }
    if (terminating) {
      resolve_gpu_steps();
      return false;
    }
  }
  resolve_gpu_steps();
  if (config_.log_every > 0 && step_meter_.steps() > 0) write_train_row(sums, lr);
  add_counters(sums);
  metrics.train_seconds = seconds_since(start);
  if (checkpoints_ && state_.step_in_epoch < steps_per_epoch_) save_checkpoint(sums);  // train.max_steps, mid-epoch

  comm_.all_reduce(Span<double>(sums), ReduceOp::kSum);
  metrics.train_loss = sums[0] / sums[2];
  metrics.train_accuracy = sums[1] / sums[2];
  metrics.samples_per_second = static_cast<double>(metrics.steps * config_.global_batch) / metrics.train_seconds;
  return true;
}

void Trainer::evaluate(EpochMetrics& metrics) {
  int64_t samples = 0;
  const int64_t classes = model_->output_features();
  model_->set_mode(false, 0);
  const auto next_test_batch = [this] {
    StallWatch::Scope watched(*data_watch_);
    return test_batches_->next();
  };
  waiting_for_ = test_loader_.get();
  {
    StallWatch::Scope watched(*data_watch_);
    test_batches_->start_epoch(0);
  }
  while (const DeviceBatch* batch = next_test_batch()) {
    const Tensor& logits = model_->forward(batch->features);
    const LossRows loss = loss_rows(*batch);
    kernels::softmax_cross_entropy(config_.device, as_operand(logits), loss.labels, loss.rows, classes, 0.0f,
                                   nullptr, loss_counter_.data<double>());
    kernels::count_correct(config_.device, as_operand(logits), loss.labels, loss.rows, classes,
                           correct_counter_.data<int64_t>());
    samples += loss.rows;
  }
  double totals[3] = {0, 0, static_cast<double>(samples)};
  take_counters(totals[0], totals[1]);
  comm_.all_reduce(Span<double>(totals, 3), ReduceOp::kSum);
  metrics.test_loss = totals[0] / totals[2];
  metrics.test_accuracy = totals[1] / totals[2];
}

void Trainer::add_counters(std::vector<double>& sums) {
  double loss = 0, correct = 0;
  take_counters(loss, correct);
  sums[0] += loss;
  sums[1] += correct;
}

void Trainer::write_train_row(std::vector<double>& sums, float lr) {
  add_counters(sums);
  const StepRowContext context{state_.epoch + 1, state_.step, lr, config_.global_batch, context_};
  const nlohmann::json row = step_meter_.finish(comm_, context, LossSums{sums[0], sums[1], sums[2]});
  if (comm_.rank() == 0) metrics_log_.write(row);
  refresh_report(false);
}

void Trainer::refresh_report(bool now) {
  namespace fs = std::filesystem;
  if (comm_.rank() != 0 || config_.run_dir.empty() || report_failed_) return;
  // The report reads the run directory's metrics: not where log.metrics sends them elsewhere.
  if (fs::path(config_.metrics_path) != fs::path(config_.run_dir) / "metrics.jsonl") return;
  const auto clock = Clock::now();
  if (!now && (config_.report_every_seconds <= 0 || report_running_ ||
               std::chrono::duration<double>(clock - last_report_).count() < config_.report_every_seconds)) {
    return;
  }
  if (report_thread_.joinable()) report_thread_.join();
  last_report_ = clock;
  report_running_ = true;
  auto refresh = [this, directory = config_.run_dir] {
    try {
      write_report({directory}, (fs::path(directory) / "report.html").string());
    } catch (const Error& error) {
      report_failed_ = true;
      log_warning("the report cannot be written, training goes on without it: {}", error.what());
    }
    report_running_ = false;
  };
  if (now) {
    refresh();
  } else {
    // Reading a long run's metrics takes a while (1.1 s for 100,000 rows): not on the step's path.
    report_thread_ = std::thread([refresh] {
      run_as_background_work();
      refresh();
    });
  }
}

void Trainer::write_eval_row(const EpochMetrics& metrics) {
  evaluated_step_ = state_.step;
  evaluation_ = metrics;
  if (comm_.rank() != 0) return;
  nlohmann::json row = {{"kind", "eval"},         {"time", unix_time_now()},
                        {"epoch", state_.epoch + 1}, {"step", state_.step},
                        {"loss", metrics.test_loss}, {"accuracy", metrics.test_accuracy}};
  if (context_ > 0) row["bits_per_token"] = metrics.test_loss / std::log(2.0);
  metrics_log_.write(row);
  if (state_.step_in_epoch < steps_per_epoch_) {
    log_info("evaluation at step {}: test loss {:.4f}, test accuracy {:.2f}%", state_.step, metrics.test_loss,
             100 * metrics.test_accuracy);
  }
}

uint64_t Trainer::check_ranks_identical(const std::string& when) {
  Span<float> parameters = on_host(model_->parameters(), host_parameters_);
  return check_identical_across_ranks(comm_, Span<const float>(parameters.data(), parameters.size()), when);
}

void Trainer::restore() {
  RT_CHECK(checkpoints_ || (config_.resume != "auto"), "--resume auto needs checkpoint.dir in the configuration");
  std::optional<Checkpoint> checkpoint;
  std::string text;
  // A checkpoint whose position this run's data and epochs cannot reach is not this run's (or its
  // state is damaged): skipped by --resume auto, an error with --resume DIR.
  const int64_t samples = train_loader_->index().total_samples();
  const auto fits_this_run = [&](const Checkpoint& c) {
    const TrainingState& s = c.state;
    // Each step takes at least one sample.
    RT_CHECK(s.step <= (s.epoch + 1) * samples, "{}: step {} in epoch {} is more steps than {} training samples can give",
             c.path, s.step, s.epoch + 1, samples);
    RT_CHECK(s.step_in_epoch <= steps_per_epoch_ && s.epoch <= config_.epochs,
             "{}: the checkpoint is at epoch {} step {}, outside this run of {} epochs of {} steps", c.path,
             s.epoch + 1, s.step_in_epoch, config_.epochs, steps_per_epoch_);
  };
  if (comm_.rank() == 0) {
    if (config_.resume == "auto") {
      checkpoint = checkpoints_->load_newest(fits_this_run);
    } else {
      checkpoint = CheckpointStore::load(config_.resume);
      fits_this_run(*checkpoint);
    }
    if (checkpoint) text = serialize_state(checkpoint->state);
  }
  // Rank 0 read it; everyone gets the same: the state as text, then the arenas.
  text = broadcast_text(comm_, text);
  if (text.empty()) {
    log_info("no valid checkpoint in {}: starting from the beginning", checkpoints_->directory());
    return;
  }
  state_ = parse_state(text, "the checkpoint state from rank 0");
  Span<float> parameters = on_host(model_->parameters(), host_parameters_);
  Span<float> optimizer_state = on_host(optimizer_->state(), host_optimizer_state_);
  int64_t sizes[2] = {0, 0};
  if (comm_.rank() == 0) {
    sizes[0] = static_cast<int64_t>(checkpoint->parameters.size());
    sizes[1] = static_cast<int64_t>(checkpoint->optimizer_state.size());
  }
  comm_.broadcast(Span<int64_t>(sizes, 2), 0);
  RT_CHECK(sizes[0] == static_cast<int64_t>(parameters.size()) &&
               sizes[1] == static_cast<int64_t>(optimizer_state.size()),
           "the checkpoint holds {} parameters and {} optimizer values; this model has {} and {}", sizes[0], sizes[1],
           parameters.size(), optimizer_state.size());
  if (comm_.rank() == 0) {
    std::copy(checkpoint->parameters.begin(), checkpoint->parameters.end(), parameters.begin());
    std::copy(checkpoint->optimizer_state.begin(), checkpoint->optimizer_state.end(), optimizer_state.begin());
  }
  comm_.broadcast(parameters, 0);
  comm_.broadcast(optimizer_state, 0);
  upload(config_.device, parameters.data(), model_->parameters().data(), parameters.size() * sizeof(float));
  upload(config_.device, optimizer_state.data(), optimizer_->state().data(),
         optimizer_state.size() * sizeof(float));
  if (state_.config_hash != config_.config_hash) {
    // Key by key, checkpoint -> now, from the configuration the checkpoint's description holds.
    std::string differences = "(the checkpoint does not hold its configuration)";
    if (!state_.model.empty()) {
      try {
        const std::string written = parse_model_description(state_.model, "the checkpoint's model").config;
        if (!written.empty()) {
          differences.clear();
          for (const std::string& line : config_differences(written, config_.config_text)) {
            differences += "\n    " + line;
          }
        }
      } catch (const Error& error) {  // only a message is at stake: the resume goes on
        differences = fmt::format("(its configuration cannot be read: {})", without_source_locations(error.what()));
      }
    }
    log_warning("the checkpoint was written with a different configuration; resuming anyway. Checkpoint -> now:{}",
                differences);
  }
  if (state_.ranks != comm_.size()) {
    log_warning("the checkpoint was written by {} ranks, resuming with {}: the rest of this epoch reads a different "
                "split of the data than an uninterrupted run would", state_.ranks, comm_.size());
  }
  log_info("resumed from {}: step {}, epoch {}, step {} of {} in the epoch",
           comm_.rank() == 0 ? checkpoint->path : std::string("rank 0's checkpoint"), state_.step, state_.epoch + 1,
           state_.step_in_epoch, steps_per_epoch_);
}

void Trainer::claim_checkpoint_dir() {
  if (!checkpoints_ || config_.resume == "auto" || comm_.rank() != 0) return;
  namespace fs = std::filesystem;
  if (config_.resume != "none") {
    fs::path resumed = fs::absolute(config_.resume).lexically_normal();
    if (!resumed.has_filename()) resumed = resumed.parent_path();  // written with a trailing slash
    std::error_code error;
    if (fs::equivalent(resumed.parent_path(), checkpoints_->directory(), error)) return;  // continues that run there
  }
  std::optional<Checkpoint> found = checkpoints_->load_newest();
  RT_CHECK(!found, "checkpoint.dir {} already holds another run's checkpoints (the newest: {}); continue that run with "
           "--resume auto, or give this one a checkpoint.dir of its own", checkpoints_->directory(), found->path);
}

TrainingResult Trainer::run() {
  TrainingResult result;
  claim_checkpoint_dir();
  if (config_.resume != "none") restore();
  if (comm_.rank() == 0) {
    metrics_log_.open(config_.metrics_path,
                      config_.resume == "none" ? std::nullopt : std::optional<int64_t>(state_.step));
  }
  last_report_ = Clock::now();
  progress_ = std::make_unique<Progress>(
      config_.progress && comm_.rank() == 0,
      ProgressPlan{planned_steps(), config_.epochs, config_.global_batch, context_, config_.progress_every_seconds});
  if (checkpoints_ && comm_.rank() == 0) checkpoints_->clear_preemption_record();
  if (comm_.rank() == 0 && state_.run_id.empty()) state_.run_id = new_run_id();
  result.parameter_fingerprint = check_ranks_identical("start");
  std::vector<double> no_sums(3, 0.0);
  while (state_.epoch < config_.epochs) {
    EpochMetrics metrics;
    if (!train_epoch(metrics)) {
      result.preempted = true;
      break;
    }
    // train.eval_every may have evaluated this very step (a train.max_steps run ends mid-epoch).
    const bool evaluated = evaluated_step_ == state_.step;
    if (evaluated) {
      metrics.test_loss = evaluation_.test_loss;
      metrics.test_accuracy = evaluation_.test_accuracy;
    } else {
      evaluate(metrics);
    }
    const bool whole_epoch = state_.step_in_epoch == steps_per_epoch_;
    result.parameter_fingerprint = check_ranks_identical(
        whole_epoch ? fmt::format("the end of epoch {}", state_.epoch + 1) : fmt::format("step {}", state_.step));
    log_info("epoch {}/{}: loss {:.4f} train acc {:.2f}% test loss {:.4f} test acc {:.2f}% | {:.0f} samples/s, "
             "{:.2f} s (data wait {:.3f} s, gradient wait {:.3f} s)",
             metrics.epoch, config_.epochs, metrics.train_loss, 100 * metrics.train_accuracy, metrics.test_loss,
             100 * metrics.test_accuracy, metrics.samples_per_second, metrics.train_seconds, metrics.data_wait_seconds,
             metrics.communication_seconds);
    if (context_ > 0) {
      log_info("epoch {}: {:.0f} tokens/s; loss in bits per token: train {:.4f}, test {:.4f}", metrics.epoch,
               metrics.samples_per_second * static_cast<double>(context_), metrics.train_loss / std::log(2.0),
               metrics.test_loss / std::log(2.0));
    }
    if (!evaluated) write_eval_row(metrics);
    if (comm_.rank() == 0) {
      metrics_log_.write({{"kind", "epoch"},
                          {"time", unix_time_now()},
                          {"epoch", metrics.epoch},
                          {"step", state_.step},
                          {"steps", metrics.steps},
                          {"train_loss", metrics.train_loss},
                          {"train_accuracy", metrics.train_accuracy},
                          {"test_loss", metrics.test_loss},
                          {"test_accuracy", metrics.test_accuracy},
                          {"train_seconds", metrics.train_seconds},
                          {"samples_per_second", metrics.samples_per_second},
                          {"data_wait_seconds", metrics.data_wait_seconds},
                          {"communication_seconds", metrics.communication_seconds}});
    }
    result.epochs.push_back(metrics);
    if (!whole_epoch) break;  // train.max_steps reached
    ++state_.epoch;
    state_.step_in_epoch = 0;
    if (checkpoints_) save_checkpoint(no_sums);
  }
  progress_->stop();
  timeline_.write();
  if (timeline_.enabled()) {
    comm_.barrier();  // every rank's file written
    if (comm_.rank() == 0) {
      const std::vector<int> missing = merge_timelines(config_.timeline_path, comm_.size());
      if (!missing.empty()) {
        log_warning("the timeline {} leaves out rank(s) {}: their files are not readable from rank 0's host",
                    config_.timeline_path, fmt::join(missing, ", "));
      }
    }
    log_info("timeline of every rank written to {} (and each rank's to {})", config_.timeline_path,
             timeline_.file());
  }
  result.skipped_steps = state_.skipped_steps;
  result.last_checkpoint = last_checkpoint_;
  if (result.preempted) {
    const int signal = preemption_signal_;
    log_info("stopped by signal {} ({}) after step {}; resume with --resume auto", signal, strsignal(signal),
             state_.step);
    refresh_report(true);  // after the checkpoint and its record: the grace period may end first
    return result;
  }
  refresh_report(true);
  log_info("done: {}, parameter fingerprint {:016x} (identical on all {} ranks){}",
           result.epochs.empty() ? std::string("no epoch was left to train")
                                 : fmt::format("test accuracy {:.2f}%", 100 * result.epochs.back().test_accuracy),
           result.parameter_fingerprint, comm_.size(),
           state_.skipped_steps > 0 ? fmt::format(", {} step(s) skipped for non-finite gradients", state_.skipped_steps)
                                    : std::string());
  return result;
}

}  // namespace rt
