// The trainer's step: micro-batches forward, loss and backward, the gradients' sum, the update.
#include "core/trainer.h"

#include "comm/consistency.h"
#include "core/base/logging.h"
#include "core/base/random.h"
#include "core/base/termination.h"
#include "core/models.h"
#include "kernels/kernels.h"

namespace rt {

bool Trainer::train_epoch(EpochMetrics& metrics) {
  const int64_t epoch = state_.epoch;
  metrics.epoch = epoch + 1;
  // This rank's running sums of the epoch: loss, correct, samples (restored when resuming).
  std::vector<double> sums(3, 0.0);
  if (static_cast<int64_t>(state_.epoch_loss_sums.size()) == comm_.size()) {
    sums = {state_.epoch_loss_sums[comm_.rank()], static_cast<double>(state_.epoch_correct[comm_.rank()]),
            static_cast<double>(state_.epoch_samples[comm_.rank()])};
  } else if (!state_.epoch_loss_sums.empty() && comm_.rank() == 0) {  // written by another rank count: rank 0 carries them
    for (size_t r = 0; r < state_.epoch_loss_sums.size(); ++r) {
      sums[0] += state_.epoch_loss_sums[r];
      sums[1] += static_cast<double>(state_.epoch_correct[r]);
      sums[2] += static_cast<double>(state_.epoch_samples[r]);
    }
  }
  state_.epoch_loss_sums.clear();
  state_.epoch_correct.clear();
  state_.epoch_samples.clear();
  const int64_t classes = model_->output_features();
  const int64_t total_steps = planned_steps();
  metrics.regression = config_.regression;
  Clock::time_point start = Clock::now();

  waiting_for_ = train_loader_.get();
  {
    StallWatch::Scope watched(*data_watch_);
    train_batches_->start_epoch(epoch, state_.step_in_epoch * config_.accumulate);
  }
  step_meter_.start(state_.step, LossSums{sums[0], sums[1], sums[2]});
  float lr = 0;
  while (state_.step_in_epoch < steps_per_epoch_ && !steps_done()) {
    const Clock::time_point step_start = Clock::now();
    double step_data_wait = 0, step_gradient_wait = 0;
    for (int64_t micro = 0; micro < config_.accumulate; ++micro) {
      const bool last = micro + 1 == config_.accumulate;
      Clock::time_point wait_start = Clock::now();
      const DeviceBatch* batch;
      {
        TimelineScope scope(&timeline_, TimelineLane::kData, "data wait");
        StallWatch::Scope watched(*data_watch_);
        batch = train_batches_->next();
      }
      step_data_wait += seconds_since(wait_start);
      RT_CHECK(batch != nullptr, "the loader ended the epoch early, at step {} of {}", state_.step_in_epoch,
               steps_per_epoch_);

      // Dropout's masks: from the seed, this rank, the step and the micro-batch, so a resumed run
      // draws the masks an uninterrupted one would.
      model_->set_mode(true, Rng(config_.seed ^ 0x6a09e667f3bcc908ULL,
                                 (static_cast<uint64_t>(state_.step) << 20) ^
                                     (static_cast<uint64_t>(comm_.rank()) << 8) ^ static_cast<uint64_t>(micro))
                                 .next_u64());
      const Tensor* logits;
      {
        TimelineScope scope(&timeline_, TimelineLane::kCompute, "forward");
        logits = &model_->forward(batch->features);
      }
      const LossRows loss = loss_rows(*batch);
      if (!config_.regression) {
        kernels::count_correct(config_.device, as_operand(*logits), loss.labels, loss.rows, classes,
                               correct_counter_.data<int64_t>());
      }
      // The gradient of the mean loss over the global batch: the synchroniser's sum over the
      // ranks is then the average, with no extra pass over the arena. A language model's goes
      // where gpt_cross_entropy puts it (over the logits, or in bf16).
      const float grad_scale = 1.0f / static_cast<float>(loss.rows * config_.accumulate * comm_.size());
      const Tensor* grad_logits = logits;
      if (config_.regression) {
        grad_logits = &grad_logits_.ensure(batch->rows, 1, config_.device);
        kernels::squared_error(config_.device, logits->data<float>(), targets_of(loss.labels), loss.rows, grad_scale,
                               grad_logits->data<float>(), loss_counter_.data<double>());
      } else if (context_ > 0) {
        grad_logits = &gpt_cross_entropy(bf16_logit_gradient_, config_.device, *logits, loss.labels, grad_scale,
                                         grad_logits_, loss_counter_.data<double>());
      } else {
        grad_logits = &grad_logits_.ensure(batch->rows, classes, config_.device);
        kernels::softmax_cross_entropy(config_.device, logits->data<float>(), loss.labels, loss.rows, classes,
                                       grad_scale, grad_logits->data<float>(), loss_counter_.data<double>());
      }
      {
        TimelineScope scope(&timeline_, TimelineLane::kCompute, "backward");
        // Only the last micro-batch's backward finishes gradients, so only it starts buckets.
        model_->set_gradients_final_callback(
            last ? std::function<void(size_t)>([this](size_t n) {
              sync_->gradients_ready(n);
            })
                 : nullptr);
        model_->backward(*grad_logits, micro == 0 ? GradientWrite::kOverwrite : GradientWrite::kAccumulate);
      }
      sums[2] += static_cast<double>(loss.rows);
    }
    metrics.data_wait_seconds += step_data_wait;
    lr = scheduled_lr(config_.schedule, config_.lr, state_.step, total_steps, config_.warmup_steps);
    Clock::time_point comm_start = Clock::now();
    SumCheck sums_check;
    {
      TimelineScope scope(&timeline_, TimelineLane::kCompute, "gradient wait");
      sums_check = sync_->wait();
    }
    step_gradient_wait = seconds_since(comm_start);
    apply_update(lr, sums_check);
    ++state_.step;
    ++state_.step_in_epoch;
    ++metrics.steps;
    if (config_.check_every > 0 && state_.step % config_.check_every == 0) {
      check_ranks_identical(fmt::format("step {}", state_.step));
    }
    metrics.communication_seconds += step_gradient_wait;
    const double step_seconds = seconds_since(step_start);
    step_meter_.add_step(step_seconds, step_data_wait, step_gradient_wait);
    progress_->add_step(step_seconds, step_data_wait, step_gradient_wait);
    if (config_.log_every > 0 && state_.step % config_.log_every == 0) write_train_row(sums, lr);
    if (progress_->due()) {
      add_counters(sums);
      progress_->update(state_.step, epoch + 1, lr, LossSums{sums[0], sums[1], sums[2]});
    }
    if (config_.eval_every > 0 && state_.step % config_.eval_every == 0 && state_.step_in_epoch < steps_per_epoch_) {
      EpochMetrics evaluation;
      evaluate(evaluation);
      write_eval_row(evaluation);
    }
    const bool terminating = check_collectives_agree(comm_, termination_requested(), fmt::format("step {}", state_.step));
    // The signal may have reached only some ranks: every rank names the one that came.
    if (terminating) preemption_signal_ = comm_.all_reduce_value<int32_t>(termination_signal(), ReduceOp::kMax);
    const bool scheduled = config_.checkpoint_every > 0 && state_.step % config_.checkpoint_every == 0;
    // checkpoint.keep_best: a checkpoint of each evaluated step, so that the best can be kept.
    const bool evaluated = config_.checkpoint_keep_best && evaluated_step_ == state_.step;
    if (checkpoints_ && (terminating || ((scheduled || evaluated) && state_.step_in_epoch < steps_per_epoch_))) {
      step_outcomes_->resolve();
      if (config_.log_every > 0 && step_meter_.steps() > 0) write_train_row(sums, lr);
      add_counters(sums);
      save_checkpoint(sums, terminating ? preemption_signal_ : 0);
    }
    if (terminating) {
      step_outcomes_->resolve();
      return false;
    }
  }
  step_outcomes_->resolve();
  if (config_.log_every > 0 && step_meter_.steps() > 0) write_train_row(sums, lr);
  add_counters(sums);
  metrics.train_seconds = seconds_since(start);
  if (checkpoints_ && state_.step_in_epoch < steps_per_epoch_) save_checkpoint(sums);  // train.max_steps, mid-epoch

  comm_.all_reduce(Span<double>(sums), ReduceOp::kSum);
  metrics.train_loss = sums[0] / sums[2];
  metrics.train_accuracy = sums[1] / sums[2];
  metrics.samples_per_second = static_cast<double>(metrics.steps * config_.global_batch) / metrics.train_seconds;
  return true;
}

void Trainer::apply_update(float lr, SumCheck sums) {
  // On the GPU the check queues here and the optimizer skips on its flag; the earlier steps'
  // outcomes are counted before this step's number is (AdamW's bias correction counts updates).
  const uint32_t* skip_if_set = step_outcomes_->check(sums, model_->gradients());
  step_outcomes_->resolve();
  if (sums != SumCheck::kNonFinite) {
    TimelineScope scope(&timeline_, TimelineLane::kCompute, "optimizer");
    if (config_.clip_norm > 0) clip_gradients();  // NaN gradients give a NaN norm and stay as they are
    optimizer_->set_lr(lr);
    optimizer_->step(state_.step - state_.skipped_steps + 1, skip_if_set);
  }
  step_outcomes_->record(state_.step, sums);
}

void Trainer::clip_gradients() {
  // After the all-reduce every rank holds the same sums, and the norm is summed in a fixed order,
  // so every rank scales alike.
  Span<float> gradients = model_->gradients();
  const int64_t count = static_cast<int64_t>(gradients.size());
  const double norm = std::sqrt(kernels::sum_of_squares(config_.device, gradients.data(), count));
  if (norm > config_.clip_norm) {
    kernels::scale(config_.device, gradients.data(), count, static_cast<float>(config_.clip_norm / norm));
  }
}

void Trainer::account_step(int64_t step, bool finite) {
  if (finite) {
    state_.consecutive_nonfinite = 0;
    return;
  }
  // Every rank sees the same summed gradients, so every rank skips this step alike.
  ++state_.skipped_steps;
  ++state_.consecutive_nonfinite;
  log_warning("step {}: the gradients hold NaN or infinity; step skipped ({} in a row, {} in all)", step + 1,
              state_.consecutive_nonfinite, state_.skipped_steps);
  RT_CHECK(state_.consecutive_nonfinite < config_.max_nonfinite_steps,
           "{} steps in a row had NaN or infinite gradients (train.max_nonfinite_steps = {}); stopping",
           state_.consecutive_nonfinite, config_.max_nonfinite_steps);
}

Trainer::LossRows Trainer::loss_rows(const DeviceBatch& batch) {
  if (context_ == 0) return {batch.labels, batch.rows};
  // A language model predicts each window's tokens 1..context from those before them.
  const Tensor& targets = targets_.ensure(batch.rows, context_, config_.device, DType::kInt32);
  kernels::next_token_targets(config_.device, batch.features.data<float>(), batch.rows, context_,
                              targets.data<int32_t>());
  return {targets.data<int32_t>(), batch.rows * context_};
}

void Trainer::take_counters(double& loss, double& correct, double* target_sums) {
  double loss_values[3] = {0, 0, 0};
  int64_t correct_value = 0;
  download(config_.device, loss_counter_.data<double>(), loss_values, sizeof loss_values);
  download(config_.device, correct_counter_.data<int64_t>(), &correct_value, sizeof correct_value);
  const double zero_loss[3] = {0, 0, 0};
  const int64_t zero_correct = 0;
  upload(config_.device, zero_loss, loss_counter_.data<double>(), sizeof zero_loss);
  upload(config_.device, &zero_correct, correct_counter_.data<int64_t>(), sizeof zero_correct);
  loss = loss_values[0];
  correct = static_cast<double>(correct_value);
  if (target_sums != nullptr) {
    target_sums[0] = loss_values[1];
    target_sums[1] = loss_values[2];
  }
}

void Trainer::add_counters(std::vector<double>& sums) {
  double loss = 0, correct = 0;
  take_counters(loss, correct);
  sums[0] += loss;
  sums[1] += correct;
}

}  // namespace rt
