// The communication thread of a gradient synchroniser: starts the buckets of a step in order, as
// they are made available, calling `start(index)` for each on its own thread. Without `finished`,
// a bucket is done when start returns. With it, start may return while the bucket is still under
// way (a non-blocking all-reduce): the thread then asks `finished()` how many of the step's
// buckets are done (in order), every kSumPollInterval, asleep in between (the core is backward's),
// and starts new buckets as soon as they come; once wait_all() is called, backward is over and
// the thread looks without sleeping (yielding), so that the last buckets finish as soon as the
// network allows. After a failure the step's remaining buckets are skipped, and wait_all()
// rethrows it.
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
  // finished(eager): eager once wait_all() has been called (the thread then looks without sleeping).
  explicit BucketWorker(std::function<void(size_t)> start, std::function<size_t(bool)> finished = nullptr);
  ~BucketWorker();
  BucketWorker(const BucketWorker&) = delete;
  BucketWorker& operator=(const BucketWorker&) = delete;

  // Buckets [0, count) of this step may be started (count only grows within a step).
  void make_available(size_t count);
  // Waits until `total` buckets are done, starts the next step, and rethrows the first failure of
  // this one.
  void wait_all(size_t total);

 private:
  void run();

  std::function<void(size_t)> start_;
  std::function<size_t(bool)> finished_;
  std::mutex mutex_;
  std::condition_variable changed_;
  size_t available_ = 0;  // buckets that may be started this step
  size_t started_ = 0;    // buckets started this step
  size_t completed_ = 0;  // buckets done (or skipped after a failure) this step
  bool stopping_ = false;
  bool waited_for_ = false;  // wait_all() has been called this step
  std::exception_ptr failure_;
  std::thread thread_;  // last: started once everything it uses is constructed
};

}  // namespace rt
