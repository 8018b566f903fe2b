// A typed view of contiguous elements (std::span arrives with C++20). Sizes count elements,
// never bytes: size_bytes() is the only place that multiplies by the element size.
#pragma once

#include <cstddef>
#include <vector>

namespace rt {

template <typename T>
class Span {
 public:
  Span() = default;
  Span(T* data, size_t size) : data_(data), size_(size) {}
  template <typename U>
  Span(std::vector<U>& vector) : data_(vector.data()), size_(vector.size()) {}
  template <typename U>
  Span(const std::vector<U>& vector) : data_(vector.data()), size_(vector.size()) {}

  T* data() const { return data_; }
  size_t size() const { return size_; }
  size_t size_bytes() const { return size_ * sizeof(T); }
  bool empty() const { return size_ == 0; }
  T& operator[](size_t i) const { return data_[i]; }
  T* begin() const { return data_; }
  T* end() const { return data_ + size_; }
  Span subspan(size_t offset, size_t count) const { return Span(data_ + offset, count); }

 private:
  T* data_ = nullptr;
  size_t size_ = 0;
};

}  // namespace rt
