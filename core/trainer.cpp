#include "core/trainer.h"

#include <chrono>
#include <cmath>
#include <cstring>

#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "comm/consistency.h"
#include "core/cpu_blas_choice.h"
#include "core/base/environment.h"
#include "core/base/logging.h"
#include "core/base/stall_watch.h"
#include "core/gpu_binding.h"
#include "core/model_description.h"
#include "core/model_registry.h"
#include "core/optimizer_registry.h"
#include "kernels/kernels.h"

namespace rt {

namespace {
size_t megabytes_to_bytes(double megabytes) { return static_cast<size_t>(megabytes * 1024.0 * 1024.0); }
}  // namespace

double Trainer::seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

Trainer::Trainer(const TrainConfig& config, Communicator& comm)
    : config_(config), comm_(comm), timeline_(config.timeline_path, comm.rank(), host_name()) {
  const Device device = config_.device;
  if (device == Device::kCuda) {
    require_gpu("runtime.device = \"cuda\"");
    compute_stream_ = std::make_unique<kernels::cuda::Stream>();
    compute_scope_ = std::make_unique<kernels::cuda::StreamScope>(compute_stream_->handle());
    kernels::cuda::set_matmul_precision(config_.precision);
  } else {
    RT_CHECK(config_.precision == kernels::cuda::MatmulPrecision::kFp32,
             "runtime.precision = \"{}\" applies to runtime.device = \"cuda\" only",
             config_.precision == kernels::cuda::MatmulPrecision::kTf32 ? "tf32" : "bf16");
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
  const BadShardPolicy policy = config_.on_bad_shard;
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
  RT_CHECK(train_layout.regression == config_.regression && test_layout.regression == config_.regression,
           "{}", config_.regression
                     ? fmt::format("model.task = \"regression\" trains on shards of regression targets, and {} holds "
                                   "class labels (convert with --task regression)",
                                   train_layout.regression ? test_layout.path : train_layout.path)
                     : fmt::format("{} holds regression targets: set model.task = \"regression\"",
                                   train_layout.regression ? train_layout.path : test_layout.path));
  RT_CHECK(!config_.regression || config_.model_kind != "gpt", "model.task = \"regression\" is for the mlp and cnn, "
           "not a gpt");
  // Ids mean the same classes in both (a table converted in two parts: --class-names).
  RT_CHECK(test_layout.class_names == train_layout.class_names,
           "test shards ({}) name their classes [{}], training shards ({}) [{}]: convert both with the same "
           "--class-names",
           test_layout.path, fmt::join(test_layout.class_names, ", "), train_layout.path,
           fmt::join(train_layout.class_names, ", "));
  RT_CHECK(train_layout.feature_size() == test_layout.feature_size() && train_layout.classes == test_layout.classes,
           "test shards ({}: {} features, {} classes) do not match training shards ({}: {} features, {} classes)",
           test_layout.path, test_layout.feature_size(), test_layout.classes, train_layout.path,
           train_layout.feature_size(), train_layout.classes);

  ModelDescription description;
  description.kind = config_.model_kind;
  description.regression = config_.regression;
  description.input = {train_layout.feature_shape, train_layout.feature_dtype, train_layout.feature_scale};
  description.classes = train_layout.classes;
  description.class_names = train_layout.class_names;
  description.config = config_.config_text;
  // A model or optimizer of a program's own reads its keys from the configuration (the file, or
  // the resolved text where none was given), checked once it has.
  std::unique_ptr<Config> resolved_config;
  Config* config_keys = config_.source;
  if (!config_keys) {
    resolved_config = std::make_unique<Config>(Config::load_string(config_.config_text, config_.config_name));
    config_keys = resolved_config.get();
  }
  ModelSpec model_spec{*config_keys, config_, description.input, description.classes, device};
  model_spec.description = &description;
  model_spec.shards = train_layout.path;
  model_ = build_model(config_.model_kind, model_spec);
  if (!model_is_built_in(config_.model_kind)) config_keys->reject_unknown_keys_under("model.");
  context_ = model_spec.next_token_context;
  bf16_logit_gradient_ = model_spec.bf16_logit_gradient;
  model_description_ = model_description_json(description);
  model_->initialize(config_.seed);
  if (device == Device::kCpu && config_.cpu_blas == kernels::CpuBlas::kAuto) {
    log_info("products by {}", choose_cpu_blas(*model_, micro_batch_, comm_).describe());
  }
  model_->set_timeline(&timeline_);
  // Every rank starts from rank 0's parameters.
  Span<float> parameters = on_host(model_->parameters(), host_parameters_);
  comm_.broadcast(parameters, 0);
  upload(device, parameters.data(), model_->parameters().data(), parameters.size() * sizeof(float));
  OptimizerSpec optimizer_spec{*config_keys, config_, model_->parameters(), model_->gradients(), device};
  optimizer_ = build_optimizer(config_.optimizer, optimizer_spec);
  if (!optimizer_is_built_in(config_.optimizer)) config_keys->reject_unknown_keys_under("optimizer.");
  config_.source = nullptr;  // the configuration's owner may go now
  loss_counter_ = Tensor::zeros({3}, DType::kFloat64, device);  // a regression's squared error, sum, squares
  correct_counter_ = Tensor::zeros({1}, DType::kInt64, device);
  GradientSyncOptions sync_options;
  sync_options.bucket_bytes = megabytes_to_bytes(config_.bucket_mb);
  sync_options.first_bucket_bytes = megabytes_to_bytes(config_.first_bucket_mb);
  sync_options.overlap = config_.overlap;
  sync_options.wire = config_.wire;
  GradientSyncPlacement placement;
  placement.device = device;
  placement.backend = config_.backend;
  placement.hierarchical = config_.hierarchical;
  placement.timeout_seconds = config_.timeout_seconds;
  if (device == Device::kCuda) {
    placement.compute_stream = compute_stream_->handle();
    placement.visible_gpus = kernels::cuda::device_count();
    placement.local_ranks = detect_placement().local_size;
  }
  sync_ = make_gradient_synchronizer(comm_, model_->gradients(), sync_options, placement, &timeline_);
  step_outcomes_ = make_step_outcomes(device, device == Device::kCuda ? compute_stream_->handle() : nullptr,
                                      [this](int64_t step, bool finite) { account_step(step, finite); });

  log_info("model {}", model_->summary());
  log_info("data: {} training samples in {} shards, {} test samples in {} shards; {} steps of {} x {} ranks{} per epoch",
           train_loader_->index().total_samples(), train_loader_->index().shards().size(),
           test_loader_->index().total_samples(), test_loader_->index().shards().size(), steps_per_epoch_,
           micro_batch_, comm_.size(),
           config_.accumulate > 1 ? fmt::format(" x {} micro-batches", config_.accumulate) : std::string());
  log_info("gradients: {} bucket(s), {} on the wire, {}, summed by {}",
           sync_->buckets().size(), wire_format_name(config_.wire),
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

std::string Trainer::gradient_transport() const { return sync_->transport(); }

uint64_t Trainer::check_ranks_identical(const std::string& when) {
  Span<float> parameters = on_host(model_->parameters(), host_parameters_);
  return check_identical_across_ranks(comm_, Span<const float>(parameters.data(), parameters.size()), when);
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
      metrics.test_r2 = evaluation_.test_r2;
    } else {
      evaluate(metrics);
    }
    const bool whole_epoch = state_.step_in_epoch == steps_per_epoch_;
    result.parameter_fingerprint = check_ranks_identical(
        whole_epoch ? fmt::format("the end of epoch {}", state_.epoch + 1) : fmt::format("step {}", state_.step));
    log_info("epoch {}/{}: {} | {:.0f} samples/s, {:.2f} s (data wait {:.3f} s, gradient wait {:.3f} s)",
             metrics.epoch, config_.epochs,
             config_.regression
                 ? fmt::format("loss (mse) {:.4g} test mse {:.4g} test R^2 {:.4f}", metrics.train_loss,
                               metrics.test_loss, metrics.test_r2)
                 : fmt::format("loss {:.4f} train acc {:.2f}% test loss {:.4f} test acc {:.2f}%", metrics.train_loss,
                               100 * metrics.train_accuracy, metrics.test_loss, 100 * metrics.test_accuracy),
             metrics.samples_per_second, metrics.train_seconds, metrics.data_wait_seconds,
             metrics.communication_seconds);
    if (context_ > 0) {
      log_info("epoch {}: {:.0f} tokens/s; loss in bits per token: train {:.4f}, test {:.4f}", metrics.epoch,
               metrics.samples_per_second * static_cast<double>(context_), metrics.train_loss / std::log(2.0),
               metrics.test_loss / std::log(2.0));
    }
    if (!evaluated) write_eval_row(metrics);
    if (comm_.rank() == 0) {
      nlohmann::json row = {{"kind", "epoch"},
                            {"time", unix_time_now()},
                            {"epoch", metrics.epoch},
                            {"step", state_.step},
                            {"steps", metrics.steps},
                            {"train_loss", metrics.train_loss},
                            {"test_loss", metrics.test_loss},
                            {"train_seconds", metrics.train_seconds},
                            {"samples_per_second", metrics.samples_per_second},
                            {"data_wait_seconds", metrics.data_wait_seconds},
                            {"communication_seconds", metrics.communication_seconds}};
      if (config_.regression) {
        row["test_r2"] = metrics.test_r2;
      } else {
        row["train_accuracy"] = metrics.train_accuracy;
        row["test_accuracy"] = metrics.test_accuracy;
      }
      metrics_log_.write(row);
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
           result.epochs.empty()          ? std::string("no epoch was left to train")
           : result.epochs.back().regression ? result.epochs.back().test_text()
                                            : fmt::format("test accuracy {:.2f}%", 100 * result.epochs.back().test_accuracy),
           result.parameter_fingerprint, comm_.size(),
           state_.skipped_steps > 0 ? fmt::format(", {} step(s) skipped for non-finite gradients", state_.skipped_steps)
                                    : std::string());
  return result;
}

}  // namespace rt
