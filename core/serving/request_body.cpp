#include "core/serving/request_body.h"

#include <fmt/format.h>
#include <simdjson.h>

namespace rt {

namespace {
using namespace simdjson;

constexpr int kMostDepth = 8;  // arrays nested in a row or a tensor's data

// What a flattened value is, for messages: "row 3 of \"data\"" (row >= 0) or the name alone;
// composed only on an error, so that a request's rows cost no text.
struct Where {
  const char* name;
  int64_t row = -1;
  std::string text() const { return row >= 0 ? fmt::format("row {} of {}", row, name) : std::string(name); }
};

// Appends the numbers of `value` (a number, or arrays of them) to `out`.
void flatten(ondemand::value value, std::vector<float>& out, const Where& where, int depth = 0) {
  switch (value.type()) {
    case ondemand::json_type::number:
      out.push_back(static_cast<float>(value.get_double()));
      return;
    case ondemand::json_type::array:
      if (depth >= kMostDepth) throw RequestError{400, fmt::format("{} holds arrays nested too deep", where.text())};
      for (auto entry : value.get_array()) flatten(entry.value(), out, where, depth + 1);
      return;
    default:
      throw RequestError{400, fmt::format("{} holds {}, not a number", where.text(),
                                          std::string(value.raw_json_token()).substr(0, 40))};
  }
}

// Parses `body` and runs `read` on its top-level object; simdjson's errors are the body's.
template <typename Read>
void read_object(const std::string& body, Read read) {
  thread_local ondemand::parser parser;
  const padded_string padded(body);
  try {
    ondemand::document document = parser.iterate(padded);
    if (document.type() != ondemand::json_type::object) throw RequestError{400, "the body must be a JSON object"};
    read(document.get_object());
  } catch (const simdjson_error& error) {
    throw RequestError{400, fmt::format("the body is not valid JSON ({})", error_message(error.error()))};
  }
}

std::string text(ondemand::value value, const char* what) {
  if (value.type() != ondemand::json_type::string) throw RequestError{400, fmt::format("{} must be text", what)};
  return std::string(value.get_string().value());
}
}  // namespace

ScoreRequest read_score_request(const std::string& body, int64_t row_size) {
  ScoreRequest request;
  bool found = false;
  read_object(body, [&](ondemand::object object) {
    for (auto field : object) {
      if (field.unescaped_key().value() != "data") continue;
      found = true;
      ondemand::value data = field.value();
      if (data.type() != ondemand::json_type::array) throw RequestError{400, "\"data\" must be an array of rows"};
      for (auto row : data.get_array()) {
        const size_t before = request.values.size();
        const Where where{"\"data\"", request.rows};
        flatten(row.value(), request.values, where);
        if (request.values.size() - before != static_cast<size_t>(row_size)) {
          throw RequestError{400, fmt::format("{} holds {} numbers; the model takes {} per row", where.text(),
                                              request.values.size() - before, row_size)};
        }
        ++request.rows;
      }
    }
  });
  if (!found) throw RequestError{400, "the body has no \"data\" (rows of input values)"};
  if (request.rows == 0) throw RequestError{400, "\"data\" must be a non-empty array of rows"};
  return request;
}

InferRequest read_infer_request(const std::string& body) {
  InferRequest request;
  int inputs = 0;
  bool has_data = false;
  read_object(body, [&](ondemand::object object) {
    for (auto field : object) {
      const std::string_view key = field.unescaped_key().value();
      ondemand::value value = field.value();
      if (key == "id") {
        if (value.type() == ondemand::json_type::string) request.id = std::string(value.get_string().value());
      } else if (key == "outputs") {
        if (value.type() != ondemand::json_type::array) throw RequestError{400, "\"outputs\" must be a list of {\"name\": ...}"};
        request.outputs_named = true;
        for (auto output : value.get_array()) {
          ondemand::value entry = output.value();
          std::string name;
          if (entry.type() == ondemand::json_type::object) {
            for (auto part : entry.get_object()) {
              if (part.unescaped_key().value() == "name") name = text(part.value(), "an output's \"name\"");
            }
          }
          request.outputs.push_back(name);
        }
      } else if (key == "inputs") {
        if (value.type() != ondemand::json_type::array) {
          throw RequestError{400, "\"inputs\" must be a list of one tensor (the model's input, named \"input\")"};
        }
        for (auto input : value.get_array()) {
          if (++inputs > 1) continue;
          ondemand::value tensor = input.value();
          if (tensor.type() != ondemand::json_type::object) {
            throw RequestError{400, "\"inputs\"[0] must be an object with name, shape, datatype and data"};
          }
          for (auto part : tensor.get_object()) {
            const std::string_view name = part.unescaped_key().value();
            ondemand::value entry = part.value();
            if (name == "name") {
              request.input_name = text(entry, "the input's \"name\"");
            } else if (name == "datatype") {
              request.datatype = text(entry, "the input's \"datatype\"");
            } else if (name == "shape") {
              if (entry.type() != ondemand::json_type::array) throw RequestError{400, "the input's \"shape\" must be a list of sizes"};
              for (auto extent : entry.get_array()) {
                ondemand::value size = extent.value();
                int64_t number = 0;
                if (size.type() != ondemand::json_type::number || size.get_int64().get(number) != SUCCESS ||
                    number < 1 || number > (int64_t{1} << 31)) {
                  throw RequestError{400, fmt::format("the input's \"shape\" holds {}, not a positive size",
                                                      std::string(size.raw_json_token()).substr(0, 40))};
                }
                request.shape.push_back(number);
              }
            } else if (name == "data") {
              has_data = true;
              flatten(entry, request.values, Where{"the input's \"data\""});
            }
          }
        }
      }
    }
  });
  if (inputs != 1) throw RequestError{400, "\"inputs\" must be a list of one tensor (the model's input, named \"input\")"};
  if (request.shape.empty()) throw RequestError{400, "the input's \"shape\" must be a list of sizes"};
  if (!has_data) throw RequestError{400, "the input has no \"data\""};
  return request;
}

}  // namespace rt
