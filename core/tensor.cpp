#include "core/tensor.h"

#include <cstdlib>
#include <cstring>

namespace rt {

int64_t shape_elements(const Shape& shape) {
  int64_t elements = 1;
  for (int64_t extent : shape) elements *= extent;
  return elements;
}

std::string shape_text(const Shape& shape) { return fmt::format("[{}]", fmt::join(shape, ", ")); }

Tensor Tensor::zeros(const Shape& shape, DType dtype, Device device) {
  RT_CHECK(device == Device::kCpu, "tensors on {} need a build with CUDA", device_name(device));
  for (int64_t extent : shape) RT_CHECK(extent >= 0, "tensor shape {} has a negative extent", shape_text(shape));
  size_t bytes = static_cast<size_t>(shape_elements(shape)) * dtype_size(dtype);
  size_t rounded = (bytes + 63) / 64 * 64;
  void* memory = std::aligned_alloc(64, rounded == 0 ? 64 : rounded);
  RT_CHECK(memory != nullptr, "cannot allocate {} bytes for a tensor of shape {}", bytes, shape_text(shape));
  std::memset(memory, 0, rounded);
  Tensor tensor;
  tensor.storage_ = std::shared_ptr<void>(memory, std::free);
  tensor.data_ = memory;
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

const Tensor& ActivationBuffer::ensure(int64_t rows, int64_t columns, Device device) {
  if (!storage_.defined() || storage_.dim(0) < rows || storage_.dim(1) != columns || storage_.device() != device) {
    storage_ = Tensor::zeros({rows, columns}, DType::kFloat32, device);
  }
  view_ = storage_.first_rows(rows);
  return view_;
}

}  // namespace rt
