#include "core/train_config.h"

#include "core/model_registry.h"
#include "core/models.h"
#include "core/optimizer_registry.h"

namespace rt {

TrainConfig read_train_config(Config& config) {
  TrainConfig c;
  c.model_kind = config.get_string("model.kind", c.model_kind, registered_models());
  if (!model_is_built_in(c.model_kind)) config.check_keys_later("model.");
  c.regression = config.get_string("model.task", "classification", {"classification", "regression"}) == "regression";
  c.hidden = config.get_int_list("model.hidden", c.model_kind == "cnn" ? std::vector<int64_t>{128} : c.hidden, 1, 1 << 20);
  c.channels = config.get_int_list("model.channels", c.channels, 1, 1 << 16);
  c.activation = config.get_string("model.activation", c.activation, mlp_activations());
  c.layer_norm = config.get_bool("model.layer_norm", c.layer_norm);
  c.dropout = config.get_double("model.dropout", c.dropout, 0.0, 0.99);
  c.layers = config.get_int("model.layers", c.layers, 1, 1024);
  c.heads = config.get_int("model.heads", c.heads, 1, 1024);
  c.width = config.get_int("model.width", c.width, 1, 1 << 20);
  c.tie_embeddings = config.get_bool("model.tie_embeddings", c.tie_embeddings);
  c.attention = config.get_choice<std::optional<kernels::AttentionAlgorithm>>(
      "model.attention", c.attention,
      {{"auto", std::nullopt},
       {"fused", kernels::AttentionAlgorithm::kFused},
       {"plain", kernels::AttentionAlgorithm::kPlain},
       {"tensor_core", kernels::AttentionAlgorithm::kTensorCore}});
  if (c.model_kind == "gpt" && c.width % c.heads != 0) {
    throw Error(fmt::format("config error in {}: model.width = {} is not divisible by model.heads = {}",
                            config.source(), c.width, c.heads));
  }

  c.epochs = config.get_int("train.epochs", c.epochs, 1, 1000000);
  c.max_steps = config.get_int("train.max_steps", c.max_steps, 0, INT64_MAX);
  c.global_batch = config.get_int("train.global_batch", c.global_batch, 1, 1 << 24);
  c.seed = static_cast<uint64_t>(config.get_int("train.seed", static_cast<int64_t>(c.seed), 0, INT64_MAX));
  c.accumulate = config.get_int("train.accumulate", c.accumulate, 1, 4096);
  c.eval_every = config.get_int("train.eval_every", c.eval_every, 0, INT64_MAX);
  c.max_nonfinite_steps = config.get_int("train.max_nonfinite_steps", c.max_nonfinite_steps, 1, 1000000);

  c.optimizer = config.get_string("optimizer.kind", c.optimizer, registered_optimizers());
  if (!optimizer_is_built_in(c.optimizer)) config.check_keys_later("optimizer.");
  c.lr = static_cast<float>(config.get_double("optimizer.lr", c.lr, 0.0, 100.0));
  c.momentum = static_cast<float>(config.get_double("optimizer.momentum", c.momentum, 0.0, 0.999999));
  c.weight_decay = static_cast<float>(
      config.get_double("optimizer.weight_decay", c.optimizer == "adamw" ? 0.01 : c.weight_decay, 0.0, 1.0));
  c.beta1 = static_cast<float>(config.get_double("optimizer.beta1", c.beta1, 0.0, 0.999999));
  c.beta2 = static_cast<float>(config.get_double("optimizer.beta2", c.beta2, 0.0, 0.999999999));
  c.eps = static_cast<float>(config.get_double("optimizer.eps", c.eps, 1e-30, 1.0));
  c.schedule = config.get_choice("optimizer.schedule", c.schedule,
                                 {{"constant", LrSchedule::kConstant},
                                  {"cosine", LrSchedule::kCosine},
                                  {"linear", LrSchedule::kLinear}});
  c.warmup_steps = config.get_int("optimizer.warmup_steps", c.warmup_steps, 0, INT64_MAX);
  c.clip_norm = config.get_double("optimizer.clip_norm", c.clip_norm, 0.0, 1e30);

  c.train_dir = config.get_path("data.train_dir", "");
  c.test_dir = config.get_path("data.test_dir", "");
  c.eval_batch = config.get_int("data.eval_batch", c.eval_batch, 1, 1 << 24);
  c.shuffle_window = config.get_int("data.shuffle_window", c.shuffle_window, 1, int64_t{1} << 32);
  c.prefetch = config.get_int("data.prefetch", c.prefetch, 1, 1024);
  c.prefetch_shards = config.get_int("data.prefetch_shards", c.prefetch_shards, -1, 1024);
  c.prefetch_mb = config.get_double("data.prefetch_mb", c.prefetch_mb, 0.0, 1e7);
  c.on_bad_shard = config.get_choice("data.on_bad_shard", c.on_bad_shard,
                                     {{"stop", BadShardPolicy::kStop}, {"skip", BadShardPolicy::kSkip}});
  c.read_retries = config.get_int("data.read_retries", c.read_retries, 0, 100);
  c.retry_backoff_ms = config.get_int("data.retry_backoff_ms", c.retry_backoff_ms, 0, 600000);
  c.data_timeout_seconds = config.get_double("data.timeout_seconds", c.data_timeout_seconds, 0.0, 1e7);

  c.bucket_mb = config.get_double("comm.bucket_mb", c.bucket_mb, 0.0, 65536.0);
  c.first_bucket_mb = config.get_double("comm.first_bucket_mb", c.first_bucket_mb, 0.0, 65536.0);
  c.overlap = config.get_bool("comm.overlap", c.overlap);
  c.wire = config.get_choice("comm.wire", c.wire, wire_format_names());
  c.hierarchical = config.get_bool("comm.hierarchical", c.hierarchical);
  c.check_every = config.get_int("comm.check_every", c.check_every, 0, INT64_MAX);
  c.timeout_seconds = config.get_double("comm.timeout_seconds", c.timeout_seconds, 0.0, 1e7);
  c.verify_collectives = config.get_bool("comm.verify_collectives", c.verify_collectives);
  c.shared_memory = config.get_bool("comm.shared_memory", c.shared_memory);
  c.nonblocking = config.get_choice("comm.nonblocking", c.nonblocking, started_all_reduces_names());
  c.backend = config.get_choice("comm.backend", c.backend, collective_backend_names());

  c.checkpoint_dir_set = config.has("checkpoint.dir");
  c.checkpoint_dir = config.get_path("checkpoint.dir", "");
  c.checkpoint_every = config.get_int("checkpoint.every", c.checkpoint_every, 0, INT64_MAX);
  c.checkpoint_keep = config.get_int("checkpoint.keep", c.checkpoint_keep, 1, 1000000);
  c.checkpoint_keep_best = config.get_bool("checkpoint.keep_best", c.checkpoint_keep_best);
  c.grace_seconds = config.get_double("checkpoint.grace_seconds", c.grace_seconds, 1.0, 86400.0);
  c.checkpoint_timeout_seconds =
      config.get_double("checkpoint.timeout_seconds", c.checkpoint_timeout_seconds, 0.0, 1e7);

  c.device = parse_device(config.get_string("runtime.device", "cpu", {"cpu", "cuda"}));
  c.threads = config.get_int("runtime.threads", c.threads, 0, 4096);
  c.cpu_blas = config.get_choice("runtime.cpu_blas", c.cpu_blas, kernels::cpu_blas_names());
  using kernels::cuda::MatmulPrecision;
  c.precision = config.get_choice("runtime.precision", c.precision,
                                  {{"fp32", MatmulPrecision::kFp32},
                                   {"tf32", MatmulPrecision::kTf32},
                                   {"bf16", MatmulPrecision::kBf16}});

  c.log_all_ranks = config.get_bool("log.all_ranks", c.log_all_ranks);
  c.log_debug = config.get_string("log.level", "info", {"info", "debug"}) == "debug";
  c.log_every = config.get_int("log.every", c.log_every, 0, INT64_MAX);
  c.run_dir_set = config.has("log.dir");
  c.run_dir = config.get_path("log.dir", "");
  c.progress = config.get_bool("log.progress", c.progress);
  c.report_every_seconds = config.get_double("log.report_every_seconds", c.report_every_seconds, 0.0, 1e7);
  c.progress_every_seconds = config.get_double("log.every_seconds", c.progress_every_seconds, 0.0, 1e6);
  c.metrics_path = config.get_path("log.metrics", "");
  c.timeline_path = config.get_path("log.timeline", "");

  config.reject_unknown_keys();
  c.source = &config;
  if (c.train_dir.empty()) throw Error(fmt::format("config error in {}: data.train_dir is required", config.source()));
  if (c.test_dir.empty()) throw Error(fmt::format("config error in {}: data.test_dir is required", config.source()));
  return c;
}

}  // namespace rt
