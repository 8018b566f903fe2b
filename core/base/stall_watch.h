// A bound on waits that may block in the kernel for ever (a read from or a write to a mount whose
// storage has stopped answering), where no exception can reach the waiting thread: one thread, for
// the watch's life, looks ten times a second; a wait marked with Scope that lasts longer than the
// bound has `on_stall` called on that thread (it names what stalled and ends the job). A Scope
// costs two atomic stores, cheap enough around every batch. 0 seconds: no bound, no thread.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>

namespace rt {

class StallWatch {
 public:
  StallWatch(double seconds, std::function<void()> on_stall);
  ~StallWatch();
  StallWatch(const StallWatch&) = delete;
  StallWatch& operator=(const StallWatch&) = delete;

  // Marks the wait it lives through (scopes do not nest).
  class Scope {
   public:
    explicit Scope(StallWatch& watch);
    ~Scope();
    Scope(const Scope&) = delete;
    Scope& operator=(const Scope&) = delete;

   private:
    StallWatch& watch_;
  };

 private:
  void watch();
  using Clock = std::chrono::steady_clock;

  const double seconds_;
  const std::function<void()> on_stall_;
  std::atomic<int64_t> waiting_since_{0};  // Clock ticks; 0: no wait under way
  std::mutex mutex_;
  std::condition_variable stopping_;
  bool stop_ = false;
  std::thread watcher_;
};

}  // namespace rt
