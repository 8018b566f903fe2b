// Owning buffers of T on the GPU (DeviceBuffer) and in page-locked host memory (PinnedBuffer):
// allocated on construction, freed on destruction (which never throws), movable, not copyable.
// Sizes count elements.
#pragma once

#include <utility>
#include <vector>

#include "kernels/cuda/cuda_kernels.h"

namespace rt::kernels::cuda {

template <typename T>
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  explicit DeviceBuffer(size_t count) : data_(static_cast<T*>(allocate(count * sizeof(T)))), count_(count) {}
  explicit DeviceBuffer(const std::vector<T>& host) : DeviceBuffer(host.size()) { upload(host); }
  ~DeviceBuffer() { release(data_); }
  DeviceBuffer(DeviceBuffer&& other) noexcept
      : data_(std::exchange(other.data_, nullptr)), count_(std::exchange(other.count_, 0)) {}
  DeviceBuffer& operator=(DeviceBuffer&& other) noexcept {
    std::swap(data_, other.data_);
    std::swap(count_, other.count_);
    return *this;
  }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;

  T* data() const { return data_; }
  size_t size() const { return count_; }
  void upload(const std::vector<T>& host) { copy_to_device(data_, host.data(), host.size() * sizeof(T)); }
  std::vector<T> download() const {
    std::vector<T> host(count_);
    copy_to_host(host.data(), data_, count_ * sizeof(T));
    return host;
  }
  // All bytes 0xff: NaN for float, so an element a kernel forgets to write shows.
  void poison() { fill_bytes(data_, 0xff, count_ * sizeof(T)); }

 private:
  T* data_ = nullptr;
  size_t count_ = 0;
};

template <typename T>
class PinnedBuffer {
 public:
  PinnedBuffer() = default;
  explicit PinnedBuffer(size_t count) : data_(static_cast<T*>(allocate_pinned(count * sizeof(T)))), count_(count) {}
  ~PinnedBuffer() { release_pinned(data_); }
  PinnedBuffer(PinnedBuffer&& other) noexcept
      : data_(std::exchange(other.data_, nullptr)), count_(std::exchange(other.count_, 0)) {}
  PinnedBuffer& operator=(PinnedBuffer&& other) noexcept {
    std::swap(data_, other.data_);
    std::swap(count_, other.count_);
    return *this;
  }
  PinnedBuffer(const PinnedBuffer&) = delete;
  PinnedBuffer& operator=(const PinnedBuffer&) = delete;

  T* data() const { return data_; }
  size_t size() const { return count_; }

 private:
  T* data_ = nullptr;
  size_t count_ = 0;
};

}  // namespace rt::kernels::cuda
