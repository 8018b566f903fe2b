#include "comm/bucket_worker.h"

namespace rt {

BucketWorker::BucketWorker(std::function<void(size_t)> process)
    : process_(std::move(process)), thread_([this] { run(); }) {}

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
  make_available(total);
  std::unique_lock<std::mutex> lock(mutex_);
  changed_.wait(lock, [&] { return completed_ == total; });
  available_ = completed_ = 0;
  if (failure_) {
    std::exception_ptr failure = failure_;
    failure_ = nullptr;
    std::rethrow_exception(failure);
  }
}

void BucketWorker::run() {
  for (;;) {
    size_t index = 0;
    bool failed = false;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      changed_.wait(lock, [this] { return stopping_ || completed_ < available_; });
      if (stopping_) return;
      index = completed_;
      failed = failure_ != nullptr;  // after a failure the remaining buckets are skipped
    }
    try {
      if (!failed) process_(index);
    } catch (...) {
      std::lock_guard<std::mutex> lock(mutex_);
      failure_ = std::current_exception();
    }
    {
      std::lock_guard<std::mutex> lock(mutex_);
      ++completed_;
    }
    changed_.notify_all();
  }
}

}  // namespace rt
