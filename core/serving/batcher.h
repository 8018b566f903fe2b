// Dynamic batching: requests that arrive together are scored in one forward pass. A worker takes
// the oldest request, then waits for more until `max_batch` rows are queued or `max_delay_us` have
// passed since that request came, and scores whole requests, up to max_batch rows (a larger
// request goes alone, in passes of max_batch), answering each with its own rows.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <future>
#include <mutex>
#include <thread>
#include <vector>

#include "core/serving/model_slot.h"

namespace rt {

class Batcher {
 public:
  // `on_batch(rows)`: told each pass's size (for metrics).
  Batcher(ModelSlot& models, int64_t max_batch, int64_t max_delay_us, std::function<void(int64_t)> on_batch = {});
  ~Batcher();
  Batcher(const Batcher&) = delete;
  Batcher& operator=(const Batcher&) = delete;

  // `values`: rows x the model's input size, as stored, already checked. All rows of one pass are
  // scored by one model (the slot's current when the pass starts).
  std::future<Scores> submit(std::vector<float> values, int64_t rows);
  int64_t queued_rows() const;

 private:
  struct Request {
    std::vector<float> values;
    int64_t rows = 0;
    std::chrono::steady_clock::time_point arrived;
    std::promise<Scores> answer;
  };
  void work();
  void score(std::vector<Request>& batch);

  ModelSlot& models_;
  const int64_t max_batch_;
  const std::chrono::microseconds max_delay_;
  std::function<void(int64_t)> on_batch_;
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::deque<Request> queue_;
  int64_t queued_rows_ = 0;
  bool stopping_ = false;
  std::vector<float> joined_;  // one pass's rows, kept between passes
  std::thread worker_;
};

}  // namespace rt
