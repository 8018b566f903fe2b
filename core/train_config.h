// The keys of `ringtrain train`'s configuration (docs/configuration.md lists them), read and
// validated from a Config.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "comm/communicator.h"
#include "comm/gradient_synchronizer.h"
#include "core/base/config.h"
#include "core/base/device.h"
#include "core/optimizer.h"
#include "data/shard_index.h"
#include "kernels/kernels.h"
#include "kernels/cuda/cuda_kernels.h"
#include "kernels/kernels.h"

namespace rt {

struct TrainConfig {
  // [model]
  std::string model_kind = "mlp";
  bool regression = false;                      // model.task = "regression": mean squared error on float targets
  std::vector<int64_t> hidden = {512, 256};     // mlp: hidden widths; cnn: the fully connected layers
  std::vector<int64_t> channels = {32, 64};     // cnn: a 3x3 convolution, ReLU and 2x2 max pool per entry
  std::string activation = "relu";              // mlp: "relu" or "gelu"
  bool layer_norm = false;                      // mlp: LayerNorm after each hidden Linear
  double dropout = 0.0;                         // mlp: dropout probability after each hidden activation
  // gpt (context and vocabulary come from the token shards)
  int64_t layers = 4;
  int64_t heads = 4;
  int64_t width = 128;
  bool tie_embeddings = true;
  // GPU: none ("auto": tensor_core with bf16 products where the GPU has them, else fused), fused
  // (flash-style kernels), tensor_core (the same on tensor cores) or plain (the T x T reference)
  std::optional<kernels::AttentionAlgorithm> attention;
  // [train]
  int64_t epochs = 10;
  int64_t max_steps = 0;   // > 0: training ends after this many optimizer steps (mid-epoch if so)
  int64_t global_batch = 128;
  uint64_t seed = 1;
  int64_t accumulate = 1;  // micro-batches per optimizer step; gradients are communicated after the last
  int64_t eval_every = 0;  // > 0: also evaluate on the test data every this many steps
  int64_t max_nonfinite_steps = 5;  // steps in a row with NaN/Inf gradients (each skipped) before the job stops
  // [optimizer]
  std::string optimizer = "sgd";  // or "adamw"
  float lr = 0.05f;
  float momentum = 0.9f;       // sgd
  float weight_decay = 0.0f;   // sgd: L2 added to the gradient; adamw: decoupled (default 0.01)
  float beta1 = 0.9f, beta2 = 0.999f, eps = 1e-8f;  // adamw
  LrSchedule schedule = LrSchedule::kConstant;  // cosine: lr * (1 + cos(pi * t)) / 2; linear: lr * (1 - t), t from 0 to 1
  int64_t warmup_steps = 0;    // linear warmup from lr / warmup to lr before the schedule
  double clip_norm = 0;        // > 0: the summed gradients are scaled to at most this L2 norm
  // [data]
  std::string train_dir;
  std::string test_dir;
  int64_t eval_batch = 1000;  // per rank
  int64_t shuffle_window = 16384;
  int64_t prefetch = 4;
  int64_t prefetch_shards = -1;    // whole shards read ahead in large reads (0: read chunk by chunk; -1: auto)
  double prefetch_mb = 1024;       // their memory budget per rank (one shard is always allowed)
  BadShardPolicy on_bad_shard = BadShardPolicy::kStop;  // kSkip: leave shards that fail their checks out, on every rank alike
  int64_t read_retries = 3;
  int64_t retry_backoff_ms = 100;
  double data_timeout_seconds = 600;        // no batch for this long ends the job, naming the shard being read
  // [comm]
  double bucket_mb = 25.0;      // 0: one bucket for the whole arena
  double first_bucket_mb = 1.0;
  bool overlap = true;          // all-reduce buckets during backward, on a communication thread
  WireFormat wire = WireFormat::kFloat32;  // bf16 / fp16: 16-bit gradients on the wire
  bool hierarchical = false;    // reduce in node, all-reduce across node leaders, broadcast in node
  int64_t check_every = 1000;   // steps between cross-rank parameter checks (also at start and epoch ends)
  double timeout_seconds = 300; // a collective waiting longer ends the job, naming the ranks that did not arrive
  bool verify_collectives = true;  // ranks compare each collective's header before any data moves
  bool shared_memory = true;  // every rank on one machine: float sums through a shared-memory window
  // "on": gradient buckets are non-blocking all-reduces, started as soon as they are final and
  // looked after by a thread that sleeps between looks while backward runs; "off": one blocking
  // all-reduce after another; "auto": on where each rank has a machine to itself (and not
  // hierarchical), off where ranks share a machine.
  CommunicatorOptions::StartedAllReduces nonblocking = CommunicatorOptions::StartedAllReduces::kAuto;
  // GPU gradients: "nccl"; "mpi" (staged through page-locked host memory); "auto": NCCL when the
  // build has it and each rank of a host has a GPU of its own, else MPI. CPU gradients always use MPI.
  CollectiveBackend backend = CollectiveBackend::kAuto;
  // [checkpoint]
  std::string checkpoint_dir;      // empty: no checkpoints; not set: DIR/checkpoints of the run directory
  bool checkpoint_dir_set = false; // given in the file or by --set (else it follows the run directory)
  int64_t checkpoint_every = 0;    // steps between checkpoints; 0: only at epoch ends and on SIGTERM
  int64_t checkpoint_keep = 3;
  bool checkpoint_keep_best = false;  // also keep the checkpoint of the best evaluation (and write one at each)
  double grace_seconds = 30;       // after SIGTERM, the process ends within this even if unfinished
  double checkpoint_timeout_seconds = 600;  // a checkpoint write not done in this ends the job, naming the file
  // Not from the file: the command line's --resume ("none", "auto" or a checkpoint directory),
  // and a hash of the effective configuration, stored in checkpoints.
  std::string resume = "none";
  uint64_t config_hash = 0;
  std::string config_text;  // the configuration as resolved (TOML), kept in checkpoints
  // [runtime]
  Device device = Device::kCpu;
  int64_t threads = 0;  // 0: the machine's cores shared among its ranks
  kernels::CpuBlas cpu_blas = kernels::CpuBlas::kEigen;  // the CPU products' library
  // CUDA matrix products: fp32; tf32 or bf16: tensor cores with inputs rounded to 10 or 8
  // mantissa bits, fp32 accumulation; weights, optimizer state, activations and loss stay fp32
  kernels::cuda::MatmulPrecision precision = kernels::cuda::MatmulPrecision::kFp32;
  // [log]
  // The run directory (run_directory.h): config, metrics, per-rank logs. Not set: runs/<config
  // name>-<UTC time> (or the run --resume continues); set to "": none.
  std::string run_dir;
  bool run_dir_set = false;
  std::string config_name = "run";  // the configuration file's name without extension
  bool log_all_ranks = false;
  bool log_debug = false;  // log.level = "debug": errors with their source location
  int64_t log_every = 50;  // steps between metrics rows; 0: per epoch only
  double progress_every_seconds = 30;  // progress lines where the output is not a terminal
  bool progress = true;    // rank 0's progress (redrawn on a terminal, plain lines elsewhere)
  std::string metrics_path;  // JSON lines written by rank 0 (default: the run directory's metrics.jsonl)
  double report_every_seconds = 60;  // rank 0 refreshes the run directory's report.html (0: at the end only)
  std::string timeline_path;  // Chrome trace per rank (".rank<r>" is put before the extension)

  // The configuration these were read from, where a model or optimizer of a program's own
  // (model_registry.h) reads its keys when the trainer builds it; valid until then. Null: the
  // trainer reads config_text.
  Config* source = nullptr;
};

// Reads every key (with its range) and rejects unknown ones; the [model] or [optimizer] keys of a
// kind that a program registered are checked once its factory has read them.
TrainConfig read_train_config(Config& config);

}  // namespace rt
