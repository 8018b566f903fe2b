// The HTTP face of a Predictor (cpp-httplib), speaking the contracts that platforms and their
// tools use unchanged:
// - Azure ML's scoring contract: GET / (liveness), POST /score {"data": [[...], ...]} ->
//   {"predictions": [...], "probabilities": [[...], ...]};
// - the Open Inference Protocol (KServe v2, also Triton's): GET /v2/health/live, /v2/health/ready,
//   /v2, /v2/models/NAME (metadata), /v2/models/NAME/ready, POST /v2/models/NAME/infer;
// - GET /metrics in the Prometheus text format (ServerMetrics).
// Requests are scored through a Batcher. A bad request (malformed JSON, a wrong shape, datatype or
// value, a body over the limit, a wrong content type, an unknown model, a slow or cut body) gets a
// 4xx answer with {"error": "..."} naming the problem; nothing a client sends stops the server.
#pragma once

#include <atomic>
#include <memory>
#include <string>

#include "core/serving/batcher.h"
#include "core/serving/model_slot.h"
#include "core/serving/server_metrics.h"

namespace httplib {
class Server;
}

namespace rt {

struct ServeOptions {
  std::string host = "0.0.0.0";
  int port = 8080;  // 0: any free port (port() says which)
  std::string model_name = "model";
  int64_t max_batch = 64;
  int64_t max_delay_us = 2000;
  int64_t max_body_bytes = int64_t{16} << 20;
  int64_t max_rows = 65536;      // rows in one request
  int http_threads = 256;        // connections served at once (each waits for its batch)
  double read_timeout_seconds = 5;  // a body slower than this is cut off
};

class ScoringServer {
 public:
  ScoringServer(ModelSlot& models, const ServeOptions& options);
  ~ScoringServer();

  // Binds (throws naming the address when it cannot); then port() is known.
  void bind();
  int port() const { return port_; }
  // Serves until stop(); returns once every request under way has been answered.
  void serve();
  // Whether serve() is accepting connections.
  bool running() const;
  // Readiness turns false (the platform sends no new traffic); requests keep being answered.
  void set_ready(bool ready) { ready_ = ready; }
  void stop();

 private:
  void add_routes();

  ModelSlot& models_;
  ServeOptions options_;
  ServerMetrics metrics_;
  std::unique_ptr<Batcher> batcher_;
  std::unique_ptr<httplib::Server> http_;
  std::atomic<bool> ready_{true};
  int port_ = 0;
  int listening_socket_ = -1;
};

}  // namespace rt
