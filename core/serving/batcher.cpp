#include "core/serving/batcher.h"

#include <algorithm>

namespace rt {

Batcher::Batcher(ModelSlot& models, int64_t max_batch, int64_t max_delay_us, std::function<void(int64_t)> on_batch)
    : models_(models),
      max_batch_(std::max<int64_t>(max_batch, 1)),
      max_delay_(std::max<int64_t>(max_delay_us, 0)),
      on_batch_(std::move(on_batch)),
      worker_([this] { work(); }) {}

Batcher::~Batcher() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  changed_.notify_all();
  worker_.join();
}

std::future<Scores> Batcher::submit(std::vector<float> values, int64_t rows) {
  Request request;
  request.values = std::move(values);
  request.rows = rows;
  request.arrived = std::chrono::steady_clock::now();
  std::future<Scores> answer = request.answer.get_future();
  {
    std::lock_guard<std::mutex> lock(mutex_);
    queued_rows_ += rows;
    queue_.push_back(std::move(request));
  }
  changed_.notify_all();
  return answer;
}

int64_t Batcher::queued_rows() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return queued_rows_;
}

void Batcher::work() {
  std::vector<Request> batch;
  for (;;) {
    {
      std::unique_lock<std::mutex> lock(mutex_);
      changed_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping, and every request answered
      // More rows may come until the oldest request has waited max_delay (unless stopping).
      const auto deadline = queue_.front().arrived + max_delay_;
      changed_.wait_until(lock, deadline, [this] { return stopping_ || queued_rows_ >= max_batch_; });
      int64_t rows = 0;
      while (!queue_.empty() && (batch.empty() || rows + queue_.front().rows <= max_batch_)) {
        rows += queue_.front().rows;
        queued_rows_ -= queue_.front().rows;
        batch.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
    }
    score(batch);
    batch.clear();
  }
}

void Batcher::score(std::vector<Request>& batch) {
  try {
    const std::shared_ptr<Predictor> predictor = models_.current();
    const int64_t size = predictor->input_size(), classes = predictor->classes();
    int64_t rows = 0;
    for (const Request& request : batch) rows += request.rows;
    const float* values = batch.front().values.data();
    if (batch.size() > 1) {  // one buffer for the pass
      joined_.clear();
      for (const Request& request : batch) joined_.insert(joined_.end(), request.values.begin(), request.values.end());
      values = joined_.data();
    }
    if (on_batch_) on_batch_(rows);
    Scores all = predictor->score(Span<const float>(values, static_cast<size_t>(rows * size)), rows);
    int64_t first = 0;
    for (Request& request : batch) {
      Scores mine;
      mine.step = all.step;
      mine.rows = request.rows;
      mine.classes = classes;
      mine.regression = all.regression;
      if (all.regression) {
        mine.values.assign(all.values.begin() + first, all.values.begin() + first + request.rows);
      } else {
        mine.predicted.assign(all.predicted.begin() + first, all.predicted.begin() + first + request.rows);
        mine.probabilities.assign(all.probabilities.begin() + first * classes,
                                  all.probabilities.begin() + (first + request.rows) * classes);
      }
      mine.logits.assign(all.logits.begin() + first * classes, all.logits.begin() + (first + request.rows) * classes);
      first += request.rows;
      request.answer.set_value(std::move(mine));
    }
  } catch (...) {
    for (Request& request : batch) request.answer.set_exception(std::current_exception());
  }
}

}  // namespace rt
