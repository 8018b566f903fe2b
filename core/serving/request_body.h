// Reading scoring requests' JSON bodies (simdjson's on-demand parser: the numbers go straight into
// one float buffer, with no document tree; with nlohmann's tree, parsing took over half the
// server's time under load). Anything wrong is a RequestError: the HTTP status and a message that
// names the problem, for the client.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace rt {

struct RequestError {
  int status;
  std::string message;
};

// Azure ML's {"data": [row, ...]}: each row a number, or arrays of them nested to any depth, with
// `row_size` numbers in all. Other keys are ignored.
struct ScoreRequest {
  std::vector<float> values;  // rows x row_size
  int64_t rows = 0;
};
ScoreRequest read_score_request(const std::string& body, int64_t row_size);

// KServe v2's {"id"?, "inputs": [{"name", "shape", "datatype", "data"}], "outputs"?: [{"name"}]}
// with one input; `data` flat or nested, as many numbers as the shape says (checked).
struct InferRequest {
  std::string id;  // empty when none
  std::string input_name;
  std::vector<int64_t> shape;
  std::string datatype;
  std::vector<float> values;
  bool outputs_named = false;
  std::vector<std::string> outputs;
};
InferRequest read_infer_request(const std::string& body);

}  // namespace rt
