#include "core/serving/scoring_server.h"

#include <httplib.h>

#include <chrono>
#include <nlohmann/json.hpp>

#include "core/base/check.h"

namespace rt {

namespace {
using nlohmann::json;
constexpr int kListenBacklog = 4096;  // the kernel caps it at net.core.somaxconn
using Clock = std::chrono::steady_clock;

// A request the server refuses: its status code and what is wrong.
struct Refused {
  int status;
  std::string message;
};

void answer_json(httplib::Response& response, int status, const json& body) {
  response.status = status;
  response.set_content(body.dump(), "application/json");
}

void answer_error(httplib::Response& response, int status, const std::string& message) {
  answer_json(response, status, json{{"error", message}});
}

json parse_body(const httplib::Request& request) {
  const std::string type = request.get_header_value("Content-Type");
  if (type.rfind("application/json", 0) != 0) {
    throw Refused{415, fmt::format("the body must be JSON (Content-Type: application/json), not '{}'", type)};
  }
  json body = json::parse(request.body, nullptr, false);
  if (body.is_discarded()) throw Refused{400, "the body is not valid JSON"};
  if (!body.is_object()) throw Refused{400, "the body must be a JSON object"};
  return body;
}

// Appends the numbers of `value` (a number, or arrays of them nested to any depth) to `out`.
void flatten(const json& value, std::vector<float>& out, const std::string& what, int depth = 0) {
  if (value.is_number()) {
    out.push_back(value.get<float>());
    return;
  }
  if (!value.is_array() || depth > 8) {
    throw Refused{400, fmt::format("{} holds {}, not a number", what, value.is_array() ? "arrays nested too deep"
                                                                                       : value.dump().substr(0, 40))};
  }
  for (const json& entry : value) flatten(entry, out, what, depth + 1);
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

ScoringServer::ScoringServer(Predictor& predictor, const ServeOptions& options)
    : predictor_(predictor), options_(options), http_(std::make_unique<httplib::Server>()) {
  batcher_ = std::make_unique<Batcher>(predictor_, options_.max_batch, options_.max_delay_us,
                                       [this](int64_t rows) { metrics_.count_batch(rows); });
  const int threads = std::max(options_.http_threads, 1);
  http_->new_task_queue = [threads] { return new httplib::ThreadPool(static_cast<size_t>(threads)); };
  http_->set_payload_max_length(static_cast<size_t>(options_.max_body_bytes));
  http_->set_read_timeout(static_cast<time_t>(options_.read_timeout_seconds),
                          static_cast<time_t>((options_.read_timeout_seconds -
                                               static_cast<double>(static_cast<time_t>(options_.read_timeout_seconds))) *
                                              1e6));
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
  const ModelDescription& model = predictor_.description();
  const std::string name = options_.model_name;
  const std::string version = std::to_string(predictor_.step());
  const std::string input_datatype = model.input.dtype == DType::kUInt8 ? "UINT8" : "FP32";
  const int64_t size = predictor_.input_size();

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

  // Rows of `values` checked against the model's input; throws Refused.
  auto checked_rows = [this, size](const std::vector<float>& values, const std::string& what) {
    if (values.empty() || values.size() % static_cast<size_t>(size) != 0) {
      throw Refused{400, fmt::format("{} holds {} numbers, not rows of {} (the model's input is {} {})", what,
                                     values.size(), size, shape_json(predictor_.description().input.shape),
                                     predictor_.description().input.dtype == DType::kUInt8 ? "uint8" : "float32")};
    }
    const int64_t rows = static_cast<int64_t>(values.size()) / size;
    if (rows > options_.max_rows) {
      throw Refused{413, fmt::format("{} rows in one request; the server takes at most {}", rows, options_.max_rows)};
    }
    const std::string wrong = predictor_.check_input(Span<const float>(values.data(), values.size()));
    if (!wrong.empty()) throw Refused{400, fmt::format("{}: {}", what, wrong)};
    return rows;
  };
  // Wraps a handler: a Refused becomes its 4xx answer.
  auto guarded = [](auto handler) {
    return [handler](const httplib::Request& request, httplib::Response& response) {
      try {
        handler(request, response);
      } catch (const Refused& refused) {
        answer_error(response, refused.status, refused.message);
      }
    };
  };

  // Azure ML.
  http_->Get("/", [](const httplib::Request&, httplib::Response& response) {
    answer_json(response, 200, json{{"status", "healthy"}});
  });
  http_->Post("/score", guarded([this, checked_rows](const httplib::Request& request, httplib::Response& response) {
    const json body = parse_body(request);
    auto data = body.find("data");
    if (data == body.end()) throw Refused{400, "the body has no \"data\" (rows of input values)"};
    if (!data->is_array() || data->empty()) throw Refused{400, "\"data\" must be a non-empty array of rows"};
    std::vector<float> values;
    values.reserve(data->size() * static_cast<size_t>(predictor_.input_size()));
    for (size_t r = 0; r < data->size(); ++r) {
      const size_t before = values.size();
      flatten((*data)[r], values, fmt::format("row {} of \"data\"", r));
      if (values.size() - before != static_cast<size_t>(predictor_.input_size())) {
        throw Refused{400, fmt::format("row {} of \"data\" holds {} numbers; the model takes {} per row (input {})", r,
                                       values.size() - before, predictor_.input_size(),
                                       shape_json(predictor_.description().input.shape))};
      }
    }
    const int64_t rows = checked_rows(values, "\"data\"");
    Scores scores = batcher_->submit(std::move(values), rows).get();
    const ModelDescription& model = predictor_.description();
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
    if (asked != name) throw Refused{404, fmt::format("no model named '{}' here (this server serves '{}')", asked, name)};
  };
  http_->Get(models, guarded([=](const httplib::Request& request, httplib::Response& response) {
    known_model(request);
    std::vector<int64_t> input_shape = {-1};
    input_shape.insert(input_shape.end(), model.input.shape.begin(), model.input.shape.end());
    json outputs = json::array({json{{"name", "probabilities"}, {"datatype", "FP32"}, {"shape", json::array({-1, model.classes})}},
                                json{{"name", "predicted_class"}, {"datatype", "INT64"}, {"shape", json::array({-1})}}});
    if (!model.class_names.empty()) {
      outputs.push_back(json{{"name", "predicted_label"}, {"datatype", "BYTES"}, {"shape", json::array({-1})}});
    }
    answer_json(response, 200,
                json{{"name", name},
                     {"versions", json::array({version})},
                     {"platform", "ringtrain"},
                     {"inputs", json::array({json{{"name", "input"}, {"datatype", input_datatype}, {"shape", input_shape}}})},
                     {"outputs", outputs},
                     {"parameters",
                      {{"kind", model.kind}, {"input_scale", model.input.scale}, {"class_names", model.class_names},
                       {"checkpoint", predictor_.checkpoint_path()}}}});
  }));
  http_->Get(models + "/ready", guarded([=](const httplib::Request& request, httplib::Response& response) {
    known_model(request);
    answer_json(response, ready_ ? 200 : 503, json{{"name", name}, {"ready", ready_.load()}});
  }));
  http_->Post(models + "/infer", guarded([=](const httplib::Request& request, httplib::Response& response) {
    known_model(request);
    const json body = parse_body(request);
    auto inputs = body.find("inputs");
    if (inputs == body.end() || !inputs->is_array() || inputs->size() != 1) {
      throw Refused{400, "\"inputs\" must be a list of one tensor (the model's input, named \"input\")"};
    }
    const json& input = inputs->front();
    if (!input.is_object()) throw Refused{400, "\"inputs\"[0] must be an object with name, shape, datatype and data"};
    const std::string input_name = input.value("name", "");
    if (input_name != "input") throw Refused{400, fmt::format("no input named '{}'; the model's is \"input\"", input_name)};
    const json shape = input.value("shape", json());
    const std::string datatype = input.value("datatype", "");
    if (!numeric_datatype(datatype)) {
      throw Refused{400, fmt::format("datatype '{}' is not a numeric tensor type (the model's input is {})", datatype,
                                     input_datatype)};
    }
    if (!shape.is_array() || shape.empty()) throw Refused{400, "the input's \"shape\" must be a list of sizes"};
    int64_t elements = 1;
    for (const json& extent : shape) {
      if (!extent.is_number_integer() || extent.get<int64_t>() < 1 || extent.get<int64_t>() > (int64_t{1} << 31)) {
        throw Refused{400, fmt::format("the input's shape {} holds {}, not a positive size", shape.dump(), extent.dump())};
      }
      elements *= extent.get<int64_t>();
      if (elements > (int64_t{1} << 34)) throw Refused{400, fmt::format("the input's shape {} is too large", shape.dump())};
    }
    const int64_t rows = shape[0].get<int64_t>();
    if (elements != rows * size) {
      throw Refused{400, fmt::format("the input's shape {} is not [rows, {}] (the model's input is {})", shape.dump(),
                                     fmt::join(model.input.shape, ", "), shape_json(model.input.shape))};
    }
    auto data = input.find("data");
    if (data == input.end()) throw Refused{400, "the input has no \"data\""};
    std::vector<float> values;
    values.reserve(static_cast<size_t>(elements));
    flatten(*data, values, "the input's \"data\"");
    if (static_cast<int64_t>(values.size()) != elements) {
      throw Refused{400, fmt::format("the input's \"data\" holds {} numbers; its shape {} says {}", values.size(),
                                     shape.dump(), elements)};
    }
    checked_rows(values, "the input's \"data\"");
    // Which outputs: those asked for, else all.
    bool want_probabilities = true, want_class = true, want_label = !model.class_names.empty();
    if (auto asked = body.find("outputs"); asked != body.end()) {
      if (!asked->is_array()) throw Refused{400, "\"outputs\" must be a list of {\"name\": ...}"};
      want_probabilities = want_class = want_label = false;
      for (const json& output : *asked) {
        const std::string wanted = output.is_object() ? output.value("name", "") : "";
        if (wanted == "probabilities") {
          want_probabilities = true;
        } else if (wanted == "predicted_class") {
          want_class = true;
        } else if (wanted == "predicted_label" && !model.class_names.empty()) {
          want_label = true;
        } else {
          throw Refused{400, fmt::format("no output named '{}' (the model's are probabilities, predicted_class{})",
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
    json answer = {{"model_name", name}, {"model_version", version}, {"outputs", outputs}};
    if (auto id = body.find("id"); id != body.end() && id->is_string()) answer["id"] = *id;
    answer_json(response, 200, answer);
  }));

  http_->Get("/metrics", [this, name, version](const httplib::Request&, httplib::Response& response) {
    response.set_content(metrics_.render(batcher_->queued_rows(), name, version, predictor_.checkpoint_path()),
                         "text/plain; version=0.0.4");
  });
}

}  // namespace rt
