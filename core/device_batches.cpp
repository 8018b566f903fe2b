#include "core/device_batches.h"

#include "kernels/cuda/device_buffer.h"
#include "kernels/cuda/stream.h"

namespace rt {

namespace cuda = kernels::cuda;

struct DeviceBatches::GpuBuffers {
  GpuBuffers(int64_t batch, int64_t feature_size) {
    for (int b = 0; b < 2; ++b) {
      features[b] = cuda::DeviceBuffer<float>(static_cast<size_t>(batch * feature_size));
      labels[b] = cuda::DeviceBuffer<int32_t>(static_cast<size_t>(batch));
      stored[b] = cuda::DeviceBuffer<uint8_t>(static_cast<size_t>(batch * feature_size));
    }
  }
  cuda::Stream copy_stream;
  std::array<cuda::DeviceBuffer<float>, 2> features;
  std::array<cuda::DeviceBuffer<int32_t>, 2> labels;
  std::array<cuda::DeviceBuffer<uint8_t>, 2> stored;  // uint8 features as the loader hands them out
  std::array<int64_t, 2> rows{0, 0};
  std::array<cuda::Event, 2> copied;   // recorded on the copy stream after a buffer is filled
  std::array<cuda::Event, 2> consumed; // recorded on the compute stream after a buffer's last use
};

DeviceBatches::DeviceBatches(Loader& loader, Device device) : loader_(loader), device_(device) {
  if (device_ == Device::kCuda) {
    gpu_ = std::make_unique<GpuBuffers>(loader_.options().batch, loader_.index().layout().feature_size());
  }
}

DeviceBatches::~DeviceBatches() {
  try {
    finish_pending_copy();  // the loader's buffer behind it must not be refilled mid-copy
  } catch (...) {           // a failed copy was reported where it was waited for
  }
}

void DeviceBatches::finish_pending_copy() {
  if (gpu_ && ahead_ >= 0) gpu_->copied[ahead_].synchronize();
}

void DeviceBatches::start_epoch(int64_t epoch, int64_t first_batch) {
  if (!gpu_) return loader_.start_epoch(epoch, first_batch);
  finish_pending_copy();
  if (current_ >= 0) gpu_->consumed[current_].record(cuda::current_stream_handle());
  ahead_ = -1;
  current_ = -1;
  loader_.start_epoch(epoch, first_batch);
  copy_ahead(0);
}

void DeviceBatches::copy_ahead(int buffer) {
  const Batch* batch = loader_.next();
  if (!batch) {
    ahead_ = -1;
    return;
  }
  GpuBuffers& gpu = *gpu_;
  cuda::StreamHandle stream = gpu.copy_stream.handle();
  cuda::stream_wait_event(stream, gpu.consumed[buffer].handle());  // no wait if never recorded
  const int64_t elements = batch->rows * batch->feature_size;
  if (batch->stored) {
    // A quarter of the bytes over the bus; the conversion runs on the copy stream too.
    cuda::copy_async(gpu.stored[buffer].data(), batch->stored, static_cast<size_t>(elements), stream);
    cuda::StreamScope scope(stream);
    cuda::bytes_to_float(gpu.stored[buffer].data(), gpu.features[buffer].data(), elements, batch->scale);
  } else {
    cuda::copy_async(gpu.features[buffer].data(), batch->features, static_cast<size_t>(elements) * sizeof(float),
                     stream);
  }
  cuda::copy_async(gpu.labels[buffer].data(), batch->labels, static_cast<size_t>(batch->rows) * sizeof(int32_t),
                   stream);
  gpu.copied[buffer].record(stream);
  gpu.rows[buffer] = batch->rows;
  ahead_ = buffer;
}

const DeviceBatch* DeviceBatches::next() {
  if (!gpu_) {
    const Batch* batch = loader_.next();
    if (!batch) return nullptr;
    RT_CHECK(batch->features, "on the CPU the loader must hand out float features (LoaderOptions::stored_features)");
    batch_.features = Tensor::view(const_cast<float*>(batch->features), {batch->rows, batch->feature_size});
    batch_.labels = batch->labels;
    batch_.rows = batch->rows;
    return &batch_;
  }
  GpuBuffers& gpu = *gpu_;
  cuda::StreamHandle compute = cuda::current_stream_handle();
  if (current_ >= 0) {
    gpu.consumed[current_].record(compute);  // everything queued so far is all that reads it
    current_ = -1;
  }
  if (ahead_ < 0) return nullptr;
  const int buffer = ahead_;
  cuda::stream_wait_event(compute, gpu.copied[buffer].handle());
  // The loader reuses the buffer this batch was copied from once it is asked for the next one.
  gpu.copied[buffer].synchronize();
  copy_ahead(1 - buffer);
  current_ = buffer;
  const int64_t rows = gpu.rows[buffer];
  batch_.features = Tensor::view(gpu.features[buffer].data(), {rows, loader_.index().layout().feature_size()},
                                 DType::kFloat32, Device::kCuda);
  batch_.labels = gpu.labels[buffer].data();
  batch_.rows = rows;
  return &batch_;
}

}  // namespace rt
