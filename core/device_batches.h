// A Loader's batches where the model computes. On the CPU they are the loader's own buffers. On
// the GPU they are copies in device memory, double-buffered: while the step on one buffer runs,
// the next batch is copied from the loader's page-locked buffer into the other on a stream of its
// own, so the copy overlaps the previous step's compute. Features the loader hands out as stored
// bytes (LoaderOptions::stored_features) are copied as bytes and converted to float on the GPU.
//
// Ordering on the GPU: work queued on the calling thread's stream after next() waits for that
// batch's copy (a stream wait, not a host wait), and a buffer is refilled only after everything
// queued on that stream before the following next() is done with it.
#pragma once

#include <array>
#include <cstdint>
#include <memory>

#include "core/tensor.h"
#include "data/loader.h"

namespace rt {

struct DeviceBatch {
  Tensor features;                  // [rows, feature_size] on the device
  const int32_t* labels = nullptr;  // rows, on the device
  int64_t rows = 0;
};

class DeviceBatches {
 public:
  DeviceBatches(Loader& loader, Device device);
  ~DeviceBatches();
  DeviceBatches(const DeviceBatches&) = delete;
  DeviceBatches& operator=(const DeviceBatches&) = delete;

  // As Loader::start_epoch; on the GPU it also starts copying the first batch.
  void start_epoch(int64_t epoch, int64_t first_batch = 0);
  // The next batch, or nullptr when the epoch is done. Valid until the following next() or start_epoch().
  const DeviceBatch* next();

 private:
  struct GpuBuffers;  // the two device buffers, their events and the copy stream
  void copy_ahead(int buffer);
  void finish_pending_copy();

  Loader& loader_;
  Device device_;
  DeviceBatch batch_;
  std::unique_ptr<GpuBuffers> gpu_;
  int ahead_ = -1;    // the buffer holding (or receiving) the batch that next() returns next; -1: none
  int current_ = -1;  // the buffer of the batch next() returned last; -1: none
};

}  // namespace rt
