#include "core/serving/scoring_server.h"

#include <httplib.h>

#include <chrono>
#include <nlohmann/json.hpp>

#include "core/base/check.h"
#include "core/serving/request_body.h"

namespace rt {

namespace {
using nlohmann::json;
constexpr int kListenBacklog = 4096;  // the kernel caps it at net.core.somaxconn
constexpr double kMostGeneratedTokens = 4096;  // a generate request's max_tokens
using Clock = std::chrono::steady_clock;

void answer_json(httplib::Response& response, int status, const json& body) {
  response.status = status;
  response.set_content(body.dump(), "application/json");
}

void answer_error(httplib::Response& response, int status, const std::string& message) {
  answer_json(response, status, json{{"error", message}});
}

// JSON bodies only; throws RequestError.
void require_json(const httplib::Request& request) {
  const std::string type = request.get_header_value("Content-Type");
  if (type.rfind("application/json", 0) != 0) {
    throw RequestError{415, fmt::format("the body must be JSON (Content-Type: application/json), not '{}'", type)};
  }
}

std::string shape_json(const std::vector<int64_t>& shape) { return json(shape).dump(); }

// The KServe v2 datatypes of numbers; the values are checked against the model's input after.
bool numeric_datatype(const std::string& datatype) {
  for (const char* known : {"UINT8", "UINT16", "UINT32", "UINT64", "INT8", "INT16", "INT32", "INT64", "FP16", "FP32",
                            "FP64", "BF16"}) {
    if (datatype == known) return true;
  }
  return false;
}
}  // namespace

ScoringServer::ScoringServer(ModelSlot& models, const ServeOptions& options)
    : models_(models), options_(options), http_(std::make_unique<httplib::Server>()) {
  batcher_ = std::make_unique<Batcher>(models_, options_.max_batch, options_.max_delay_us,
                                       [this](int64_t rows) { metrics_.count_batch(rows); });
  const int threads = std::max(options_.http_threads, 1);
  http_->new_task_queue = [threads] { return new httplib::ThreadPool(static_cast<size_t>(threads)); };
  http_->set_payload_max_length(static_cast<size_t>(options_.max_body_bytes));
  http_->set_read_timeout(static_cast<time_t>(options_.read_timeout_seconds),
                          static_cast<time_t>((options_.read_timeout_seconds -
                                               static_cast<double>(static_cast<time_t>(options_.read_timeout_seconds))) *
                                              1e6));
  // A response goes out in two writes (head, body): without TCP_NODELAY, Nagle holds the second
  // until the client's delayed ACK, 40 ms later (an idle server's p50 was 48 ms).
  http_->set_tcp_nodelay(true);
  http_->set_keep_alive_max_count(1000);  // requests on one connection before it is closed (httplib's default: 5)
  // The listening socket, to raise its backlog after bind (below).
  http_->set_socket_options([this](socket_t socket) {
    httplib::default_socket_options(socket);
    listening_socket_ = socket;
  });
  add_routes();
}

ScoringServer::~ScoringServer() = default;

void ScoringServer::bind() {
  if (options_.port == 0) {
    port_ = http_->bind_to_any_port(options_.host);
  } else {
    port_ = http_->bind_to_port(options_.host, options_.port) ? options_.port : -1;
  }
  RT_CHECK(port_ > 0, "cannot listen on {}:{} (in use, or not an address of this machine)", options_.host,
           options_.port);
  // httplib listens with a backlog of 5: clients connecting at once beyond it are accepted by the
  // kernel, then reset (64 clients lost a third of their requests). listen() again sets a larger one.
  RT_CHECK(listening_socket_ >= 0 && ::listen(listening_socket_, kListenBacklog) == 0,
           "cannot listen on {}:{} with a backlog of {}", options_.host, port_, kListenBacklog);
}

void ScoringServer::serve() { http_->listen_after_bind(); }

bool ScoringServer::running() const { return http_->is_running(); }

void ScoringServer::stop() { http_->stop(); }

void ScoringServer::add_routes() {
  // What a swap (serve --watch) cannot change: the input and the classes (ModelSlot::swap).
  const ModelDescription model = models_.current()->description();
  const std::string name = options_.model_name;
  const std::string input_datatype = model.input.dtype == DType::kUInt8 ? "UINT8" : "FP32";
  const int64_t size = model.input.size();

  // Every request's route (its pattern, not its path) and time, for the metrics.
  thread_local Clock::time_point started;
  http_->set_pre_routing_handler([](const httplib::Request&, httplib::Response&) {
    started = Clock::now();
    return httplib::Server::HandlerResponse::Unhandled;
  });
  http_->set_logger([this, name](const httplib::Request& request, const httplib::Response& response) {
    std::string route = request.path;
    const std::string models = "/v2/models/" + name;
    if (route.rfind("/v2/models/", 0) == 0) {
      if (route == models) {
        route = "/v2/models/{name}";
      } else if (route == models + "/infer" || route == models + "/ready") {
        route = "/v2/models/{name}" + route.substr(models.size());
      } else {
        route = "/v2/models/other";
      }
    } else if (route != "/" && route != "/score" && route != "/metrics" && route != "/v2" &&
               route != "/v2/health/live" && route != "/v2/health/ready") {
      route = "other";
    }
    metrics_.count_request(route, response.status, std::chrono::duration<double>(Clock::now() - started).count());
  });
  // Errors httplib answers itself (no route, body over the limit, a cut body) get a JSON body too.
  http_->set_error_handler([this](const httplib::Request& request, httplib::Response& response) {
    if (!response.body.empty()) return;
    std::string message;
    switch (response.status) {
      case 404: message = fmt::format("no route {} {} (see GET /v2/models/{})", request.method, request.path,
                                      options_.model_name); break;
      case 413: message = fmt::format("the body is larger than the server's limit of {} bytes", options_.max_body_bytes);
                break;
      case 400: message = "the request could not be read (a malformed request, or a body cut short)"; break;
      default: message = fmt::format("{} {}: status {}", request.method, request.path, response.status);
    }
    answer_error(response, response.status, message);
  });
  http_->set_exception_handler([](const httplib::Request&, httplib::Response& response, std::exception_ptr error) {
    std::string what = "internal error";
    try {
      if (error) std::rethrow_exception(error);
    } catch (const std::exception& e) {
      what = e.what();
    } catch (...) {
    }
    answer_error(response, 500, what);
  });

  // Rows of `values` checked against the model's input; throws RequestError.
  auto checked_rows = [this, size, model](const std::vector<float>& values, const std::string& what) {
    if (values.empty() || values.size() % static_cast<size_t>(size) != 0) {
      throw RequestError{400, fmt::format("{} holds {} numbers, not rows of {} (the model's input is {} {})", what,
                                     values.size(), size, shape_json(model.input.shape),
                                     model.input.dtype == DType::kUInt8 ? "uint8" : "float32")};
    }
    const int64_t rows = static_cast<int64_t>(values.size()) / size;
    if (rows > options_.max_rows) {
      throw RequestError{413, fmt::format("{} rows in one request; the server takes at most {}", rows, options_.max_rows)};
    }
    const std::string wrong = models_.current()->check_input(Span<const float>(values.data(), values.size()));
    if (!wrong.empty()) throw RequestError{400, fmt::format("{}: {}", what, wrong)};
    return rows;
  };
  // Wraps a handler: a RequestError becomes its 4xx answer.
  auto guarded = [](auto handler) {
    return [handler](const httplib::Request& request, httplib::Response& response) {
      try {
        handler(request, response);
      } catch (const RequestError& refused) {
        answer_error(response, refused.status, refused.message);
      }
    };
  };

  auto refuse_text_model = [this, name] {
    if (models_.current()->generates_text()) {
      throw RequestError{400, fmt::format("this model is a gpt: it continues text (POST /v2/models/{}/generate "
                                          "{{\"text_input\": ...}}), it does not score rows", name)};
    }
  };

  // Azure ML.
  http_->Get("/", [](const httplib::Request&, httplib::Response& response) {
    answer_json(response, 200, json{{"status", "healthy"}});
  });
  http_->Post("/score", guarded([this, checked_rows, model, size, refuse_text_model](const httplib::Request& request,
                                                                   httplib::Response& response) {
    require_json(request);
    refuse_text_model();
    ScoreRequest parsed = read_score_request(request.body, size);
    std::vector<float> values = std::move(parsed.values);
    const int64_t rows = checked_rows(values, "\"data\"");
    Scores scores = batcher_->submit(std::move(values), rows).get();
    if (scores.regression) {
      answer_json(response, 200, json{{"predictions", scores.values}});
      return;
    }
    json predictions = json::array(), probabilities = json::array();
    for (int64_t r = 0; r < rows; ++r) {
      const int64_t predicted = scores.predicted[static_cast<size_t>(r)];
      if (model.class_names.empty()) {
        predictions.push_back(predicted);
      } else {
        predictions.push_back(model.class_name(predicted));
      }
      probabilities.push_back(std::vector<float>(scores.probabilities.begin() + r * scores.classes,
                                                 scores.probabilities.begin() + (r + 1) * scores.classes));
    }
    answer_json(response, 200, json{{"predictions", predictions}, {"probabilities", probabilities}});
  }));

  // Open Inference Protocol (KServe v2).
  http_->Get("/v2/health/live", [](const httplib::Request&, httplib::Response& response) {
    answer_json(response, 200, json{{"live", true}});
  });
  http_->Get("/v2/health/ready", [this](const httplib::Request&, httplib::Response& response) {
    answer_json(response, ready_ ? 200 : 503, json{{"ready", ready_.load()}});
  });
  http_->Get("/v2", [](const httplib::Request&, httplib::Response& response) {
    answer_json(response, 200, json{{"name", "ringtrain"}, {"version", ringtrain_version()}, {"extensions", json::array()}});
  });
  const std::string models = "/v2/models/([^/]+)";
  auto known_model = [name](const httplib::Request& request) {
    const std::string asked = request.matches[1];
    if (asked != name) throw RequestError{404, fmt::format("no model named '{}' here (this server serves '{}')", asked, name)};
  };
  http_->Get(models, guarded([=](const httplib::Request& request, httplib::Response& response) {
    known_model(request);
    if (model.kind == "gpt") {
      answer_json(response, 200,
                  json{{"name", name},
                       {"versions", json::array({std::to_string(models_.current()->step())})},
                       {"platform", "ringtrain"},
                       {"inputs", json::array({json{{"name", "text_input"}, {"datatype", "BYTES"}, {"shape", json::array({1})}}})},
                       {"outputs", json::array({json{{"name", "text_output"}, {"datatype", "BYTES"}, {"shape", json::array({1})}}})},
                       {"parameters", {{"kind", "gpt"}, {"context", model.gpt.context}, {"vocab", model.gpt.vocab},
                                       {"checkpoint", models_.current()->checkpoint_path()}}}});
      return;
    }
    std::vector<int64_t> input_shape = {-1};
    input_shape.insert(input_shape.end(), model.input.shape.begin(), model.input.shape.end());
    json outputs = json::array({json{{"name", "probabilities"}, {"datatype", "FP32"}, {"shape", json::array({-1, model.classes})}},
                                json{{"name", "predicted_class"}, {"datatype", "INT64"}, {"shape", json::array({-1})}}});
    if (model.regression) {
      outputs = json::array({json{{"name", "predicted_value"}, {"datatype", "FP32"}, {"shape", json::array({-1})}}});
    } else if (!model.class_names.empty()) {
      outputs.push_back(json{{"name", "predicted_label"}, {"datatype", "BYTES"}, {"shape", json::array({-1})}});
    }
    answer_json(response, 200,
                json{{"name", name},
                     {"versions", json::array({std::to_string(models_.current()->step())})},
                     {"platform", "ringtrain"},
                     {"inputs", json::array({json{{"name", "input"}, {"datatype", input_datatype}, {"shape", input_shape}}})},
                     {"outputs", outputs},
                     {"parameters",
                      {{"kind", model.kind}, {"task", model.regression ? "regression" : "classification"},
                       {"input_scale", model.input.scale}, {"class_names", model.class_names},
                       {"checkpoint", models_.current()->checkpoint_path()}}}});
  }));
  http_->Get(models + "/ready", guarded([=](const httplib::Request& request, httplib::Response& response) {
    known_model(request);
    answer_json(response, ready_ ? 200 : 503, json{{"name", name}, {"ready", ready_.load()}});
  }));
  http_->Post(models + "/infer", guarded([=](const httplib::Request& request, httplib::Response& response) {
    known_model(request);
    require_json(request);
    refuse_text_model();
    InferRequest parsed = read_infer_request(request.body);
    if (parsed.input_name != "input") {
      throw RequestError{400, fmt::format("no input named '{}'; the model's is \"input\"", parsed.input_name)};
    }
    if (!numeric_datatype(parsed.datatype)) {
      throw RequestError{400, fmt::format("datatype '{}' is not a numeric tensor type (the model's input is {})",
                                          parsed.datatype, input_datatype)};
    }
    int64_t elements = 1;
    for (int64_t extent : parsed.shape) {
      elements *= extent;
      if (elements > (int64_t{1} << 34)) {
        throw RequestError{400, fmt::format("the input's shape {} is too large", shape_json(parsed.shape))};
      }
    }
    const int64_t rows = parsed.shape[0];
    if (elements != rows * size) {
      throw RequestError{400, fmt::format("the input's shape {} is not [rows, {}] (the model's input is {})",
                                          shape_json(parsed.shape), fmt::join(model.input.shape, ", "),
                                          shape_json(model.input.shape))};
    }
    if (static_cast<int64_t>(parsed.values.size()) != elements) {
      throw RequestError{400, fmt::format("the input's \"data\" holds {} numbers; its shape {} says {}",
                                          parsed.values.size(), shape_json(parsed.shape), elements)};
    }
    std::vector<float> values = std::move(parsed.values);
    checked_rows(values, "the input's \"data\"");
    if (model.regression) {  // one output: the predicted value
      for (const std::string& wanted : parsed.outputs) {
        if (wanted != "predicted_value") {
          throw RequestError{400, fmt::format("no output named '{}' (the model's is predicted_value)", wanted)};
        }
      }
      Scores scores = batcher_->submit(std::move(values), rows).get();
      json answer = {{"model_name", name},
                     {"model_version", std::to_string(scores.step)},
                     {"outputs", json::array({json{{"name", "predicted_value"},
                                                   {"datatype", "FP32"},
                                                   {"shape", json::array({rows})},
                                                   {"data", scores.values}}})}};
      if (!parsed.id.empty()) answer["id"] = parsed.id;
      answer_json(response, 200, answer);
      return;
    }
    // Which outputs: those asked for, else all.
    bool want_probabilities = true, want_class = true, want_label = !model.class_names.empty();
    if (parsed.outputs_named) {
      want_probabilities = want_class = want_label = false;
      for (const std::string& wanted : parsed.outputs) {
        if (wanted == "probabilities") {
          want_probabilities = true;
        } else if (wanted == "predicted_class") {
          want_class = true;
        } else if (wanted == "predicted_label" && !model.class_names.empty()) {
          want_label = true;
        } else {
          throw RequestError{400, fmt::format("no output named '{}' (the model's are probabilities, predicted_class{})",
                                              wanted, model.class_names.empty() ? "" : ", predicted_label")};
        }
      }
    }
    Scores scores = batcher_->submit(std::move(values), rows).get();
    json outputs = json::array();
    if (want_probabilities) {
      outputs.push_back(json{{"name", "probabilities"},
                             {"datatype", "FP32"},
                             {"shape", json::array({rows, scores.classes})},
                             {"data", scores.probabilities}});
    }
    if (want_class) {
      outputs.push_back(
          json{{"name", "predicted_class"}, {"datatype", "INT64"}, {"shape", json::array({rows})}, {"data", scores.predicted}});
    }
    if (want_label) {
      json labels = json::array();
      for (int64_t id : scores.predicted) labels.push_back(model.class_name(id));
      outputs.push_back(json{{"name", "predicted_label"}, {"datatype", "BYTES"}, {"shape", json::array({rows})}, {"data", labels}});
    }
    json answer = {{"model_name", name}, {"model_version", std::to_string(scores.step)}, {"outputs", outputs}};
    if (!parsed.id.empty()) answer["id"] = parsed.id;
    answer_json(response, 200, answer);
  }));

  // The generate extension (Triton's, KServe's for text): a gpt continues `text_input`.
  http_->Post(models + "/generate", guarded([=](const httplib::Request& request, httplib::Response& response) {
    known_model(request);
    require_json(request);
    const std::shared_ptr<Predictor> predictor = models_.current();
    if (!predictor->generates_text()) {
      throw RequestError{400, fmt::format("this model is a {}: it scores rows (POST /v2/models/{}/infer), it does "
                                          "not generate text", model.kind, name)};
    }
    const json body = json::parse(request.body, nullptr, false);
    if (!body.is_object()) throw RequestError{400, "the body is not a JSON object"};
    const json prompt = body.value("text_input", json());
    if (!prompt.is_string() || prompt.get<std::string>().empty()) {
      throw RequestError{400, "\"text_input\" must be non-empty text (the prompt)"};
    }
    const json parameters = body.value("parameters", json::object());
    if (!parameters.is_object()) throw RequestError{400, "\"parameters\" must be an object"};
    auto number = [&parameters](const char* key, double fallback, double low, double high) {
      const json value = parameters.value(key, json(fallback));
      if (!value.is_number() || value.get<double>() < low || value.get<double>() > high) {
        throw RequestError{400, fmt::format("parameters.{} is {}, not a number in [{}, {}]", key, value.dump(), low,
                                            high)};
      }
      return value.get<double>();
    };
    const int64_t tokens = static_cast<int64_t>(number("max_tokens", 64, 0, kMostGeneratedTokens));
    SamplingOptions sampling;
    sampling.temperature = static_cast<float>(number("temperature", 0.8, 0, 100));
    sampling.top_k = static_cast<int64_t>(number("top_k", 40, 0, 1e9));
    sampling.seed = static_cast<uint64_t>(number("seed", 1, 0, 9007199254740992.0));
    const std::string text = predictor->generate(prompt.get<std::string>(), tokens, sampling);
    // Bytes that are not UTF-8 (a byte-level model may sample any) become U+FFFD in the JSON.
    response.status = 200;
    response.set_content(json{{"model_name", name},
                              {"model_version", std::to_string(predictor->step())},
                              {"text_output", text}}
                             .dump(-1, ' ', false, json::error_handler_t::replace),
                         "application/json");
  }));

  http_->Get("/metrics", [this, name](const httplib::Request&, httplib::Response& response) {
    const std::shared_ptr<Predictor> current = models_.current();
    response.set_content(metrics_.render(batcher_->queued_rows(), name, std::to_string(current->step()),
                                         current->checkpoint_path()),
                         "text/plain; version=0.0.4");
  });
}

}  // namespace rt
