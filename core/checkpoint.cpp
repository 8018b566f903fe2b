#include "core/checkpoint.h"

#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "core/base/check.h"
#include "core/base/logging.h"

namespace rt {

namespace {

namespace fs = std::filesystem;
constexpr int kFormatVersion = 1;
constexpr const char* kPrefix = "step-";
const char* const kFiles[] = {"parameters.f32", "optimizer.f32", "state.json"};

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
  if (file == nullptr && errno == ENOENT) {
    // Blob storage has no directories: a mount (rclone, blobfuse) keeps a new, still empty one in
    // its cache only, and may forget it when it lists the container before the first file's upload
    // is done. Made again, the next file goes in.
    std::error_code error;
    fs::create_directories(fs::path(path).parent_path(), error);
    file = std::fopen(path.c_str(), "wb");
  }
  RT_CHECK(file != nullptr, "cannot create checkpoint file {}: {}", path, std::strerror(errno));
  size_t written = bytes == 0 ? 0 : std::fwrite(data, 1, bytes, file);
  bool ok = written == bytes && std::fflush(file) == 0 && fsync(fileno(file)) == 0;
  const int write_error = ok ? 0 : errno;
  ok = std::fclose(file) == 0 && ok;
  const int error = write_error != 0 ? write_error : errno;
  RT_CHECK(ok, "cannot write checkpoint file {}: {} ({} of {} bytes written)", path, std::strerror(error), written,
           bytes);
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  RT_CHECK(in.good(), "checkpoint file {} is missing or unreadable", path);
  std::ostringstream text;
  text << in.rdbuf();
  RT_CHECK(!in.bad(), "cannot read checkpoint file {}", path);
  return text.str();
}

// The arena in `bytes`; a non-finite value makes the checkpoint invalid (a run never stores one:
// steps with non-finite gradients are skipped).
std::vector<float> finite_floats_of(const std::string& bytes, const std::string& path) {
  RT_CHECK(bytes.size() % sizeof(float) == 0, "{}: {} bytes is not a whole number of floats", path, bytes.size());
  std::vector<float> values(bytes.size() / sizeof(float));
  std::memcpy(values.data(), bytes.data(), bytes.size());
  auto bad = std::find_if(values.begin(), values.end(), [](float v) { return !std::isfinite(v); });
  if (bad != values.end()) {
    RT_FAIL("{} holds {} non-finite value(s), the first at index {}", path,
            std::count_if(bad, values.end(), [](float v) { return !std::isfinite(v); }), bad - values.begin());
  }
  return values;
}

struct ManifestEntry {
  std::string name;
  uint64_t bytes = 0;
  uint32_t crc32 = 0;
};

// The manifest's files: each of kFiles once, with an unsigned size and a 32-bit checksum.
std::vector<ManifestEntry> parse_manifest(const std::string& text, const std::string& path, int64_t& step) {
  nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  RT_CHECK(j.is_object(), "{} is incomplete or not a manifest", path);
  RT_CHECK(j.contains("format_version") && j["format_version"].is_number_integer() &&
               j["format_version"].get<int64_t>() == kFormatVersion,
           "{}: the format version is missing or not {}", path, kFormatVersion);
  RT_CHECK(j.contains("step") && j["step"].is_number_unsigned(), "{}: 'step' is missing or not a step", path);
  step = static_cast<int64_t>(std::min<uint64_t>(j["step"].get<uint64_t>(), INT64_MAX));
  RT_CHECK(j.contains("files") && j["files"].is_array(), "{}: 'files' is missing or not a list", path);
  std::vector<ManifestEntry> entries;
  std::set<std::string> names;
  for (const nlohmann::json& file : j["files"]) {
    RT_CHECK(file.is_object() && file.contains("name") && file["name"].is_string(), "{}: a file without a name",
             path);
    ManifestEntry entry;
    entry.name = file["name"].get<std::string>();
    RT_CHECK(std::find(std::begin(kFiles), std::end(kFiles), entry.name) != std::end(kFiles) &&
                 names.insert(entry.name).second,
             "{}: '{}' is not a checkpoint file or is listed twice", path, entry.name);
    RT_CHECK(file.contains("bytes") && file["bytes"].is_number_unsigned(), "{}: the size of {} is missing or not a size",
             path, entry.name);
    RT_CHECK(file.contains("crc32") && file["crc32"].is_number_unsigned() && file["crc32"].get<uint64_t>() <= UINT32_MAX,
             "{}: the checksum of {} is missing or not a CRC-32", path, entry.name);
    entry.bytes = file["bytes"].get<uint64_t>();
    entry.crc32 = static_cast<uint32_t>(file["crc32"].get<uint64_t>());
    entries.push_back(entry);
  }
  RT_CHECK(names.size() == std::size(kFiles), "{} does not list every file of a checkpoint", path);
  return entries;
}

// The step in a directory name step-NNNNNNNNN, or -1 when the name is not one.
int64_t step_in_name(const std::string& path) {
  const std::string name = fs::path(path).filename().string();
  if (name.rfind(kPrefix, 0) != 0 || name.size() == std::strlen(kPrefix)) return -1;
  const std::string digits = name.substr(std::strlen(kPrefix));
  if (digits.size() > 18 || !std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return -1;
  }
  return std::stoll(digits);
}

Checkpoint load_verified(const std::string& path) {
  const std::string manifest_path = path + "/manifest.json";
  int64_t manifest_step = -1;
  std::vector<ManifestEntry> entries = parse_manifest(read_file(manifest_path), manifest_path, manifest_step);
  Checkpoint checkpoint;
  checkpoint.path = path;
  for (const ManifestEntry& entry : entries) {
    const std::string file = path + "/" + entry.name;
    std::error_code error;
    const uintmax_t size = fs::file_size(file, error);
    RT_CHECK(!error, "checkpoint file {} is missing or unreadable: {}", file, error.message());
    RT_CHECK(size == entry.bytes, "{} holds {} bytes, the manifest says {}", file, size, entry.bytes);
    const std::string bytes = read_file(file);
    RT_CHECK(bytes.size() == entry.bytes, "{} holds {} bytes, the manifest says {}", file, bytes.size(), entry.bytes);
    RT_CHECK(crc32_of(bytes.data(), bytes.size()) == entry.crc32, "{} does not match its checksum in the manifest",
             file);
    if (entry.name == "state.json") {
      checkpoint.state = parse_state(bytes, file);
    } else if (entry.name == "parameters.f32") {
      checkpoint.parameters = finite_floats_of(bytes, file);
    } else {
      checkpoint.optimizer_state = finite_floats_of(bytes, file);
    }
  }
  RT_CHECK(checkpoint.state.step == manifest_step, "{} is for step {}, its state.json for step {}", manifest_path,
           manifest_step, checkpoint.state.step);
  const int64_t named = step_in_name(path);
  RT_CHECK(named < 0 || named == manifest_step, "{} holds the checkpoint of step {}", path, manifest_step);
  return checkpoint;
}

}  // namespace

CheckpointStore::CheckpointStore(std::string directory, int64_t keep, bool keep_best)
    : directory_(std::move(directory)), keep_(keep), keep_best_(keep_best) {
  RT_CHECK(keep_ >= 1, "checkpoint.keep must be at least 1, not {}", keep_);
}

std::string CheckpointStore::save(const TrainingState& state, Span<const float> parameters,
                                  Span<const float> optimizer_state) {
  std::string path = fmt::format("{}/{}{:09d}", directory_, kPrefix, state.step);
  set_writing(path);
  std::error_code error;
  fs::create_directories(path, error);
  RT_CHECK(!error, "cannot create checkpoint directory {}: {}", path, error.message());
  fs::remove(path + "/manifest.json", error);  // an older, uncommitted attempt at this step
  verdicts_.erase(path);

  std::string state_text = serialize_state(state);
  struct Piece {
    const char* name;
    const void* data;
    size_t bytes;
  };
  const Piece pieces[] = {{kFiles[0], parameters.data(), parameters.size_bytes()},
                          {kFiles[1], optimizer_state.data(), optimizer_state.size_bytes()},
                          {kFiles[2], state_text.data(), state_text.size()}};
  nlohmann::json files = nlohmann::json::array();
  for (const Piece& piece : pieces) {
    set_writing(path + "/" + piece.name);
    write_file(path + "/" + piece.name, piece.data, piece.bytes);
    files.push_back({{"name", piece.name}, {"bytes", piece.bytes}, {"crc32", crc32_of(piece.data, piece.bytes)}});
  }
  // The commit: the manifest, last. Until it is complete the checkpoint does not verify.
  std::string manifest = nlohmann::json{{"format_version", kFormatVersion}, {"step", state.step}, {"files", files}}.dump(2);
  set_writing(path + "/manifest.json");
  write_file(path + "/manifest.json", manifest.data(), manifest.size());
  verdicts_[path] = verdict_of(state);
  set_writing(directory_);  // listed for pruning
  prune(state);
  set_writing("");
  return path;
}

void CheckpointStore::prune(const TrainingState& written) {
  const std::vector<std::string> paths = checkpoint_paths();
  // A valid checkpoint of this run's newer than the one just written (resumed from an older one
  // by name) is kept and not counted.
  auto ours = [&](const std::string& path) {
    const Verdict& found = verdict(path);
    return found.valid && !written.run_id.empty() && found.run_id == written.run_id &&
           step_in_name(path) <= written.step;
  };
  std::string best;  // checkpoint.keep_best: this run's best evaluated checkpoint (the newest of equals)
  for (const std::string& path : paths) {
    if (keep_best_ && ours(path) && verdict(path).evaluated &&
        (best.empty() || verdict(path).score > verdict(best).score)) {
      best = path;
    }
  }
  int64_t kept = 0;
  for (const std::string& path : paths) {
    const Verdict& found = verdict(path);
    const int64_t step = step_in_name(path);
    const bool stale_invalid = !found.valid && step < written.step;
    if (ours(path) && ++kept <= keep_) continue;
    if (path == best) continue;  // beyond the newest `keep`
    if (!ours(path) && !stale_invalid) continue;  // another run's, or newer than this one: not ours to judge
    if (stale_invalid) log_warning("removing invalid checkpoint {}, older than the one just written", path);
    std::error_code error;
    fs::remove_all(path, error);
    if (error) log_warning("cannot remove checkpoint {}: {}", path, error.message());
    verdicts_.erase(path);
  }
}

void CheckpointStore::set_writing(const std::string& file) const {
  std::lock_guard<std::mutex> lock(writing_mutex_);
  writing_ = file;
}

std::string CheckpointStore::writing() const {
  std::lock_guard<std::mutex> lock(writing_mutex_);
  return writing_;
}

void CheckpointStore::record_preemption(int64_t step, int signal, const std::string& checkpoint) const {
  const std::time_t now = std::time(nullptr);
  std::tm utc{};
  gmtime_r(&now, &utc);
  char time[32];
  std::strftime(time, sizeof time, "%Y-%m-%dT%H:%M:%SZ", &utc);
  const std::string record =
      nlohmann::json{{"step", step}, {"time", time}, {"signal", signal}, {"checkpoint", checkpoint}}.dump(2) + "\n";
  write_file(preemption_record_path(), record.data(), record.size());
}

void CheckpointStore::clear_preemption_record() const {
  std::error_code error;
  fs::remove(preemption_record_path(), error);
  if (error) log_warning("cannot remove {}: {}", preemption_record_path(), error.message());
}

Checkpoint CheckpointStore::load(const std::string& path) {
  try {
    return load_verified(path);
  } catch (const Error&) {
    throw;
  } catch (const std::exception& error) {  // the file system's, or memory for a size no checkpoint has
    RT_FAIL("cannot read checkpoint {}: {}", path, error.what());
  }
}

const CheckpointStore::Verdict& CheckpointStore::verdict(const std::string& path) const {
  auto known = verdicts_.find(path);
  if (known != verdicts_.end()) return known->second;
  Verdict verdict;
  set_writing(path);
  try {
    verdict = verdict_of(load(path).state);
  } catch (const Error& error) {
    log_warning("invalid checkpoint {}: {}", path, error.what());
  }
  return verdicts_[path] = verdict;
}

std::string CheckpointStore::directory_of(const std::string& path) {
  fs::path checkpoint = fs::absolute(path).lexically_normal();
  if (!checkpoint.has_filename()) checkpoint = checkpoint.parent_path();  // written with a trailing slash
  return checkpoint.parent_path().string();
}

std::vector<std::string> CheckpointStore::checkpoint_paths_in(const std::string& directory) {
  std::vector<std::string> paths;
  std::error_code error;
  if (!fs::is_directory(directory, error)) return paths;
  for (const fs::directory_entry& entry : fs::directory_iterator(directory, error)) {
    if (entry.is_directory() && step_in_name(entry.path().string()) >= 0) paths.push_back(entry.path().string());
  }
  std::sort(paths.begin(), paths.end(),
            [](const std::string& a, const std::string& b) { return step_in_name(a) > step_in_name(b); });
  return paths;
}

std::optional<Checkpoint> CheckpointStore::load_newest(const std::function<void(const Checkpoint&)>& fits) const {
  for (const std::string& path : checkpoint_paths()) {
    try {
      Checkpoint checkpoint = load(path);
      if (fits) fits(checkpoint);
      verdicts_[path] = verdict_of(checkpoint.state);
      return checkpoint;
    } catch (const Error& error) {
      log_warning("skipping checkpoint {}: {}", path, error.what());
      verdicts_[path] = Verdict{};
    }
  }
  return std::nullopt;
}

}  // namespace rt
