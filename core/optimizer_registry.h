// Optimizers by name: `optimizer.kind` names a registered optimizer. ringtrain registers sgd and
// adamw; a program registers its own with register_optimizer() before it trains.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/base/config.h"
#include "core/base/device.h"
#include "core/base/span.h"
#include "core/optimizer.h"
#include "core/train_config.h"

namespace rt {

struct OptimizerSpec {
  Config& config;            // an optimizer of a program's own reads its [optimizer] keys here
  const TrainConfig& train;  // the settings ringtrain reads itself (lr, and sgd's and adamw's keys)
  Span<float> parameters;    // the model's parameter arena, on `device`
  Span<float> gradients;     // its gradient arena (summed across ranks when step() runs)
  Device device = Device::kCpu;
};

using OptimizerFactory = std::function<std::unique_ptr<Optimizer>(OptimizerSpec& spec)>;

void register_optimizer(const std::string& kind, OptimizerFactory factory);
bool optimizer_is_built_in(const std::string& kind);
std::vector<std::string> registered_optimizers();
std::unique_ptr<Optimizer> build_optimizer(const std::string& kind, OptimizerSpec& spec);

}  // namespace rt
