#include "core/optimizer_registry.h"

#include "core/adamw.h"
#include "core/registry.h"
#include "core/sgd.h"

namespace rt {

namespace {

std::unique_ptr<Optimizer> build_sgd(OptimizerSpec& spec) {
  const TrainConfig& c = spec.train;
  return std::make_unique<Sgd>(spec.parameters, spec.gradients, SgdOptions{c.lr, c.momentum, c.weight_decay},
                               spec.device);
}

std::unique_ptr<Optimizer> build_adamw(OptimizerSpec& spec) {
  const TrainConfig& c = spec.train;
  return std::make_unique<AdamW>(spec.parameters, spec.gradients,
                                 AdamWOptions{c.lr, c.beta1, c.beta2, c.eps, c.weight_decay}, spec.device);
}

Registry<OptimizerFactory>& optimizers() {
  static Registry<OptimizerFactory>* registry = [] {
    auto* r = new Registry<OptimizerFactory>("optimizer.kind");
    r->add("sgd", build_sgd, true);
    r->add("adamw", build_adamw, true);
    return r;
  }();
  return *registry;
}

}  // namespace

void register_optimizer(const std::string& kind, OptimizerFactory factory) {
  optimizers().add(kind, std::move(factory), false);
}
bool optimizer_is_built_in(const std::string& kind) { return optimizers().built_in(kind); }
std::vector<std::string> registered_optimizers() { return optimizers().kinds(); }

std::unique_ptr<Optimizer> build_optimizer(const std::string& kind, OptimizerSpec& spec) {
  std::unique_ptr<Optimizer> optimizer = optimizers().find(kind)(spec);
  RT_CHECK(optimizer != nullptr, "optimizer.kind '{}': its factory built no optimizer", kind);
  return optimizer;
}

}  // namespace rt
