#include "core/base/stall_watch.h"

namespace rt {

StallWatch::StallWatch(double seconds, std::function<void()> on_stall)
    : seconds_(seconds), on_stall_(std::move(on_stall)) {
  if (seconds_ > 0) watcher_ = std::thread([this] { watch(); });
}

StallWatch::~StallWatch() {
  if (!watcher_.joinable()) return;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  stopping_.notify_all();
  watcher_.join();
}

void StallWatch::watch() {
  std::unique_lock<std::mutex> lock(mutex_);
  while (!stopping_.wait_for(lock, std::chrono::milliseconds(100), [this] { return stop_; })) {
    const int64_t since = waiting_since_.load(std::memory_order_relaxed);
    if (since == 0) continue;
    const double waited = std::chrono::duration<double>(Clock::now().time_since_epoch() -
                                                        Clock::duration(since)).count();
    if (waited < seconds_) continue;
    lock.unlock();
    on_stall_();
    return;
  }
}

StallWatch::Scope::Scope(StallWatch& watch) : watch_(watch) {
  if (watch_.seconds_ > 0) {
    watch_.waiting_since_.store(Clock::now().time_since_epoch().count(), std::memory_order_relaxed);
  }
}

StallWatch::Scope::~Scope() { watch_.waiting_since_.store(0, std::memory_order_relaxed); }

}  // namespace rt
