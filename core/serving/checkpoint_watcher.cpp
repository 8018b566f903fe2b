#include "core/serving/checkpoint_watcher.h"

#include <filesystem>
#include <regex>

#include "core/base/check.h"
#include "core/base/logging.h"

namespace rt {

CheckpointWatcher::CheckpointWatcher(ModelSlot& slot, std::string directory, double interval_seconds)
    : slot_(slot), directory_(std::move(directory)), interval_seconds_(interval_seconds), thread_([this] { watch(); }) {}

CheckpointWatcher::~CheckpointWatcher() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  stop_.notify_all();
  thread_.join();
}

void CheckpointWatcher::watch() {
  std::unique_lock<std::mutex> lock(mutex_);
  while (!stop_.wait_for(lock, std::chrono::duration<double>(interval_seconds_), [this] { return stopping_; })) {
    lock.unlock();
    look();
    lock.lock();
  }
}

void CheckpointWatcher::look() {
  static const std::regex name("step-([0-9]+)");
  int64_t newest = slot_.current()->step();
  std::string path;
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator(directory_, error)) {
    std::smatch match;
    const std::string file = entry.path().filename().string();
    if (!std::regex_match(file, match, name) || !std::filesystem::exists(entry.path() / "manifest.json")) continue;
    const int64_t step = std::stoll(match[1]);
    if (step > newest) {
      newest = step;
      path = entry.path().string();
    }
  }
  if (path.empty() || path == refused_) return;
  try {
    auto next = std::make_shared<Predictor>(CheckpointStore::load(path), slot_.current()->max_batch());
    const std::string wrong = slot_.mismatch(*next);
    if (!wrong.empty()) {
      refused_ = path;
      log_warning("{}; still serving {}", wrong, slot_.current()->checkpoint_path());
      return;
    }
    slot_.swap(next);
    log_info("now serving {} (step {})", path, next->step());
  } catch (const Error&) {
    // Not complete yet (a slow mount), or damaged: looked at again next time.
  }
}

}  // namespace rt
