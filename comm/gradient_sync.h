// Gradient synchronisation of an arena in host memory (gradient_synchronizer.h), over a
// Communicator: every bucket that lies wholly inside the prefix backward has finished
// (gradients_ready) starts its all-reduce at once, on a communication thread, while backward
// goes on. A bucket is a slice of the arena, never a copy (except into the 16-bit wire
// buffer when compressing). wait() returns when every bucket is averaged. Buckets are
// all-reduced in order, so every rank issues the same collectives in the same order.
//
// Where the communicator starts all-reduces without finishing them (ranks on several machines),
// each bucket is started as soon as it is final (the communicator puts them on the wire in turn);
// the communication thread sleeps between looks at which have finished (finishing each: widened
// back from 16 bits, checked), instead of holding a core while the network works. Elsewhere it
// sums bucket after bucket, in cache-sized pieces that are checked while still in cache.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "comm/bucket_worker.h"
#include "comm/communicator.h"
#include "comm/finite.h"
#include "comm/gradient_synchronizer.h"
#include "core/base/timeline.h"

namespace rt {

class HostGradientSynchronizer final : public GradientSynchronizer {
 public:
  HostGradientSynchronizer(Communicator& comm, Span<float> gradients, GradientSyncOptions options,
                           Timeline* timeline = nullptr);
  ~HostGradientSynchronizer() override;
  HostGradientSynchronizer(const HostGradientSynchronizer&) = delete;
  HostGradientSynchronizer& operator=(const HostGradientSynchronizer&) = delete;

  const std::vector<GradientBucket>& buckets() const override { return buckets_; }
  void gradients_ready(size_t ready) override;
  // kFinite or kNonFinite: each bucket is checked right after its all-reduce, while it is still
  // in cache.
  SumCheck wait() override;
  // "none (one rank)", or the communicator's backend.
  std::string transport() const override;

 private:
  void communicate(size_t bucket);
  // Started all-reduces: start a bucket; finish those done, in order, and say how many are.
  void start(size_t bucket);
  size_t finished(bool eager);
  void finish(size_t bucket);
  // Starts summing `values` over the ranks, in 16 bits through `wire` (as many) when compressing,
  // and returns the communicator's ticket; once it is finished, widen_sum() puts a 16-bit sum
  // back into `values` (an fp32 sum is there already).
  uint64_t start_sum(uint16_t* wire, Span<float> values);
  void widen_sum(const uint16_t* wire, Span<float> values);
  // The 16-bit copy from arena element `offset` on (null when not compressing).
  uint16_t* wire_at(size_t offset) { return wire_.empty() ? nullptr : wire_.data() + offset; }
  void launch_up_to(size_t ready);

  Communicator& comm_;
  Span<float> gradients_;
  GradientSyncOptions options_;
  Timeline* timeline_;
  std::vector<GradientBucket> buckets_;
  std::vector<uint16_t> wire_;  // the 16-bit copy of the arena, when compressing
  const bool started_sums_;     // the communicator starts all-reduces without finishing them
  std::vector<uint64_t> tickets_;      // started sums: each bucket's ticket this step
  std::vector<double> started_us_;     // and when it started (timeline)
  size_t started_ = 0, finished_ = 0;  // started sums: buckets started, finished this step

  std::unique_ptr<BucketWorker> worker_;  // the communication thread, when overlapping
  size_t launched_ = 0;                   // buckets handed to it this step
  std::mutex mutex_;
  bool nonfinite_ = false;  // a bucket of this step held NaN or infinity
};

}  // namespace rt
