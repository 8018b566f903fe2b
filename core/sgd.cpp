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

void Sgd::step(int64_t, const uint32_t* skip_if_set) {
  kernels::sgd_momentum(device_, parameters_.data(), gradients_.data(), velocity_.data<float>(),
                        static_cast<int64_t>(parameters_.size()), options_.lr, options_.momentum,
                        options_.weight_decay, skip_if_set);
}

}  // namespace rt
