#include "comm/bucket_worker.h"

#include <algorithm>

#include "comm/communicator.h"

namespace rt {

BucketWorker::BucketWorker(std::function<void(size_t)> start, std::function<size_t(bool)> finished)
    : start_(std::move(start)), finished_(std::move(finished)), thread_([this] { run(); }) {}

BucketWorker::~BucketWorker() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  changed_.notify_all();
  thread_.join();
}

void BucketWorker::make_available(size_t count) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (count <= available_) return;
    available_ = count;
  }
  changed_.notify_all();
}

void BucketWorker::wait_all(size_t total) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    waited_for_ = true;
    available_ = std::max(available_, total);
  }
  changed_.notify_all();
  std::unique_lock<std::mutex> lock(mutex_);
  changed_.wait(lock, [&] { return completed_ == total; });
  available_ = started_ = completed_ = 0;
  waited_for_ = false;
  if (failure_) {
    std::exception_ptr failure = failure_;
    failure_ = nullptr;
    std::rethrow_exception(failure);
  }
}

void BucketWorker::run() {
  for (;;) {
    size_t first = 0, end = 0;
    bool failed = false, eager = false;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      auto new_work = [this] { return stopping_ || started_ < available_; };
      if (completed_ < started_ && waited_for_) {
        lock.unlock();
        std::this_thread::yield();  // buckets under way, backward over: look again at once
        lock.lock();
      } else if (completed_ < started_) {
        // Buckets under way during backward: look again soon, or when more are available.
        changed_.wait_for(lock, kSumPollInterval, [&] { return new_work() || waited_for_; });
      } else {
        changed_.wait(lock, new_work);
      }
      if (stopping_) return;
      first = started_;
      end = available_;
      failed = failure_ != nullptr;  // after a failure the remaining buckets are skipped
      eager = waited_for_;
    }
    size_t done = end;
    std::exception_ptr failure;
    if (!failed) {
      try {
        for (size_t index = first; index < end; ++index) start_(index);
        if (finished_) done = finished_(eager);
      } catch (...) {
        failure = std::current_exception();
      }
    }
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (failure && !failure_) failure_ = failure;
      started_ = end;
      completed_ = failure_ ? end : done;  // after a failure, what is under way is abandoned
    }
    changed_.notify_all();
  }
}

}  // namespace rt
