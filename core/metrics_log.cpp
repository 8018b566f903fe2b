#include "core/metrics_log.h"

#include <nlohmann/json.hpp>

#include "core/base/check.h"

namespace rt {

MetricsLog::MetricsLog(const std::string& path) : path_(path) {
  if (path.empty()) return;
  out_.open(path, std::ios::out | std::ios::trunc);
  RT_CHECK(out_.good(), "cannot write the metrics file {}", path);
}

void MetricsLog::write(const EpochMetrics& m) {
  if (path_.empty()) return;
  nlohmann::json line = {{"epoch", m.epoch},
                         {"steps", m.steps},
                         {"train_loss", m.train_loss},
                         {"train_accuracy", m.train_accuracy},
                         {"test_loss", m.test_loss},
                         {"test_accuracy", m.test_accuracy},
                         {"train_seconds", m.train_seconds},
                         {"samples_per_second", m.samples_per_second},
                         {"data_wait_seconds", m.data_wait_seconds},
                         {"communication_seconds", m.communication_seconds}};
  out_ << line.dump() << '\n';
  out_.flush();
  RT_CHECK(out_.good(), "cannot write the metrics file {}", path_);
}

}  // namespace rt
