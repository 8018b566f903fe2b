// The model being served, swapped for a newer checkpoint's while requests go on (serve --watch).
// Each forward pass takes the current predictor once (a shared pointer), so a request's rows are
// all scored by one model, and a swapped-out model lives until its last pass is done.
#pragma once

#include <memory>
#include <mutex>
#include <string>

#include "core/serving/predictor.h"

namespace rt {

class ModelSlot {
 public:
  explicit ModelSlot(std::shared_ptr<Predictor> predictor);
  std::shared_ptr<Predictor> current() const;
  // Empty when `next` reads the same input and gives the same classes as the model served
  // (requests checked against one must fit the other); else what differs.
  std::string mismatch(const Predictor& next) const;
  // Serves `next` from now on; throws rt::Error (the current model stays) on a mismatch.
  void swap(std::shared_ptr<Predictor> next);

 private:
  mutable std::mutex mutex_;
  std::shared_ptr<Predictor> current_;
};

}  // namespace rt
