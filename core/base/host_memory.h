// Host memory from a chosen allocator: plain (64-byte aligned) by default, or page-locked memory
// from the CUDA runtime, which the GPU copies from asynchronously. The data layer takes an
// allocator without knowing about CUDA; the trainer hands it the pinned one on a GPU run.
#pragma once

#include <cstddef>
#include <cstdlib>
#include <utility>

#include "core/base/check.h"

namespace rt {

struct HostAllocator {
  void* (*allocate)(size_t bytes) = nullptr;
  void (*release)(void* pointer) noexcept = nullptr;
};

inline void* aligned_host_allocate(size_t bytes) {
  void* pointer = std::aligned_alloc(64, (bytes + 63) / 64 * 64 + (bytes == 0 ? 64 : 0));
  RT_CHECK(pointer != nullptr, "cannot allocate {} bytes of host memory", bytes);
  return pointer;
}
inline void aligned_host_release(void* pointer) noexcept { std::free(pointer); }
inline HostAllocator plain_host_allocator() { return {aligned_host_allocate, aligned_host_release}; }

// An owning array of T (uninitialised) from a HostAllocator; movable, not copyable.
template <typename T>
class HostArray {
 public:
  HostArray() = default;
  HostArray(size_t count, HostAllocator allocator)
      : data_(static_cast<T*>(allocator.allocate(count * sizeof(T)))), count_(count), allocator_(allocator) {}
  ~HostArray() {
    if (data_) allocator_.release(data_);
  }
  HostArray(HostArray&& other) noexcept
      : data_(std::exchange(other.data_, nullptr)), count_(std::exchange(other.count_, 0)), allocator_(other.allocator_) {}
  HostArray& operator=(HostArray&& other) noexcept {
    std::swap(data_, other.data_);
    std::swap(count_, other.count_);
    std::swap(allocator_, other.allocator_);
    return *this;
  }
  HostArray(const HostArray&) = delete;
  HostArray& operator=(const HostArray&) = delete;

  T* data() const { return data_; }
  size_t size() const { return count_; }
  T& operator[](size_t i) const { return data_[i]; }

 private:
  T* data_ = nullptr;
  size_t count_ = 0;
  HostAllocator allocator_;
};

}  // namespace rt
