// The trainer's checkpoints: written, resumed from, and the directory claimed for this run.
#include "core/trainer.h"

#include <filesystem>
#include <optional>

#include "core/base/logging.h"
#include "core/model_description.h"

namespace rt {

Span<float> Trainer::on_host(Span<float> values, std::vector<float>& mirror) {
  if (config_.device == Device::kCpu) return values;
  mirror.resize(values.size());
  download(config_.device, values.data(), mirror.data(), values.size() * sizeof(float));
  return Span<float>(mirror);
}

std::vector<float> Trainer::parameters_on_host() {
  std::vector<float> mirror;
  Span<float> values = on_host(model_->parameters(), mirror);
  return std::vector<float>(values.begin(), values.end());
}

std::string Trainer::save_checkpoint(const std::vector<double>& rank_sums, int preemption_signal) {
  // Every rank's running sums of the epoch go into the checkpoint, so a resume continues them.
  std::vector<double> all(3 * static_cast<size_t>(comm_.size()));
  comm_.all_gather(Span<const double>(rank_sums.data(), 3), Span<double>(all));
  TrainingState state = state_;
  state.ranks = comm_.size();
  state.config_hash = config_.config_hash;
  state.model = model_description_;
  if (evaluated_step_ == state_.step) {
    state.evaluated = true;
    state.evaluation_loss = evaluation_.test_loss;
    state.evaluation_accuracy = evaluation_.test_accuracy;
    // Higher is better: a classifier's accuracy, a language model's or a regression's negative loss.
    state.evaluation_score = context_ > 0 || config_.regression ? -evaluation_.test_loss : evaluation_.test_accuracy;
  }
  state.epoch_loss_sums.clear();
  state.epoch_correct.clear();
  state.epoch_samples.clear();
  for (int r = 0; r < comm_.size(); ++r) {
    state.epoch_loss_sums.push_back(all[3 * r]);
    state.epoch_correct.push_back(static_cast<int64_t>(all[3 * r + 1]));
    state.epoch_samples.push_back(static_cast<int64_t>(all[3 * r + 2]));
  }
  std::string path;
  if (comm_.rank() == 0) {
    Span<float> parameters = on_host(model_->parameters(), host_parameters_);
    Span<float> optimizer_state = on_host(optimizer_->state(), host_optimizer_state_);
    StallWatch::Scope watched(*checkpoint_watch_);
    path = checkpoints_->save(state, Span<const float>(parameters.data(), parameters.size()),
                              Span<const float>(optimizer_state.data(), optimizer_state.size()));
    // At once: a launcher that was itself signalled may kill the ranks soon after it relays it.
    if (preemption_signal > 0) checkpoints_->record_preemption(state_.step, preemption_signal, path);
  }
  comm_.barrier();  // committed before any rank goes on (or exits)
  log_info("checkpoint of step {} written to {}{}", state_.step,
           comm_.rank() == 0 ? path : checkpoints_->directory() + " by rank 0",
           state.evaluated ? " (" + evaluation_.test_text() + ")" : std::string());
  last_checkpoint_ = path;
  return path;
}

void Trainer::claim_checkpoint_dir() {
  if (!checkpoints_ || config_.resume == "auto" || comm_.rank() != 0) return;
  namespace fs = std::filesystem;
  if (config_.resume != "none") {
    std::error_code error;
    if (fs::equivalent(CheckpointStore::directory_of(config_.resume), checkpoints_->directory(), error)) {
      return;  // continues that run there
    }
  }
  std::optional<Checkpoint> found = checkpoints_->load_newest();
  RT_CHECK(!found, "checkpoint.dir {} already holds another run's checkpoints (the newest: {}); continue that run with "
           "--resume auto, or give this one a checkpoint.dir of its own", checkpoints_->directory(), found->path);
}

void Trainer::restore() {
  RT_CHECK(checkpoints_ || (config_.resume != "auto"), "--resume auto needs checkpoint.dir in the configuration");
  std::optional<Checkpoint> checkpoint;
  std::string text;
  // A checkpoint whose position this run's data and epochs cannot reach is not this run's (or its
  // state is damaged): skipped by --resume auto, an error with --resume DIR.
  const int64_t samples = train_loader_->index().total_samples();
  const auto fits_this_run = [&](const Checkpoint& c) {
    const TrainingState& s = c.state;
    // Each step takes at least one sample.
    RT_CHECK(s.step <= (s.epoch + 1) * samples, "{}: step {} in epoch {} is more steps than {} training samples can give",
             c.path, s.step, s.epoch + 1, samples);
    RT_CHECK(s.step_in_epoch <= steps_per_epoch_ && s.epoch <= config_.epochs,
             "{}: the checkpoint is at epoch {} step {}, outside this run of {} epochs of {} steps", c.path,
             s.epoch + 1, s.step_in_epoch, config_.epochs, steps_per_epoch_);
  };
  if (comm_.rank() == 0) {
    if (config_.resume == "auto") {
      checkpoint = checkpoints_->load_newest(fits_this_run);
    } else {
      checkpoint = CheckpointStore::load(config_.resume);
      fits_this_run(*checkpoint);
    }
    if (checkpoint) text = serialize_state(checkpoint->state);
  }
  // Rank 0 read it; everyone gets the same: the state as text, then the arenas.
  text = broadcast_text(comm_, text);
  if (text.empty()) {
    log_info("no valid checkpoint in {}: starting from the beginning", checkpoints_->directory());
    return;
  }
  state_ = parse_state(text, "the checkpoint state from rank 0");
  Span<float> parameters = on_host(model_->parameters(), host_parameters_);
  Span<float> optimizer_state = on_host(optimizer_->state(), host_optimizer_state_);
  int64_t sizes[2] = {0, 0};
  if (comm_.rank() == 0) {
    sizes[0] = static_cast<int64_t>(checkpoint->parameters.size());
    sizes[1] = static_cast<int64_t>(checkpoint->optimizer_state.size());
  }
  comm_.broadcast(Span<int64_t>(sizes, 2), 0);
  RT_CHECK(sizes[0] == static_cast<int64_t>(parameters.size()) &&
               sizes[1] == static_cast<int64_t>(optimizer_state.size()),
           "the checkpoint holds {} parameters and {} optimizer values; this model has {} and {}", sizes[0], sizes[1],
           parameters.size(), optimizer_state.size());
  if (comm_.rank() == 0) {
    std::copy(checkpoint->parameters.begin(), checkpoint->parameters.end(), parameters.begin());
    std::copy(checkpoint->optimizer_state.begin(), checkpoint->optimizer_state.end(), optimizer_state.begin());
  }
  comm_.broadcast(parameters, 0);
  comm_.broadcast(optimizer_state, 0);
  upload(config_.device, parameters.data(), model_->parameters().data(), parameters.size() * sizeof(float));
  upload(config_.device, optimizer_state.data(), optimizer_->state().data(),
         optimizer_state.size() * sizeof(float));
  if (state_.config_hash != config_.config_hash) {
    // Key by key, checkpoint -> now, from the configuration the checkpoint's description holds.
    std::string differences = "(the checkpoint does not hold its configuration)";
    if (!state_.model.empty()) {
      try {
        const std::string written = parse_model_description(state_.model, "the checkpoint's model").config;
        if (!written.empty()) {
          differences.clear();
          for (const std::string& line : config_differences(written, config_.config_text)) {
            differences += "\n    " + line;
          }
        }
      } catch (const Error& error) {  // only a message is at stake: the resume goes on
        differences = fmt::format("(its configuration cannot be read: {})", without_source_locations(error.what()));
      }
    }
    log_warning("the checkpoint was written with a different configuration; resuming anyway. Checkpoint -> now:{}",
                differences);
  }
  if (state_.ranks != comm_.size()) {
    log_warning("the checkpoint was written by {} ranks, resuming with {}: the rest of this epoch reads a different "
                "split of the data than an uninterrupted run would", state_.ranks, comm_.size());
  }
  log_info("resumed from {}: step {}, epoch {}, step {} of {} in the epoch",
           comm_.rank() == 0 ? checkpoint->path : std::string("rank 0's checkpoint"), state_.step, state_.epoch + 1,
           state_.step_in_epoch, steps_per_epoch_);
}

}  // namespace rt
