#include "core/serving/model_slot.h"

#include "core/base/check.h"
#include "core/tensor.h"

namespace rt {

ModelSlot::ModelSlot(std::shared_ptr<Predictor> predictor) : current_(std::move(predictor)) {}

std::shared_ptr<Predictor> ModelSlot::current() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return current_;
}

std::string ModelSlot::mismatch(const Predictor& next) const {
  std::shared_ptr<Predictor> now = current();
  const ModelDescription& a = now->description();
  const ModelDescription& b = next.description();
  if (a.input.shape == b.input.shape && a.input.dtype == b.input.dtype && a.input.scale == b.input.scale &&
      a.classes == b.classes && a.class_names == b.class_names) {
    return "";
  }
  return fmt::format("{} reads input {} {} into {} classes, not {} {} into {} classes as the model served does",
                     next.checkpoint_path(), shape_text(b.input.shape), dtype_name(b.input.dtype), b.classes,
                     shape_text(a.input.shape), dtype_name(a.input.dtype), a.classes);
}

void ModelSlot::swap(std::shared_ptr<Predictor> next) {
  const std::string wrong = mismatch(*next);
  RT_CHECK(wrong.empty(), "{}; not swapped", wrong);
  std::lock_guard<std::mutex> lock(mutex_);
  current_ = std::move(next);
}

}  // namespace rt
