// Checkpoints: everything a run needs to continue exactly where it stopped.
//
// A checkpoint is a directory DIR/step-NNNNNNNNN holding parameters.f32 and optimizer.f32 (the
// arenas, raw little-endian float32), state.json (training_state.h), and manifest.json, written
// last, with every file's size and CRC-32. A checkpoint is valid only when its manifest parses,
// its files match it, its state is one a run could have written and every value in its arenas is
// finite: renames are not atomic on blob mounts, so nothing relies on them, a writer killed at any
// point leaves a directory that is skipped, and no flipped bit can stop a resume or feed it
// nonsense. Rank 0 writes and reads; the trainer broadcasts what it read, so a checkpoint written
// by N ranks resumes with any number.
//
// Pruning keeps `keep` valid checkpoints of the writing run (its run id), removes its older valid
// ones and invalid directories older than the one just written, and never touches another run's.
#pragma once

#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "core/base/span.h"
#include "core/training_state.h"

namespace rt {

struct Checkpoint {
  std::string path;
  TrainingState state;
  std::vector<float> parameters;
  std::vector<float> optimizer_state;
};

class CheckpointStore {
 public:
  // `keep_best`: beside the `keep` newest, this run's checkpoint with the best evaluation score
  // (TrainingState::evaluation_score) is kept too.
  CheckpointStore(std::string directory, int64_t keep, bool keep_best = false);

  // Writes a checkpoint for state.step, prunes (above) and returns its path. Throws naming the
  // file and the system's reason on failure.
  std::string save(const TrainingState& state, Span<const float> parameters, Span<const float> optimizer_state);
  // The newest valid checkpoint, loaded; invalid ones are skipped with a warning naming them and
  // why. `fits` (optional) throws rt::Error, saying why, for a checkpoint that cannot be this
  // run's (its position outside the run's data or epochs): skipped the same way. Empty when there
  // is none.
  std::optional<Checkpoint> load_newest(const std::function<void(const Checkpoint&)>& fits = {}) const;
  // Loads one checkpoint directory; throws rt::Error naming the file and the problem unless it is
  // valid (never another exception).
  static Checkpoint load(const std::string& path);

  const std::string& directory() const { return directory_; }
  // The checkpoints in `directory` (DIR/step-NNNNNNNNN, valid or not), newest first.
  static std::vector<std::string> checkpoint_paths_in(const std::string& directory);
  // The directory that holds the checkpoint `path` (as --resume names it, a trailing slash or not),
  // absolute.
  static std::string directory_of(const std::string& path);

  // DIR/PREEMPTED: a JSON record (step, UTC time, signal, checkpoint) that the run was stopped by
  // a termination signal after committing `checkpoint`, for whatever relaunches it (mpirun's own
  // exit code cannot say so when mpirun itself is signalled). Removed when a run starts here.
  void record_preemption(int64_t step, int signal, const std::string& checkpoint) const;
  void clear_preemption_record() const;
  std::string preemption_record_path() const { return directory_ + "/PREEMPTED"; }
  // The file save() is writing, or the checkpoint its pruning reads, now (for a watchdog's
  // message; any thread may ask).
  std::string writing() const;

 private:
  struct Verdict {
    bool valid = false;
    std::string run_id;
    bool evaluated = false;
    double score = 0;
  };
  static Verdict verdict_of(const TrainingState& state) {
    return Verdict{true, state.run_id, state.evaluated, state.evaluation_score};
  }
  std::vector<std::string> checkpoint_paths() const { return checkpoint_paths_in(directory_); }
  const Verdict& verdict(const std::string& path) const;
  void prune(const TrainingState& written);

  void set_writing(const std::string& file) const;

  std::string directory_;
  int64_t keep_;
  bool keep_best_;
  mutable std::mutex writing_mutex_;
  mutable std::string writing_;
  // Each checkpoint directory is read in full at most once by this store.
  mutable std::map<std::string, Verdict> verdicts_;
};

}  // namespace rt
