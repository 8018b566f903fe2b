// Where a buffer lives and where a kernel runs.
#pragma once

#include <string>

#include "core/base/check.h"

namespace rt {

enum class Device { kCpu, kCuda };

inline const char* device_name(Device device) { return device == Device::kCpu ? "cpu" : "cuda"; }

inline Device parse_device(const std::string& name) {
  if (name == "cpu") return Device::kCpu;
  if (name == "cuda") return Device::kCuda;
  RT_FAIL("unknown device \"{}\" (expected cpu or cuda)", name);
}

}  // namespace rt
