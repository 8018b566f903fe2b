// The phases of a GPU step timed with CUDA events: begin() a step, mark() after each phase (on a
// step that is not timed both do nothing, so the same code runs timed and untimed), and after the
// stream has finished, the milliseconds of each phase.
#pragma once

#include <vector>

#include "kernels/cuda/cuda_kernels.h"
#include "kernels/cuda/stream.h"

namespace rt::bench {

class PhaseClock {
 public:
  PhaseClock(size_t phases, kernels::cuda::StreamHandle stream) : stream_(stream) {
    for (size_t i = 0; i <= phases; ++i) events_.emplace_back(true);
  }
  void begin(bool timed) {
    timed_ = timed;
    next_ = 0;
    mark();
  }
  void mark() {
    if (timed_) events_[next_++].record(stream_);
  }
  double milliseconds(size_t phase) const {
    return kernels::cuda::elapsed_milliseconds(events_[phase].handle(), events_[phase + 1].handle());
  }

 private:
  kernels::cuda::StreamHandle stream_;
  std::vector<kernels::cuda::Event> events_;
  bool timed_ = false;
  size_t next_ = 0;
};

}  // namespace rt::bench
