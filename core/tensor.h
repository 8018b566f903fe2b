// A Tensor: shape, dtype, device and storage. It either owns its storage (shared, 64-byte
// aligned) or views memory owned elsewhere: a slice of a model's parameter arena, a loader batch.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/base/check.h"
#include "core/base/device.h"
#include "core/base/dtype.h"
#include "kernels/operand.h"

namespace rt {

using Shape = std::vector<int64_t>;

int64_t shape_elements(const Shape& shape);
std::string shape_text(const Shape& shape);

class Tensor {
 public:
  Tensor() = default;
  // Owning, zero-filled.
  static Tensor zeros(const Shape& shape, DType dtype = DType::kFloat32, Device device = Device::kCpu);
  // Non-owning: `data` must outlive the tensor.
  static Tensor view(void* data, const Shape& shape, DType dtype = DType::kFloat32, Device device = Device::kCpu);

  const Shape& shape() const { return shape_; }
  int64_t dim(size_t i) const { return shape_.at(i); }
  int64_t elements() const { return shape_elements(shape_); }
  DType dtype() const { return dtype_; }
  Device device() const { return device_; }
  bool defined() const { return data_ != nullptr; }

  template <typename T>
  T* data() const {
    RT_CHECK(dtype_of<T>() == dtype_, "tensor of {} accessed as {}", dtype_name(dtype_), dtype_name(dtype_of<T>()));
    return static_cast<T*>(data_);
  }
  // The same storage seen with the first `rows` rows (rows <= dim(0)).
  Tensor first_rows(int64_t rows) const;

 private:
  std::shared_ptr<void> storage_;
  void* data_ = nullptr;
  Shape shape_;
  DType dtype_ = DType::kFloat32;
  Device device_ = Device::kCpu;
};

// A layer's input-gradient buffer, [rows, columns]: taken from a pool of this thread's buffers
// when backward asks for it, and given back (release) once the layer before has read it, so that
// a model's backward holds a few such gradients at a time instead of one per layer. Until it is
// released, asking again reuses it where it is large enough.
class GradientBuffer {
 public:
  GradientBuffer() = default;
  GradientBuffer(const GradientBuffer&) = delete;
  GradientBuffer& operator=(const GradientBuffer&) = delete;
  ~GradientBuffer() { release(); }
  const Tensor& ensure(int64_t rows, int64_t columns, Device device, DType dtype = DType::kFloat32);
  const Tensor& tensor() const { return view_; }
  void release();
  // How many bytes the pools of this thread hold, in use or free, on `device` (for tests).
  static size_t pooled_bytes(Device device);

 private:
  Tensor storage_;  // a pool buffer (bytes) while held
  Tensor view_;
};

// A float32 or bfloat16 tensor as the input of a kernel that takes either (kernels::Operand): a
// matrix product's operand, a GELU's or a residual add's input, the logits of the loss.
kernels::Operand as_operand(const Tensor& tensor);

// Copies `bytes` between host memory and memory on `device` (a plain copy for the CPU); both wait
// for the copy to finish.
void download(Device device, const void* source, void* host, size_t bytes);
void upload(Device device, const void* host, void* destination, size_t bytes);

// A [rows, columns] activation buffer that grows to the largest row count asked for and is reused:
// after the first step of each size, asking again allocates nothing.
class ActivationBuffer {
 public:
  const Tensor& ensure(int64_t rows, int64_t columns, Device device, DType dtype = DType::kFloat32);
  const Tensor& tensor() const { return view_; }

 private:
  Tensor storage_;
  Tensor view_;
};

}  // namespace rt
