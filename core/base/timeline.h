// A per-rank timeline of what each thread did, written as a Chrome trace (open it in Perfetto or
// chrome://tracing): forward, backward per layer, each bucket's all-reduce, optimizer, data wait.
// merge_timelines() puts the ranks' files into one trace, a process per rank named by its host.
// Recording appends to a buffer reserved up front (no allocation while training); events past its
// capacity are counted and dropped.
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

namespace rt {

enum class TimelineLane { kCompute = 0, kCommunication = 1, kData = 2 };

class Timeline {
 public:
  // An empty path gives a disabled timeline that records nothing. Otherwise rank r writes
  // PATH with ".rank<r>" put before its extension (trace.json -> trace.rank0.json).
  Timeline(const std::string& path, int rank, const std::string& host = "", size_t capacity = size_t{1} << 20);
  bool enabled() const { return enabled_; }
  double now_us() const;
  // `name` must outlive the timeline (a literal, or a string owned by the model).
  void record(TimelineLane lane, const char* name, double start_us, double end_us, int64_t index = -1);
  // Writes the file (an error names it if it cannot be written).
  void write() const;
  const std::string& file() const { return file_; }

 private:
  struct Event {
    const char* name;
    TimelineLane lane;
    int64_t index;
    double start_us;
    double end_us;
  };
  bool enabled_ = false;
  int rank_ = 0;
  std::string host_;
  std::string file_;
  std::chrono::steady_clock::time_point origin_;
  double origin_unix_us_ = 0;  // the wall clock at origin_, to line the ranks up
  mutable std::mutex mutex_;
  std::vector<Event> events_;
  size_t dropped_ = 0;
};

// PATH with ".rank<r>" put before its extension: where rank r's timeline goes.
std::string timeline_rank_file(const std::string& path, int rank);

// Writes PATH: one trace of ranks 0..ranks-1 read from their files, each rank's times moved onto
// rank 0's clock (by the wall clock at each start). Returns the ranks whose file could not be read
// (on another host without a shared file system), which the trace leaves out.
std::vector<int> merge_timelines(const std::string& path, int ranks);

// Records the span from its construction to its destruction.
class TimelineScope {
 public:
  TimelineScope(Timeline* timeline, TimelineLane lane, const char* name, int64_t index = -1)
      : timeline_(timeline && timeline->enabled() ? timeline : nullptr), lane_(lane), name_(name), index_(index),
        start_(timeline_ ? timeline_->now_us() : 0) {}
  ~TimelineScope() {
    if (timeline_) timeline_->record(lane_, name_, start_, timeline_->now_us(), index_);
  }
  TimelineScope(const TimelineScope&) = delete;
  TimelineScope& operator=(const TimelineScope&) = delete;

 private:
  Timeline* timeline_;
  TimelineLane lane_;
  const char* name_;
  int64_t index_;
  double start_;
};

}  // namespace rt
