// The trainer: data-parallel training of a model over the ranks of a Communicator.
//
// Each step: `accumulate` micro-batches of this rank forward, loss and backward (gradients added
// up in the arena); during the last backward the GradientSynchronizer averages the arena across
// the ranks bucket by bucket as layers finish; then one optimizer step over the arena. Every
// rank starts from rank 0's parameters and sees the same number of batches, so all ranks stay
// bitwise identical; a fingerprint of the parameters is compared across ranks at the start,
// every comm.check_every steps and at the end of each epoch to prove it.
#pragma once

#include <memory>
#include <vector>

#include "comm/communicator.h"
#include "comm/gradient_sync.h"
#include "core/base/timeline.h"
#include "core/metrics_log.h"
#include "core/model.h"
#include "core/sgd.h"
#include "core/train_config.h"
#include "data/loader.h"

namespace rt {

struct TrainingResult {
  std::vector<EpochMetrics> epochs;
  uint64_t parameter_fingerprint = 0;
};

class Trainer {
 public:
  Trainer(const TrainConfig& config, Communicator& comm);
  ~Trainer();
  TrainingResult run();
  Model& model() { return *model_; }
  int64_t steps_per_epoch() const { return steps_per_epoch_; }

 private:
  EpochMetrics train_epoch(int64_t epoch);
  void evaluate(EpochMetrics& metrics);
  uint64_t check_ranks_identical(const std::string& when);

  TrainConfig config_;
  Communicator& comm_;
  int64_t micro_batch_ = 0;  // samples per micro-batch on this rank
  int64_t steps_per_epoch_ = 0;
  int64_t step_ = 0;  // optimizer steps so far
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
