#include "core/base/timeline.h"

#include <fstream>

#include <nlohmann/json.hpp>

#include "core/base/check.h"

namespace rt {

namespace {
std::string rank_file(const std::string& path, int rank) {
  size_t slash = path.find_last_of('/');
  size_t dot = path.find_last_of('.');
  if (dot == std::string::npos || (slash != std::string::npos && dot < slash)) return fmt::format("{}.rank{}", path, rank);
  return fmt::format("{}.rank{}{}", path.substr(0, dot), rank, path.substr(dot));
}

const char* lane_name(TimelineLane lane) {
  switch (lane) {
    case TimelineLane::kCompute: return "compute";
    case TimelineLane::kCommunication: return "communication";
    case TimelineLane::kData: return "data";
  }
  return "?";
}
}  // namespace

Timeline::Timeline(const std::string& path, int rank, size_t capacity)
    : enabled_(!path.empty()), rank_(rank), origin_(std::chrono::steady_clock::now()) {
  if (!enabled_) return;
  file_ = rank_file(path, rank);
  events_.reserve(capacity);
}

double Timeline::now_us() const {
  return std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - origin_).count();
}

void Timeline::record(TimelineLane lane, const char* name, double start_us, double end_us, int64_t index) {
  if (!enabled_) return;
  std::lock_guard<std::mutex> lock(mutex_);
  if (events_.size() == events_.capacity()) {
    ++dropped_;
    return;
  }
  events_.push_back({name, lane, index, start_us, end_us});
}

void Timeline::write() const {
  if (!enabled_) return;
  std::lock_guard<std::mutex> lock(mutex_);
  nlohmann::json trace = nlohmann::json::array();
  for (TimelineLane lane : {TimelineLane::kCompute, TimelineLane::kCommunication, TimelineLane::kData}) {
    trace.push_back({{"ph", "M"}, {"name", "thread_name"}, {"pid", rank_}, {"tid", static_cast<int>(lane)},
                     {"args", {{"name", lane_name(lane)}}}});
  }
  trace.push_back({{"ph", "M"}, {"name", "process_name"}, {"pid", rank_}, {"args", {{"name", fmt::format("rank {}", rank_)}}}});
  for (const Event& event : events_) {
    nlohmann::json entry = {{"ph", "X"},         {"name", event.name},   {"pid", rank_}, {"tid", static_cast<int>(event.lane)},
                            {"ts", event.start_us}, {"dur", event.end_us - event.start_us}};
    if (event.index >= 0) entry["args"] = {{"index", event.index}};
    trace.push_back(std::move(entry));
  }
  std::ofstream out(file_, std::ios::trunc);
  RT_CHECK(out.good(), "cannot write the timeline {}", file_);
  out << nlohmann::json{{"traceEvents", trace}, {"otherData", {{"dropped_events", dropped_}}}}.dump() << '\n';
  RT_CHECK(out.good(), "cannot write the timeline {}", file_);
}

}  // namespace rt
