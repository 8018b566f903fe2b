#include "core/step_outcomes.h"

#include <utility>
#include <vector>

#include "kernels/cuda/cuda_kernels.h"
#include "kernels/cuda/device_buffer.h"
#include "kernels/cuda/stream.h"

namespace rt {

namespace {

class HostStepOutcomes final : public StepOutcomes {
 public:
  explicit HostStepOutcomes(Account account) : account_(std::move(account)) {}
  const uint32_t* check(SumCheck, Span<float>) override { return nullptr; }
  void record(int64_t step, SumCheck check) override {
    RT_CHECK(check != SumCheck::kOnDevice, "a host step's sums must be checked on the host");
    account_(step, check == SumCheck::kFinite);
  }
  void resolve() override {}

 private:
  Account account_;
};

class DeviceStepOutcomes final : public StepOutcomes {
 public:
  DeviceStepOutcomes(void* stream, Account account)
      : stream_(stream), account_(std::move(account)), flag_(1), copies_(2), arrived_(2) {}

  const uint32_t* check(SumCheck, Span<float> gradients) override {
    kernels::cuda::nonfinite_flag(gradients.data(), static_cast<int64_t>(gradients.size()), flag_.data());
    return flag_.data();
  }

  void record(int64_t step, SumCheck) override {
    const int slot = static_cast<int>(step % 2);
    kernels::cuda::copy_async(copies_.data() + slot, flag_.data(), sizeof(uint32_t), stream_);
    arrived_[slot].record(stream_);
    pending_[slot] = step;
  }

  void resolve() override {
    // Oldest first: the slots hold consecutive steps.
    int order[2] = {0, 1};
    if (pending_[1] >= 0 && (pending_[0] < 0 || pending_[1] < pending_[0])) std::swap(order[0], order[1]);
    for (int slot : order) {
      if (pending_[slot] < 0) continue;
      arrived_[slot].synchronize();
      const int64_t step = pending_[slot];
      pending_[slot] = -1;
      account_(step, copies_.data()[slot] == 0);
    }
  }

 private:
  void* stream_;
  Account account_;
  kernels::cuda::DeviceBuffer<uint32_t> flag_;   // non-zero: this step's sums hold NaN or infinity
  kernels::cuda::PinnedBuffer<uint32_t> copies_;  // the flags of the two steps in flight
  std::vector<kernels::cuda::Event> arrived_;     // their copies reached the host
  int64_t pending_[2] = {-1, -1};                 // the step each slot holds (-1: none)
};

}  // namespace

std::unique_ptr<StepOutcomes> make_step_outcomes(Device device, void* compute_stream, StepOutcomes::Account account) {
  if (device == Device::kCpu) return std::make_unique<HostStepOutcomes>(std::move(account));
  return std::make_unique<DeviceStepOutcomes>(compute_stream, std::move(account));
}

}  // namespace rt
