#include "core/adamw.h"

#include "kernels/kernels.h"

namespace rt {

AdamW::AdamW(Span<float> parameters, Span<float> gradients, AdamWOptions options, Device device)
    : parameters_(parameters), gradients_(gradients), options_(options), device_(device) {
  RT_CHECK(parameters.size() == gradients.size(), "optimizer: {} parameters but {} gradients", parameters.size(),
           gradients.size());
  moments_ = Tensor::zeros({2 * static_cast<int64_t>(parameters.size())}, DType::kFloat32, device);
}

void AdamW::step(int64_t number, const uint32_t* skip_if_set) {
  RT_CHECK(number >= 1, "AdamW counts its steps from 1, not {}", number);
  const int64_t count = static_cast<int64_t>(parameters_.size());
  float* m = moments_.data<float>();
  kernels::adamw(device_, parameters_.data(), gradients_.data(), m, m + count, count, options_.lr, options_.beta1,
                 options_.beta2, options_.eps, options_.weight_decay, number, skip_if_set);
}

}  // namespace rt
