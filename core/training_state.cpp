#include "core/training_state.h"

#include <chrono>
#include <cmath>
#include <random>

#include <nlohmann/json.hpp>

#include "core/base/check.h"

namespace rt {

namespace {

constexpr int kFormatVersion = 1;
// Steps beyond this (2^53, where doubles stop counting exactly) are not a run's: a corrupt value.
constexpr int64_t kMaxStep = int64_t{1} << 53;
constexpr int64_t kMaxRanks = int64_t{1} << 20;

using nlohmann::json;

const json& member(const json& object, const char* key, const std::string& source) {
  RT_CHECK(object.contains(key), "{}: the key '{}' is missing", source, key);
  return object.at(key);
}

int64_t integer(const json& object, const char* key, const std::string& source, int64_t low, int64_t high) {
  const json& value = member(object, key, source);
  RT_CHECK(value.is_number_integer(), "{}: '{}' is {}, not an integer", source, key, value.dump());
  const bool too_large_for_int64 = value.is_number_unsigned() && value.get<uint64_t>() > static_cast<uint64_t>(high);
  RT_CHECK(!too_large_for_int64 && value.get<int64_t>() >= low && value.get<int64_t>() <= high,
           "{}: '{}' is {}, outside [{}, {}]", source, key, value.dump(), low, high);
  return value.get<int64_t>();
}

std::vector<int64_t> integers(const json& object, const char* key, const std::string& source, size_t count) {
  const json& value = member(object, key, source);
  RT_CHECK(value.is_array() && value.size() == count, "{}: '{}' is not a list of {} integers, one per rank", source,
           key, count);
  std::vector<int64_t> out;
  for (const json& element : value) {
    RT_CHECK(element.is_number_integer() && (element.is_number_unsigned() || element.get<int64_t>() >= 0) &&
                 element.get<uint64_t>() < static_cast<uint64_t>(kMaxStep),
             "{}: '{}' holds {}, not a count", source, key, element.dump());
    out.push_back(element.get<int64_t>());
  }
  return out;
}

std::vector<double> loss_sums(const json& object, const char* key, const std::string& source, size_t count) {
  const json& value = member(object, key, source);
  RT_CHECK(value.is_array() && value.size() == count, "{}: '{}' is not a list of {} numbers, one per rank", source,
           key, count);
  std::vector<double> out;
  for (const json& element : value) {
    RT_CHECK(element.is_number() && std::isfinite(element.get<double>()) && element.get<double>() >= 0,
             "{}: '{}' holds {}, not a sum of losses", source, key, element.dump());
    out.push_back(element.get<double>());
  }
  return out;
}

std::string optional_string(const json& object, const char* key, const std::string& source) {
  if (!object.contains(key)) return {};
  RT_CHECK(object.at(key).is_string(), "{}: '{}' is not a string", source, key);
  return object.at(key).get<std::string>();
}

}  // namespace

std::string serialize_state(const TrainingState& s) {
  // Doubles are written with enough digits to read back bit for bit.
  json j{{"format_version", kFormatVersion}, {"step", s.step}, {"epoch", s.epoch},
         {"step_in_epoch", s.step_in_epoch}, {"epoch_loss_sums", s.epoch_loss_sums},
         {"epoch_correct", s.epoch_correct}, {"epoch_samples", s.epoch_samples},
         {"consecutive_nonfinite", s.consecutive_nonfinite}, {"skipped_steps", s.skipped_steps},
         {"config_hash", s.config_hash}, {"ranks", s.ranks}, {"run_id", s.run_id}, {"model", s.model}};
  if (s.evaluated) {
    j["evaluation"] = {{"loss", s.evaluation_loss}, {"accuracy", s.evaluation_accuracy}, {"score", s.evaluation_score}};
  }
  return j.dump(2);
}

TrainingState parse_state(const std::string& text, const std::string& source) {
  json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  RT_CHECK(j.is_object(), "{}: not a JSON object", source);
  const int64_t version = integer(j, "format_version", source, 0, kMaxStep);
  RT_CHECK(version == kFormatVersion, "{}: format version {} is not supported", source, version);
  TrainingState s;
  s.step = integer(j, "step", source, 0, kMaxStep);
  // Every epoch begun took at least one step, and the skipped steps are some of the steps.
  s.epoch = integer(j, "epoch", source, 0, s.step);
  s.step_in_epoch = integer(j, "step_in_epoch", source, 0, s.step);
  s.skipped_steps = integer(j, "skipped_steps", source, 0, s.step);
  s.consecutive_nonfinite = integer(j, "consecutive_nonfinite", source, 0, s.skipped_steps);
  const json& hash = member(j, "config_hash", source);
  RT_CHECK(hash.is_number_unsigned(), "{}: 'config_hash' is {}, not an unsigned integer", source, hash.dump());
  s.config_hash = hash.get<uint64_t>();
  s.ranks = integer(j, "ranks", source, 1, kMaxRanks);
  const size_t ranks = static_cast<size_t>(s.ranks);
  s.epoch_loss_sums = loss_sums(j, "epoch_loss_sums", source, ranks);
  s.epoch_correct = integers(j, "epoch_correct", source, ranks);
  s.epoch_samples = integers(j, "epoch_samples", source, ranks);
  for (size_t r = 0; r < ranks; ++r) {
    RT_CHECK(s.epoch_correct[r] <= s.epoch_samples[r], "{}: rank {} has {} correct of {} samples", source, r,
             s.epoch_correct[r], s.epoch_samples[r]);
  }
  s.run_id = optional_string(j, "run_id", source);
  s.model = optional_string(j, "model", source);
  if (j.contains("evaluation")) {
    const json& e = j.at("evaluation");
    RT_CHECK(e.is_object(), "{}: 'evaluation' is not an object", source);
    auto figure = [&](const char* key, double low, double high) {
      RT_CHECK(e.contains(key) && e.at(key).is_number(), "{}: evaluation.{} is missing or not a number", source, key);
      const double v = e.at(key).get<double>();
      RT_CHECK(std::isfinite(v) && v >= low && v <= high, "{}: evaluation.{} = {} is out of range", source, key, v);
      return v;
    };
    s.evaluated = true;
    s.evaluation_loss = figure("loss", 0.0, 1e30);
    s.evaluation_accuracy = figure("accuracy", 0.0, 1.0);
    s.evaluation_score = figure("score", -1e30, 1.0);
  }
  return s;
}

std::string new_run_id() {
  std::random_device device;
  const uint64_t clock = static_cast<uint64_t>(std::chrono::system_clock::now().time_since_epoch().count());
  const uint64_t random = (static_cast<uint64_t>(device()) << 32) ^ device();
  return fmt::format("{:016x}", clock * 0x9e3779b97f4a7c15ULL ^ random);
}

}  // namespace rt
