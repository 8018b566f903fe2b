// The trainer: data-parallel training of a model over the ranks of a Communicator.
//
// Each step: `accumulate` micro-batches of this rank forward, loss and backward (gradients added
// up in the arena); during the last backward the GradientSynchronizer averages the arena across
// the ranks bucket by bucket as layers finish; then one optimizer step over the arena. Every
// rank starts from rank 0's parameters and sees the same number of batches, so all ranks stay
// bitwise identical; a fingerprint of the parameters is compared across ranks at the start,
// every comm.check_every steps and at the end of each epoch to prove it.
//
// Faults: a step whose summed gradients hold NaN or infinity is skipped by every rank alike;
// SIGTERM finishes the step, writes a checkpoint and returns; a checkpoint (checkpoint.h) resumes
// the run exactly where it stopped: parameters, momentum, step, the data position and the
// epoch's running sums.
#pragma once

#include <memory>
#include <vector>

#include "comm/communicator.h"
#include "comm/gradient_sync.h"
#include "core/base/timeline.h"
#include "core/checkpoint.h"
#include "core/metrics_log.h"
#include "core/model.h"
#include "core/sgd.h"
#include "core/train_config.h"
#include "data/loader.h"

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

 private:
  // Trains the rest of epoch state_.epoch; false when a termination request stopped it early.
  bool train_epoch(EpochMetrics& metrics);
  void evaluate(EpochMetrics& metrics);
  uint64_t check_ranks_identical(const std::string& when);
  void restore();
  std::string save_checkpoint(const std::vector<double>& rank_sums);

  TrainConfig config_;
  Communicator& comm_;
  int64_t micro_batch_ = 0;  // samples per micro-batch on this rank
  int64_t steps_per_epoch_ = 0;
  TrainingState state_;  // step, epoch and position; the epoch's sums live in train_epoch
  std::unique_ptr<CheckpointStore> checkpoints_;
  std::string last_checkpoint_;
  Timeline timeline_;
  std::unique_ptr<Loader> train_loader_;
  std::unique_ptr<Loader> test_loader_;
  std::unique_ptr<Model> model_;
  std::unique_ptr<Sgd> optimizer_;
  std::unique_ptr<GradientSynchronizer> sync_;
  ActivationBuffer grad_logits_;
  MetricsLog metrics_log_;
};

}  // namespace rt
