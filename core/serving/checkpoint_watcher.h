// serve --watch: looks in a checkpoint.dir every `interval` for a checkpoint newer than the one
// served (a step-NNNNNNNNN directory with its manifest, which a writer commits last), loads and
// verifies it, and swaps it in. One that does not verify (being written, or damaged) is tried again
// at the next look; a model of another shape is refused with a warning, and serving goes on.
#pragma once

#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>

#include "core/serving/model_slot.h"

namespace rt {

class CheckpointWatcher {
 public:
  CheckpointWatcher(ModelSlot& slot, std::string directory, double interval_seconds);
  ~CheckpointWatcher();

 private:
  void watch();
  void look();

  ModelSlot& slot_;
  std::string directory_;
  double interval_seconds_;
  std::string refused_;  // the newest checkpoint refused, not tried again
  std::mutex mutex_;
  std::condition_variable stop_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace rt
