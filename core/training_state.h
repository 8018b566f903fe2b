// Where a run stands (step, epoch, position, the epoch's running sums), as a checkpoint stores it
// in state.json, and the checks that a state read back is one a run could have written: a state
// that fails them makes its checkpoint invalid, never a run that starts from nonsense.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace rt {

struct TrainingState {
  int64_t step = 0;           // optimizer steps done
  int64_t epoch = 0;          // the epoch in progress (0-based)
  int64_t step_in_epoch = 0;  // its steps done
  // The epoch's running sums so far, one entry per rank that wrote the checkpoint (so that a
  // resume with as many ranks continues each rank's sum exactly).
  std::vector<double> epoch_loss_sums;
  std::vector<int64_t> epoch_correct;
  std::vector<int64_t> epoch_samples;
  int64_t consecutive_nonfinite = 0;
  int64_t skipped_steps = 0;
  uint64_t config_hash = 0;
  int64_t ranks = 1;
  // The run that wrote it: made when a run starts from scratch, kept by every resume, so that a
  // run prunes only its own checkpoints. Empty in checkpoints that predate it.
  std::string run_id;
  // The evaluation made at this checkpoint's step, if one was: test loss and accuracy, and the
  // score checkpoint.keep_best ranks checkpoints by (higher is better: the accuracy of a
  // classifier, minus the loss of a language model).
  bool evaluated = false;
  double evaluation_loss = 0;
  double evaluation_accuracy = 0;
  double evaluation_score = 0;
  // The model's description (JSON: kind and shape), so that a checkpoint alone can rebuild it
  // (`ringtrain generate`); empty in checkpoints that predate it.
  std::string model;
};

std::string serialize_state(const TrainingState& state);
// Parses and validates; throws rt::Error naming `source` and the key that is missing, of the
// wrong type or out of range.
TrainingState parse_state(const std::string& text, const std::string& source);

// A fresh run's id: 16 hex digits, from the clock and the system's random device.
std::string new_run_id();

}  // namespace rt
