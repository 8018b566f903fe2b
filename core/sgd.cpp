#include "core/sgd.h"

#include <cmath>

#include "kernels/kernels.h"

namespace rt {

Sgd::Sgd(Span<float> parameters, Span<float> gradients, SgdOptions options, Device device)
    : parameters_(parameters), gradients_(gradients), options_(options), device_(device) {
  RT_CHECK(parameters.size() == gradients.size(), "optimizer: {} parameters but {} gradients", parameters.size(),
           gradients.size());
  velocity_ = Tensor::zeros({static_cast<int64_t>(parameters.size())}, DType::kFloat32, device);
}

float scheduled_lr(const std::string& schedule, float lr, int64_t step, int64_t steps) {
  if (schedule == "constant") return lr;
  RT_CHECK(schedule == "cosine", "unknown learning-rate schedule \"{}\"", schedule);
  RT_CHECK(steps > 0 && step >= 0 && step < steps, "step {} outside a schedule of {} steps", step, steps);
  const double pi = 3.14159265358979323846;
  return static_cast<float>(lr * 0.5 * (1.0 + std::cos(pi * static_cast<double>(step) / static_cast<double>(steps))));
}

void Sgd::step() {
  kernels::sgd_momentum(device_, parameters_.data(), gradients_.data(), velocity_.data<float>(),
                        static_cast<int64_t>(parameters_.size()), options_.lr, options_.momentum,
                        options_.weight_decay);
}

}  // namespace rt
