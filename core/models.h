// Models built from the configuration's [model] section.
#pragma once

#include <memory>
#include <vector>

#include "core/model.h"

namespace rt {

// Linear(input, hidden[0]) ReLU ... Linear(hidden[-1], classes).
std::unique_ptr<Model> build_mlp(int64_t input_features, const std::vector<int64_t>& hidden, int64_t classes,
                                 Device device = Device::kCpu);

}  // namespace rt
