// The communication thread of a gradient synchroniser: works through the buckets of a step in
// order, as they are made available, calling `process(index)` for each on its own thread. After a
// failure the step's remaining buckets are skipped, and wait_all() rethrows it.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>

namespace rt {

class BucketWorker {
 public:
  explicit BucketWorker(std::function<void(size_t)> process);
  ~BucketWorker();
  BucketWorker(const BucketWorker&) = delete;
  BucketWorker& operator=(const BucketWorker&) = delete;

  // Buckets [0, count) of this step may be processed (count only grows within a step).
  void make_available(size_t count);
  // Waits until `total` buckets are processed, starts the next step, and rethrows the first
  // failure of this one.
  void wait_all(size_t total);

 private:
  void run();

  std::function<void(size_t)> process_;
  std::mutex mutex_;
  std::condition_variable changed_;
  size_t available_ = 0;  // buckets that may be processed this step
  size_t completed_ = 0;  // buckets processed (or skipped after a failure) this step
  bool stopping_ = false;
  std::exception_ptr failure_;
  std::thread thread_;  // last: started once everything it uses is constructed
};

}  // namespace rt
