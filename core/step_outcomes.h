// Whether each step's summed gradients were finite, where the optimizer needs it (to skip the
// update) and where the trainer counts it (skipped steps; too many in a row stop the job).
//
// On the CPU the gradient synchroniser has checked the sums (SumCheck::kFinite / kNonFinite):
// the outcome is counted at once. On the GPU a kernel checks them on the compute stream, the
// optimizer skips its update on the device's flag, and the host learns the outcome a step later
// (two slots in flight), so that it queues the next step instead of waiting for this one.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>

#include "comm/gradient_synchronizer.h"
#include "core/base/device.h"
#include "core/base/span.h"

namespace rt {

class StepOutcomes {
 public:
  // Told each step's outcome once, oldest first.
  using Account = std::function<void(int64_t step, bool finite)>;
  virtual ~StepOutcomes() = default;
  // Before the update of a step whose sums are `check`: the flag the optimizer skips on (device
  // memory, after queuing the check of `gradients`), or null where the host knows already.
  virtual const uint32_t* check(SumCheck check, Span<float> gradients) = 0;
  // After the update (or its skip) of `step`: counted now, or once its flag reaches the host.
  virtual void record(int64_t step, SumCheck check) = 0;
  // Counts every outcome not yet counted, waiting for those in flight.
  virtual void resolve() = 0;
};

// `compute_stream`: the GPU's cudaStream_t the steps run on (ignored on the CPU).
std::unique_ptr<StepOutcomes> make_step_outcomes(Device device, void* compute_stream, StepOutcomes::Account account);

}  // namespace rt
