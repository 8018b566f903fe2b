// Checkpoints: everything a run needs to continue exactly where it stopped.
//
// A checkpoint is a directory DIR/step-NNNNNNNNN holding parameters.f32 and optimizer.f32 (the
// arenas, raw little-endian float32), state.json (step, epoch, position in the epoch, the epoch's
// running sums, the configuration's hash, the rank count), and manifest.json, written last, with
// every file's size and CRC-32. Only a checkpoint whose manifest parses and whose files match it
// is ever loaded: renames are not atomic on blob mounts, so nothing relies on them, and a writer
// killed at any point leaves a directory that is skipped. Rank 0 writes and reads; the trainer
// broadcasts what it read, so a checkpoint written by N ranks resumes with any number.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/base/span.h"

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
  // The model's description (JSON: kind and shape), so that a checkpoint alone can rebuild it
  // (`ringtrain generate`); empty in checkpoints that predate it.
  std::string model;
};

std::string serialize_state(const TrainingState& state);
// `source` names the text in errors.
TrainingState parse_state(const std::string& text, const std::string& source);

struct Checkpoint {
  std::string path;
  TrainingState state;
  std::vector<float> parameters;
  std::vector<float> optimizer_state;
};

class CheckpointStore {
 public:
  // `keep` newest checkpoints are kept; older ones are removed after a new one is committed.
  CheckpointStore(std::string directory, int64_t keep);

  // Writes a checkpoint for state.step and returns its path. Throws naming the file on failure.
  std::string save(const TrainingState& state, Span<const float> parameters, Span<const float> optimizer_state);
  // The newest checkpoint that verifies, loaded; checkpoints that do not verify are skipped with a
  // warning naming them and why. Empty when there is none.
  std::optional<Checkpoint> load_newest() const;
  // Loads one checkpoint directory; throws naming the file and the problem unless it verifies.
  static Checkpoint load(const std::string& path);

  const std::string& directory() const { return directory_; }

 private:
  std::vector<std::string> checkpoint_paths() const;  // newest first
  std::string directory_;
  int64_t keep_;
};

}  // namespace rt
