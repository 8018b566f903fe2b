#include "core/base/timeline.h"

#include <fstream>

#include <nlohmann/json.hpp>

#include "core/base/check.h"

namespace rt {

namespace {
const char* lane_name(TimelineLane lane) {
  switch (lane) {
    case TimelineLane::kCompute: return "compute";
    case TimelineLane::kCommunication: return "communication";
    case TimelineLane::kData: return "data";
  }
  return "?";
}
}  // namespace

std::string timeline_rank_file(const std::string& path, int rank) {
  size_t slash = path.find_last_of('/');
  size_t dot = path.find_last_of('.');
  if (dot == std::string::npos || (slash != std::string::npos && dot < slash)) return fmt::format("{}.rank{}", path, rank);
  return fmt::format("{}.rank{}{}", path.substr(0, dot), rank, path.substr(dot));
}

Timeline::Timeline(const std::string& path, int rank, const std::string& host, size_t capacity)
    : enabled_(!path.empty()), rank_(rank), host_(host), origin_(std::chrono::steady_clock::now()),
      origin_unix_us_(std::chrono::duration<double, std::micro>(std::chrono::system_clock::now().time_since_epoch())
                          .count()) {
  if (!enabled_) return;
  file_ = timeline_rank_file(path, rank);
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
  trace.push_back({{"ph", "M"}, {"name", "process_name"}, {"pid", rank_}, {"args", {{"name", host_.empty() ? fmt::format("rank {}", rank_) : fmt::format("rank {} ({})", rank_, host_)}}}});
  trace.push_back({{"ph", "M"}, {"name", "process_sort_index"}, {"pid", rank_}, {"args", {{"sort_index", rank_}}}});
  for (const Event& event : events_) {
    nlohmann::json entry = {{"ph", "X"},         {"name", event.name},   {"pid", rank_}, {"tid", static_cast<int>(event.lane)},
                            {"ts", event.start_us}, {"dur", event.end_us - event.start_us}};
    if (event.index >= 0) entry["args"] = {{"index", event.index}};
    trace.push_back(std::move(entry));
  }
  std::ofstream out(file_, std::ios::trunc);
  RT_CHECK(out.good(), "cannot write the timeline {}", file_);
  out << nlohmann::json{{"traceEvents", trace},
                        {"otherData", {{"dropped_events", dropped_}, {"origin_unix_us", origin_unix_us_}}}}
             .dump()
      << '\n';
  RT_CHECK(out.good(), "cannot write the timeline {}", file_);
}

std::vector<int> merge_timelines(const std::string& path, int ranks) {
  nlohmann::json events = nlohmann::json::array();
  std::vector<int> missing;
  double origin = 0;
  int64_t dropped = 0;
  for (int rank = 0; rank < ranks; ++rank) {
    std::ifstream in(timeline_rank_file(path, rank));
    nlohmann::json trace = in ? nlohmann::json::parse(in, nullptr, false) : nlohmann::json();
    if (!trace.is_object() || !trace.contains("traceEvents")) {
      missing.push_back(rank);
      continue;
    }
    const double rank_origin = trace["otherData"].value("origin_unix_us", 0.0);
    if (events.empty()) origin = rank_origin;
    dropped += trace["otherData"].value("dropped_events", int64_t{0});
    for (nlohmann::json& event : trace["traceEvents"]) {
      if (event.contains("ts")) event["ts"] = event["ts"].get<double>() + (rank_origin - origin);
      events.push_back(std::move(event));
    }
  }
  std::ofstream out(path, std::ios::trunc);
  out << nlohmann::json{{"traceEvents", events}, {"otherData", {{"dropped_events", dropped}}}}.dump() << '\n';
  RT_CHECK(out.good(), "cannot write the timeline {}", path);
  return missing;
}

}  // namespace rt
