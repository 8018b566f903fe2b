// Owning handles for a CUDA stream and a CUDA event: created on construction, destroyed on
// destruction (which never throws), movable, not copyable. No CUDA header needed.
#pragma once

#include <utility>

#include "kernels/cuda/cuda_kernels.h"

namespace rt::kernels::cuda {

class Stream {
 public:
  Stream() : handle_(create_stream()) {}
  ~Stream() { destroy_stream(handle_); }
  Stream(Stream&& other) noexcept : handle_(std::exchange(other.handle_, nullptr)) {}
  Stream& operator=(Stream&& other) noexcept {
    std::swap(handle_, other.handle_);
    return *this;
  }
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;

  StreamHandle handle() const { return handle_; }
  void synchronize() const { synchronize_stream(handle_); }

 private:
  StreamHandle handle_ = nullptr;
};

class Event {
 public:
  explicit Event(bool timing = false) : handle_(create_event(timing)) {}
  ~Event() { destroy_event(handle_); }
  Event(Event&& other) noexcept : handle_(std::exchange(other.handle_, nullptr)) {}
  Event& operator=(Event&& other) noexcept {
    std::swap(handle_, other.handle_);
    return *this;
  }
  Event(const Event&) = delete;
  Event& operator=(const Event&) = delete;

  EventHandle handle() const { return handle_; }
  void record(StreamHandle stream) const { record_event(handle_, stream); }
  void synchronize() const { synchronize_event(handle_); }

 private:
  EventHandle handle_ = nullptr;
};

// Makes `stream` the calling thread's kernel stream for the scope, and restores the previous one.
class StreamScope {
 public:
  explicit StreamScope(StreamHandle stream) : previous_(current_stream_handle()) { set_current_stream(stream); }
  ~StreamScope() {
    try {
      set_current_stream(previous_);
    } catch (...) {  // restoring a stream that existed before cannot fail in practice
    }
  }
  StreamScope(const StreamScope&) = delete;
  StreamScope& operator=(const StreamScope&) = delete;

 private:
  StreamHandle previous_;
};

}  // namespace rt::kernels::cuda
