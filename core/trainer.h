// The trainer: data-parallel training of a model over the ranks of a Communicator.
//
// Each step: `accumulate` micro-batches of this rank forward, loss and backward (gradients added
// up in the arena); during the last backward the gradient synchroniser averages the arena across
// the ranks bucket by bucket as layers finish; then one optimizer step over the arena. Every
// rank starts from rank 0's parameters and sees the same number of batches, so all ranks stay
// bitwise identical; a fingerprint of the parameters is compared across ranks at the start,
// every comm.check_every steps and at the end of each epoch to prove it.
//
// On the GPU (runtime.device = "cuda") the model, its arenas and the optimizer state live on this
// rank's GPU and every kernel runs on the trainer's compute stream; batches are copied in ahead
// (device_batches.h); gradients are summed by NCCL or staged through MPI (gradient_synchronizer.h);
// the non-finite check and the skip happen on the GPU, and the host counts the outcome a step
// later, so it does not wait for each step to finish (step_outcomes.h).
//
// Faults: a step whose summed gradients hold NaN or infinity is skipped by every rank alike;
// SIGTERM finishes the step, writes a checkpoint and returns; a checkpoint (checkpoint.h) resumes
// the run exactly where it stopped: parameters, momentum, step, the data position and the
// epoch's running sums.
//
// Its parts: trainer.cpp (set-up and the run), trainer_step.cpp (the step), trainer_record.cpp
// (evaluation, metrics rows, the report), trainer_checkpoints.cpp (saving and resuming).
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <thread>
#include <vector>

#include "comm/communicator.h"
#include "comm/gradient_synchronizer.h"
#include "core/base/stall_watch.h"
#include "core/base/timeline.h"
#include "core/checkpoint.h"
#include "core/device_batches.h"
#include "core/metrics_log.h"
#include "core/model.h"
#include "core/optimizer.h"
#include "core/progress.h"
#include "core/step_outcomes.h"
#include "core/step_meter.h"
#include "core/train_config.h"
#include "data/loader.h"
#include "kernels/cuda/device_buffer.h"
#include "kernels/cuda/stream.h"

namespace rt {

struct TrainingResult {
  std::vector<EpochMetrics> epochs;  // the epochs completed by this run (a resumed run: from where it resumed)
  uint64_t parameter_fingerprint = 0;
  bool preempted = false;            // stopped by SIGTERM/SIGINT after writing a checkpoint
  int64_t skipped_steps = 0;         // steps skipped for non-finite gradients, over the whole training
  std::string last_checkpoint;       // path of the last checkpoint written, if any
};

class Trainer {
 public:
  Trainer(const TrainConfig& config, Communicator& comm);
  ~Trainer();
  TrainingResult run();
  Model& model() { return *model_; }
  // The parameters as host values (copied from the GPU on a GPU run).
  std::vector<float> parameters_on_host();
  // What sums the gradients: "mpi", "mpi-hierarchical", "nccl", "mpi-staged", or "none" for one rank.
  std::string gradient_transport() const;

 private:
  // Trains the rest of epoch state_.epoch; false when a termination request stopped it early.
  bool train_epoch(EpochMetrics& metrics);
  void evaluate(EpochMetrics& metrics);
  // The metrics rows (rank 0 writes them; the train row is a collective, at the same step on
  // every rank): the steps since the last train row, and an evaluation at this step.
  void write_train_row(std::vector<double>& sums, float lr);
  void write_eval_row(const EpochMetrics& metrics);
  // Rank 0: rewrites the run directory's report.html on a thread of its own when
  // log.report_every_seconds have passed (one refresh at a time), or now, waiting for it (the
  // run's end). A report that cannot be written is a warning, never the end of the run.
  void refresh_report(bool now);
  uint64_t check_ranks_identical(const std::string& when);
  // Refuses (rank 0 throws) a checkpoint.dir that holds valid checkpoints this run does not resume
  // from: its pruning and a later --resume auto would mix the two runs.
  void claim_checkpoint_dir();
  void restore();
  // With `preemption_signal`, rank 0 also leaves the PREEMPTED record the moment it is committed.
  std::string save_checkpoint(const std::vector<double>& rank_sums, int preemption_signal = 0);
  // Counts a step whose summed gradients were finite or not (skipped; too many in a row stop the job).
  void account_step(int64_t step, bool finite);
  // Clipping and the optimizer's update of summed gradients `sums` (step_outcomes.h: skipped
  // where they hold NaN or infinity, on the host at once, on the GPU by the device's flag).
  void apply_update(float lr, SumCheck sums);
  // Scales the summed gradients to L2 norm optimizer.clip_norm when they exceed it.
  void clip_gradients();
  // The loss sum and correct count accumulated on the model's device since the last call, reset.
  // A regression's loss is its summed squared error; `target_sums` (2) gets the sum of its targets
  // and of their squares.
  void take_counters(double& loss, double& correct, double* target_sums = nullptr);
  // Adds them to this rank's running sums of the epoch (loss, correct, samples).
  void add_counters(std::vector<double>& sums);
  // The labels and row count of a batch's loss: the batch's labels, or a language model's next
  // tokens (one row per token).
  struct LossRows {
    const int32_t* labels;
    int64_t rows;
  };
  LossRows loss_rows(const DeviceBatch& batch);
  int64_t planned_steps() const;  // epochs x steps, or train.max_steps when fewer
  bool steps_done() const;        // train.max_steps reached
  // A host view of a span of the model's device memory (the span itself on the CPU).
  Span<float> on_host(Span<float> values, std::vector<float>& mirror);

  using Clock = std::chrono::steady_clock;
  static double seconds_since(Clock::time_point start);

  TrainConfig config_;
  Communicator& comm_;
  // GPU runs: the compute stream (made the thread's kernel stream while the trainer lives).
  std::unique_ptr<kernels::cuda::Stream> compute_stream_;
  std::unique_ptr<kernels::cuda::StreamScope> compute_scope_;
  int64_t micro_batch_ = 0;  // samples per micro-batch on this rank
  int64_t steps_per_epoch_ = 0;
  TrainingState state_;  // step, epoch and position; the epoch's sums live in train_epoch
  std::unique_ptr<CheckpointStore> checkpoints_;
  std::string last_checkpoint_;
  int preemption_signal_ = 0;
  // The last evaluation (its step, -1: none), for the checkpoint written at that step.
  int64_t evaluated_step_ = -1;
  EpochMetrics evaluation_;  // the termination signal that stopped the run, agreed by the ranks
  Timeline timeline_;
  std::unique_ptr<Loader> train_loader_;
  std::unique_ptr<Loader> test_loader_;
  std::unique_ptr<DeviceBatches> train_batches_;
  std::unique_ptr<DeviceBatches> test_batches_;
  std::unique_ptr<Model> model_;
  std::unique_ptr<Optimizer> optimizer_;
  std::unique_ptr<GradientSynchronizer> sync_;
  std::unique_ptr<StepOutcomes> step_outcomes_;
  ActivationBuffer grad_logits_;
  int64_t context_ = 0;          // a language model's tokens per window (0: a classifier)
  bool bf16_logit_gradient_ = false;  // its logits' gradient in bf16 (gpt_cross_entropy)
  ActivationBuffer targets_;     // its next-token targets
  std::string model_description_;  // JSON, stored in checkpoints
  // Loss sum (double) and correct count (int64) accumulated by the loss kernels, on the device.
  Tensor loss_counter_;
  Tensor correct_counter_;
  std::vector<float> host_parameters_;  // GPU runs: host copies for checks and checkpoints
  std::vector<float> host_optimizer_state_;
  MetricsLog metrics_log_;
  StepMeter step_meter_;
  std::unique_ptr<Progress> progress_;
  Clock::time_point last_report_;
  std::thread report_thread_;
  std::atomic<bool> report_running_{false};
  std::atomic<bool> report_failed_{false};
  std::unique_ptr<StallWatch> data_watch_;        // waits for batches (data.timeout_seconds)
  std::atomic<const Loader*> waiting_for_{nullptr};  // the loader those waits are for
  std::unique_ptr<StallWatch> checkpoint_watch_;  // checkpoint writes (checkpoint.timeout_seconds)
};

}  // namespace rt
