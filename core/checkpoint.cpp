#include "core/checkpoint.h"

#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "core/base/check.h"
#include "core/base/logging.h"

namespace rt {

namespace {

namespace fs = std::filesystem;
constexpr int kFormatVersion = 1;
constexpr const char* kPrefix = "step-";

uint32_t crc32_of(const void* data, size_t bytes) {
  uLong crc = crc32(0L, Z_NULL, 0);
  const auto* cursor = static_cast<const Bytef*>(data);
  while (bytes > 0) {
    uInt piece = static_cast<uInt>(std::min<size_t>(bytes, 1u << 30));
    crc = crc32(crc, cursor, piece);
    cursor += piece;
    bytes -= piece;
  }
  return static_cast<uint32_t>(crc);
}

// Writes all bytes and forces them to storage before returning.
void write_file(const std::string& path, const void* data, size_t bytes) {
  FILE* file = std::fopen(path.c_str(), "wb");
  RT_CHECK(file != nullptr, "cannot create checkpoint file {}", path);
  size_t written = bytes == 0 ? 0 : std::fwrite(data, 1, bytes, file);
  bool ok = written == bytes && std::fflush(file) == 0 && fsync(fileno(file)) == 0;
  ok = std::fclose(file) == 0 && ok;
  RT_CHECK(ok, "cannot write checkpoint file {} ({} of {} bytes written)", path, written, bytes);
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  RT_CHECK(in.good(), "checkpoint file {} is missing or unreadable", path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::vector<float> floats_of(const std::string& bytes, const std::string& path) {
  RT_CHECK(bytes.size() % sizeof(float) == 0, "{}: {} bytes is not a whole number of floats", path, bytes.size());
  std::vector<float> values(bytes.size() / sizeof(float));
  std::copy(bytes.begin(), bytes.end(), reinterpret_cast<char*>(values.data()));
  return values;
}

}  // namespace

std::string serialize_state(const TrainingState& s) {
  // Doubles are written with enough digits to read back bit for bit.
  return nlohmann::json{{"format_version", kFormatVersion}, {"step", s.step}, {"epoch", s.epoch},
                        {"step_in_epoch", s.step_in_epoch}, {"epoch_loss_sums", s.epoch_loss_sums},
                        {"epoch_correct", s.epoch_correct}, {"epoch_samples", s.epoch_samples},
                        {"consecutive_nonfinite", s.consecutive_nonfinite}, {"skipped_steps", s.skipped_steps},
                        {"config_hash", s.config_hash}, {"ranks", s.ranks}, {"model", s.model}}
      .dump(2);
}

TrainingState parse_state(const std::string& text, const std::string& path) {
  try {
    nlohmann::json j = nlohmann::json::parse(text);
    RT_CHECK(j.at("format_version").get<int>() == kFormatVersion, "{}: format version {} is not supported", path,
             j.at("format_version").get<int>());
    TrainingState s;
    s.step = j.at("step").get<int64_t>();
    s.epoch = j.at("epoch").get<int64_t>();
    s.step_in_epoch = j.at("step_in_epoch").get<int64_t>();
    s.epoch_loss_sums = j.at("epoch_loss_sums").get<std::vector<double>>();
    s.epoch_correct = j.at("epoch_correct").get<std::vector<int64_t>>();
    s.epoch_samples = j.at("epoch_samples").get<std::vector<int64_t>>();
    s.consecutive_nonfinite = j.at("consecutive_nonfinite").get<int64_t>();
    s.skipped_steps = j.at("skipped_steps").get<int64_t>();
    s.config_hash = j.at("config_hash").get<uint64_t>();
    s.ranks = j.at("ranks").get<int64_t>();
    s.model = j.value("model", std::string());
    size_t ranks = static_cast<size_t>(s.ranks);
    RT_CHECK(s.epoch_loss_sums.size() == ranks && s.epoch_correct.size() == ranks && s.epoch_samples.size() == ranks,
             "{}: the epoch sums do not have one entry for each of {} ranks", path, s.ranks);
    return s;
  } catch (const nlohmann::json::exception& error) {
    RT_FAIL("{}: {}", path, error.what());
  }
}

CheckpointStore::CheckpointStore(std::string directory, int64_t keep) : directory_(std::move(directory)), keep_(keep) {
  RT_CHECK(keep_ >= 1, "checkpoint.keep must be at least 1, not {}", keep_);
}

std::string CheckpointStore::save(const TrainingState& state, Span<const float> parameters,
                                  Span<const float> optimizer_state) {
  std::string path = fmt::format("{}/{}{:09d}", directory_, kPrefix, state.step);
  std::error_code error;
  fs::create_directories(path, error);
  RT_CHECK(!error, "cannot create checkpoint directory {}: {}", path, error.message());
  fs::remove(path + "/manifest.json", error);  // an older, uncommitted attempt at this step

  std::string state_text = serialize_state(state);
  struct Piece {
    const char* name;
    const void* data;
    size_t bytes;
  };
  const Piece pieces[] = {{"parameters.f32", parameters.data(), parameters.size_bytes()},
                          {"optimizer.f32", optimizer_state.data(), optimizer_state.size_bytes()},
                          {"state.json", state_text.data(), state_text.size()}};
  nlohmann::json files = nlohmann::json::array();
  for (const Piece& piece : pieces) {
    write_file(path + "/" + piece.name, piece.data, piece.bytes);
    files.push_back({{"name", piece.name}, {"bytes", piece.bytes}, {"crc32", crc32_of(piece.data, piece.bytes)}});
  }
  // The commit: the manifest, last. Until it is complete the checkpoint does not verify.
  std::string manifest = nlohmann::json{{"format_version", kFormatVersion}, {"step", state.step}, {"files", files}}.dump(2);
  write_file(path + "/manifest.json", manifest.data(), manifest.size());

  std::vector<std::string> all = checkpoint_paths();
  for (size_t i = static_cast<size_t>(keep_); i < all.size(); ++i) {
    fs::remove_all(all[i], error);
    if (error) log_warning("cannot remove old checkpoint {}: {}", all[i], error.message());
  }
  return path;
}

Checkpoint CheckpointStore::load(const std::string& path) {
  std::string manifest_path = path + "/manifest.json";
  nlohmann::json manifest;
  try {
    manifest = nlohmann::json::parse(read_file(manifest_path));
    RT_CHECK(manifest.at("format_version").get<int>() == kFormatVersion, "{}: format version {} is not supported",
             manifest_path, manifest.at("format_version").get<int>());
  } catch (const nlohmann::json::exception& error) {
    RT_FAIL("{} is incomplete or not a manifest: {}", manifest_path, error.what());
  }
  Checkpoint checkpoint;
  checkpoint.path = path;
  bool have_state = false, have_parameters = false, have_optimizer = false;
  for (const nlohmann::json& entry : manifest.at("files")) {
    std::string name = entry.at("name").get<std::string>();
    std::string file = path + "/" + name;
    std::string bytes = read_file(file);
    RT_CHECK(bytes.size() == entry.at("bytes").get<size_t>(), "{} holds {} bytes, the manifest says {}", file,
             bytes.size(), entry.at("bytes").get<size_t>());
    RT_CHECK(crc32_of(bytes.data(), bytes.size()) == entry.at("crc32").get<uint32_t>(),
             "{} does not match its checksum in the manifest", file);
    if (name == "state.json") {
      checkpoint.state = parse_state(bytes, file);
      have_state = true;
    } else if (name == "parameters.f32") {
      checkpoint.parameters = floats_of(bytes, file);
      have_parameters = true;
    } else if (name == "optimizer.f32") {
      checkpoint.optimizer_state = floats_of(bytes, file);
      have_optimizer = true;
    }
  }
  RT_CHECK(have_state && have_parameters && have_optimizer, "{} does not list every file of a checkpoint",
           manifest_path);
  return checkpoint;
}

std::vector<std::string> CheckpointStore::checkpoint_paths() const {
  std::vector<std::string> paths;
  std::error_code error;
  if (!fs::is_directory(directory_, error)) return paths;
  for (const fs::directory_entry& entry : fs::directory_iterator(directory_, error)) {
    std::string name = entry.path().filename().string();
    if (entry.is_directory() && name.rfind(kPrefix, 0) == 0) paths.push_back(entry.path().string());
  }
  std::sort(paths.rbegin(), paths.rend());  // zero-padded step numbers: newest first
  return paths;
}

std::optional<Checkpoint> CheckpointStore::load_newest() const {
  for (const std::string& path : checkpoint_paths()) {
    try {
      return load(path);
    } catch (const Error& error) {
      log_warning("skipping checkpoint {}: {}", path, error.what());
    }
  }
  return std::nullopt;
}

}  // namespace rt
