// The trainer: data-parallel training of a model over the ranks of a Communicator.
//
// Each step: this rank's batch forward, loss and backward, the gradient arena averaged over the
// ranks with one all-reduce, one optimizer step over the arena. Every rank starts from rank 0's
// parameters and sees the same number of batches, so all ranks stay bitwise identical; at the end
// of each epoch a fingerprint of the parameters is compared across ranks to prove it.
#pragma once

#include <memory>
#include <vector>

#include "comm/communicator.h"
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
  TrainingResult run();
  Model& model() { return *model_; }

 private:
  EpochMetrics train_epoch(int64_t epoch);
  void evaluate(EpochMetrics& metrics);
  uint64_t check_ranks_identical();

  TrainConfig config_;
  Communicator& comm_;
  int64_t local_batch_ = 0;
  std::unique_ptr<Loader> train_loader_;
  std::unique_ptr<Loader> test_loader_;
  std::unique_ptr<Model> model_;
  std::unique_ptr<Sgd> optimizer_;
  ActivationBuffer grad_logits_;
  MetricsLog metrics_log_;
};

}  // namespace rt
