#include "core/run_directory.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/base/check.h"
#include "core/base/environment.h"
#include "core/base/logging.h"
#include "core/checkpoint.h"
#include "core/step_meter.h"

namespace rt {

namespace {
namespace fs = std::filesystem;

constexpr const char* kRunsFolder = "runs";
// In a checkpoint directory: the path of the run directory whose checkpoints it holds.
constexpr const char* kRunRecord = "RUN";

std::string read_text(const fs::path& path) {
  std::ifstream in(path);
  std::string text;
  std::getline(in, text);
  return text;
}

bool holds_checkpoints(const fs::path& directory) {
  return !CheckpointStore::checkpoint_paths_in(directory.string()).empty();
}

// The run directory a resumed run continues, or "" when there is none to continue.
std::string continued_run_directory(const TrainConfig& config) {
  std::error_code error;
  if (config.checkpoint_dir_set || config.resume != "auto") {
    // The checkpoint directory says whose checkpoints it holds: checkpoint.dir, or the folder of
    // the checkpoint --resume names.
    const fs::path checkpoints = config.checkpoint_dir_set ? fs::path(config.checkpoint_dir)
                                                           : fs::path(CheckpointStore::directory_of(config.resume));
    const std::string recorded = read_text(checkpoints / kRunRecord);
    return !recorded.empty() && fs::is_directory(recorded, error) ? recorded : std::string();
  }
  // The newest runs/<name>-* with checkpoints: the names sort by their UTC time.
  std::vector<std::string> candidates;
  const std::string prefix = config.config_name + "-";
  if (fs::is_directory(kRunsFolder, error)) {
    for (const fs::directory_entry& entry : fs::directory_iterator(kRunsFolder, error)) {
      const std::string name = entry.path().filename().string();
      if (name.rfind(prefix, 0) == 0 && holds_checkpoints(entry.path() / "checkpoints")) {
        candidates.push_back(entry.path().string());
      }
    }
  }
  std::sort(candidates.begin(), candidates.end());
  return candidates.empty() ? std::string() : candidates.back();
}

// Creates a directory of its own for a new run: NAME-TIME, or NAME-TIME-2, ... when taken.
std::string create_new_run_directory(const std::string& config_name) {
  const fs::path base = fs::path(kRunsFolder) / new_run_directory_name(config_name);
  std::error_code error;
  fs::create_directories(kRunsFolder, error);
  RT_CHECK(!error, "cannot create the folder {} for the run's record: {}", kRunsFolder, error.message());
  for (int n = 1;; ++n) {
    const fs::path candidate = n == 1 ? base : fs::path(base.string() + fmt::format("-{}", n));
    if (fs::create_directory(candidate, error)) return candidate.string();
    RT_CHECK(!error, "cannot create the run directory {}: {}", candidate.string(), error.message());
  }
}

void write_file(const fs::path& path, const std::string& text, const std::string& what) {
  std::ofstream out(path, std::ios::out | std::ios::trunc);
  out << text;
  out.flush();
  if (!out.good()) {
    throw Error(fmt::format("{} {} cannot be written ({}): check that it exists on a writable file system",
                            what, path.parent_path().string(), std::strerror(errno)));
  }
}

}  // namespace

std::string new_run_directory_name(const std::string& config_name) {
  std::time_t now = std::time(nullptr);
  std::tm utc{};
  gmtime_r(&now, &utc);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", &utc);
  return fmt::format("{}-{}", config_name, stamp);
}

void prepare_run_directory(TrainConfig& config, Communicator& comm) {
  std::string directory;
  if (comm.rank() == 0) {
    if (config.run_dir_set) {
      directory = config.run_dir;  // "" when the configuration asks for none
    } else {
      if (config.resume != "none") directory = continued_run_directory(config);
      if (directory.empty()) directory = create_new_run_directory(config.config_name);
    }
  }
  directory = broadcast_text(comm, directory);
  config.run_dir = directory;
  if (directory.empty()) return;
  if (!config.checkpoint_dir_set) config.checkpoint_dir = (fs::path(directory) / "checkpoints").string();
  if (config.metrics_path.empty()) config.metrics_path = (fs::path(directory) / "metrics.jsonl").string();

  std::error_code error;
  fs::create_directories(fs::path(directory) / "logs", error);
  RT_CHECK(!error, "cannot create the run directory {}: {}", directory, error.message());
  set_log_file((fs::path(directory) / "logs" / fmt::format("rank-{}.log", comm.rank())).string());
  if (comm.rank() == 0) {
    write_file(fs::path(directory) / "config.toml", config.config_text, "the run directory");
    if (!config.checkpoint_dir.empty()) {
      // Written now, so that a checkpoint directory that cannot be written fails the run at once,
      // not after its first epoch.
      fs::create_directories(config.checkpoint_dir, error);
      RT_CHECK(!error, "checkpoint.dir {} cannot be created: {}", config.checkpoint_dir, error.message());
      // A new run in a folder of another run's checkpoints is refused by the trainer: it must not
      // take over that run's record, only prove the folder writable.
      const bool taken = config.resume == "none" && holds_checkpoints(config.checkpoint_dir);
      const fs::path record = fs::path(config.checkpoint_dir) / (taken ? ".write-test" : kRunRecord);
      write_file(record, fs::absolute(directory).string() + "\n", "checkpoint.dir");
      if (taken) fs::remove(record, error);
    }
  }
  // run.json: the machine of this run (of its latest start, when resumed), for the report.
  constexpr size_t kHostBytes = 64;
  std::vector<uint8_t> mine(kHostBytes, 0), hosts(kHostBytes * static_cast<size_t>(comm.size()), 0);
  const std::string host = host_name().substr(0, kHostBytes - 1);
  std::copy(host.begin(), host.end(), mine.begin());
  comm.all_gather(Span<const uint8_t>(mine.data(), mine.size()), Span<uint8_t>(hosts));
  if (comm.rank() == 0) {
    nlohmann::json hosts_of_ranks = nlohmann::json::array();
    for (int r = 0; r < comm.size(); ++r) {
      hosts_of_ranks.push_back(std::string(reinterpret_cast<const char*>(hosts.data()) + kHostBytes * r));
    }
    const nlohmann::json machine = {{"ringtrain", RINGTRAIN_VERSION},
                                    {"config_name", config.config_name},
                                    {"ranks", comm.size()},
                                    {"hosts", hosts_of_ranks},
                                    {"device", config.device == Device::kCuda ? "cuda" : "cpu"},
                                    {"started", unix_time_now()},
                                    {"resumed", config.resume != "none"}};
    write_file(fs::path(directory) / "run.json", machine.dump(2) + "\n", "the run directory");
  }
  comm.barrier();
  log_info("run directory {}: metrics in {}, logs in {}/logs{}", directory, config.metrics_path, directory,
           config.checkpoint_dir.empty() ? std::string() : ", checkpoints in " + config.checkpoint_dir);
}

}  // namespace rt
