// What the server counts, in the Prometheus text format (GET /metrics): requests by route and
// status code, request latency and batch size histograms, the rows waiting for a batch, and the
// model being served.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace rt {

class ServerMetrics {
 public:
  ServerMetrics();
  void count_request(const std::string& route, int status, double seconds);
  void count_batch(int64_t rows);
  // The page: `queued_rows` now, and the model's labels (name, version, checkpoint).
  std::string render(int64_t queued_rows, const std::string& model, const std::string& version,
                     const std::string& checkpoint) const;

 private:
  struct Histogram {
    std::vector<double> bounds;
    std::vector<uint64_t> counts;  // per bound (not cumulative), then +Inf
    double sum = 0;
    uint64_t total = 0;
    void observe(double value);
  };
  static void render_histogram(std::string& out, const std::string& name, const std::string& labels,
                               const Histogram& histogram);

  mutable std::mutex mutex_;
  std::map<std::pair<std::string, int>, uint64_t> requests_;  // (route, status) -> count
  std::map<std::string, Histogram> latency_;                  // route -> seconds
  Histogram batch_rows_;
  std::vector<double> latency_bounds_;
};

}  // namespace rt
