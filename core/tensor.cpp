#include "core/tensor.h"

#include <cstring>
#include <vector>

#include "core/base/host_memory.h"
#include "kernels/cuda/cuda_kernels.h"

namespace rt {

int64_t shape_elements(const Shape& shape) {
  int64_t elements = 1;
  for (int64_t extent : shape) elements *= extent;
  return elements;
}

std::string shape_text(const Shape& shape) { return fmt::format("[{}]", fmt::join(shape, ", ")); }

Tensor Tensor::zeros(const Shape& shape, DType dtype, Device device) {
  for (int64_t extent : shape) RT_CHECK(extent >= 0, "tensor shape {} has a negative extent", shape_text(shape));
  size_t bytes = static_cast<size_t>(shape_elements(shape)) * dtype_size(dtype);
  size_t rounded = (bytes + 63) / 64 * 64;
  if (rounded == 0) rounded = 64;
  Tensor tensor;
  if (device == Device::kCpu) {
    void* memory = aligned_host_allocate(rounded);
    std::memset(memory, 0, rounded);
    tensor.storage_ = std::shared_ptr<void>(memory, aligned_host_release);
  } else {
    void* memory = kernels::cuda::allocate(rounded);  // throws, saying so, in a build without CUDA
    tensor.storage_ = std::shared_ptr<void>(memory, kernels::cuda::release);
    kernels::cuda::fill_bytes(memory, 0, rounded);
    kernels::cuda::synchronize();
  }
  tensor.data_ = tensor.storage_.get();
  tensor.shape_ = shape;
  tensor.dtype_ = dtype;
  tensor.device_ = device;
  return tensor;
}

Tensor Tensor::view(void* data, const Shape& shape, DType dtype, Device device) {
  Tensor tensor;
  tensor.data_ = data;
  tensor.shape_ = shape;
  tensor.dtype_ = dtype;
  tensor.device_ = device;
  return tensor;
}

Tensor Tensor::first_rows(int64_t rows) const {
  RT_CHECK(!shape_.empty() && rows >= 0 && rows <= shape_[0], "cannot take {} rows of a tensor of shape {}", rows,
           shape_text(shape_));
  Tensor tensor = *this;
  tensor.shape_[0] = rows;
  return tensor;
}

void download(Device device, const void* source, void* host, size_t bytes) {
  if (device == Device::kCpu) {
    if (bytes > 0 && source != host) std::memcpy(host, source, bytes);
  } else {
    kernels::cuda::copy_to_host(host, source, bytes);
  }
}

void upload(Device device, const void* host, void* destination, size_t bytes) {
  if (device == Device::kCpu) {
    if (bytes > 0 && host != destination) std::memcpy(destination, host, bytes);
  } else {
    kernels::cuda::copy_to_device(destination, host, bytes);
  }
}

const Tensor& ActivationBuffer::ensure(int64_t rows, int64_t columns, Device device, DType dtype) {
  if (!storage_.defined() || storage_.dim(0) < rows || storage_.dim(1) != columns || storage_.device() != device ||
      storage_.dtype() != dtype) {
    storage_ = Tensor::zeros({rows, columns}, dtype, device);
  }
  view_ = storage_.first_rows(rows);
  return view_;
}

namespace {

// Gradient buffers of this thread: every one allocated (on any device) and those free now.
struct GradientPool {
  std::vector<Tensor> all, free;
};
GradientPool& gradient_pool() {
  thread_local GradientPool pool;
  return pool;
}

}  // namespace

const Tensor& GradientBuffer::ensure(int64_t rows, int64_t columns, Device device, DType dtype) {
  RT_CHECK(rows >= 0 && columns >= 0, "a gradient of {} x {}", rows, columns);
  const auto bytes = static_cast<int64_t>(static_cast<size_t>(rows * columns) * dtype_size(dtype));
  if (!storage_.defined() || storage_.elements() < bytes || storage_.device() != device) {
    release();
    // The smallest free buffer that is large enough, else a new one.
    std::vector<Tensor>& free = gradient_pool().free;
    size_t best = free.size();
    for (size_t i = 0; i < free.size(); ++i) {
      if (free[i].device() == device && free[i].elements() >= bytes &&
          (best == free.size() || free[i].elements() < free[best].elements())) {
        best = i;
      }
    }
    if (best < free.size()) {
      storage_ = free[best];
      free.erase(free.begin() + static_cast<std::ptrdiff_t>(best));
    } else {
      storage_ = Tensor::zeros({bytes}, DType::kUInt8, device);
      gradient_pool().all.push_back(storage_);
    }
  }
  view_ = Tensor::view(storage_.data<uint8_t>(), {rows, columns}, dtype, device);
  return view_;
}

void GradientBuffer::release() {
  view_ = Tensor();
  if (!storage_.defined()) return;
  gradient_pool().free.push_back(storage_);
  storage_ = Tensor();
}

size_t GradientBuffer::pooled_bytes(Device device) {
  size_t bytes = 0;
  for (const Tensor& buffer : gradient_pool().all) {
    if (buffer.device() == device) bytes += static_cast<size_t>(buffer.elements());
  }
  return bytes;
}

kernels::Operand as_operand(const Tensor& tensor) {
  if (tensor.dtype() == DType::kBFloat16) return tensor.data<bfloat16>();
  return tensor.data<float>();
}

}  // namespace rt
