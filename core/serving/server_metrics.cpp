#include "core/serving/server_metrics.h"

#include <fmt/format.h>

namespace rt {

namespace {
// Label values escaped as the text format wants (backslash, quote, newline).
std::string escaped(const std::string& value) {
  std::string out;
  for (char c : value) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}
}  // namespace

ServerMetrics::ServerMetrics()
    : latency_bounds_{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10} {
  batch_rows_.bounds = {1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024};
  batch_rows_.counts.assign(batch_rows_.bounds.size() + 1, 0);
}

void ServerMetrics::Histogram::observe(double value) {
  size_t i = 0;
  while (i < bounds.size() && value > bounds[i]) ++i;
  ++counts[i];
  sum += value;
  ++total;
}

void ServerMetrics::count_request(const std::string& route, int status, double seconds) {
  std::lock_guard<std::mutex> lock(mutex_);
  ++requests_[{route, status}];
  Histogram& histogram = latency_[route];
  if (histogram.bounds.empty()) {
    histogram.bounds = latency_bounds_;
    histogram.counts.assign(latency_bounds_.size() + 1, 0);
  }
  histogram.observe(seconds);
}

void ServerMetrics::count_batch(int64_t rows) {
  std::lock_guard<std::mutex> lock(mutex_);
  batch_rows_.observe(static_cast<double>(rows));
}

void ServerMetrics::render_histogram(std::string& out, const std::string& name, const std::string& labels,
                                     const Histogram& histogram) {
  const std::string sep = labels.empty() ? "" : ",";
  uint64_t cumulative = 0;
  for (size_t i = 0; i < histogram.bounds.size(); ++i) {
    cumulative += histogram.counts[i];
    out += fmt::format("{}_bucket{{{}{}le=\"{}\"}} {}\n", name, labels, sep, histogram.bounds[i], cumulative);
  }
  cumulative += histogram.counts.back();
  out += fmt::format("{}_bucket{{{}{}le=\"+Inf\"}} {}\n", name, labels, sep, cumulative);
  const std::string braces = labels.empty() ? "" : "{" + labels + "}";
  out += fmt::format("{}_sum{} {}\n{}_count{} {}\n", name, braces, histogram.sum, name, braces, histogram.total);
}

std::string ServerMetrics::render(int64_t queued_rows, const std::string& model, const std::string& version,
                                  const std::string& checkpoint) const {
  std::lock_guard<std::mutex> lock(mutex_);
  std::string out;
  out += "# HELP ringtrain_requests_total HTTP requests answered, by route and status code.\n";
  out += "# TYPE ringtrain_requests_total counter\n";
  for (const auto& [key, count] : requests_) {
    out += fmt::format("ringtrain_requests_total{{route=\"{}\",code=\"{}\"}} {}\n", escaped(key.first), key.second,
                       count);
  }
  out += "# HELP ringtrain_request_errors_total HTTP requests answered with a 4xx or 5xx status, by route.\n";
  out += "# TYPE ringtrain_request_errors_total counter\n";
  std::map<std::string, uint64_t> errors;
  for (const auto& [key, count] : requests_) {
    if (key.second >= 400) errors[key.first] += count;
  }
  for (const auto& [route, count] : errors) {
    out += fmt::format("ringtrain_request_errors_total{{route=\"{}\"}} {}\n", escaped(route), count);
  }
  out += "# HELP ringtrain_request_duration_seconds Time from a request's arrival to its answer, by route.\n";
  out += "# TYPE ringtrain_request_duration_seconds histogram\n";
  for (const auto& [route, histogram] : latency_) {
    render_histogram(out, "ringtrain_request_duration_seconds", fmt::format("route=\"{}\"", escaped(route)), histogram);
  }
  out += "# HELP ringtrain_batch_rows Rows scored in each forward pass (dynamic batching).\n";
  out += "# TYPE ringtrain_batch_rows histogram\n";
  render_histogram(out, "ringtrain_batch_rows", "", batch_rows_);
  out += "# HELP ringtrain_queued_rows Rows waiting for a forward pass.\n# TYPE ringtrain_queued_rows gauge\n";
  out += fmt::format("ringtrain_queued_rows {}\n", queued_rows);
  out += "# HELP ringtrain_model_info The model served: its name, version (checkpoint step) and checkpoint.\n";
  out += "# TYPE ringtrain_model_info gauge\n";
  out += fmt::format("ringtrain_model_info{{model=\"{}\",version=\"{}\",checkpoint=\"{}\"}} 1\n", escaped(model),
                     escaped(version), escaped(checkpoint));
  return out;
}

}  // namespace rt
