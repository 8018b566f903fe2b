// `ringtrain info [CONFIG]`: what the job sees, the first command to run on a new cluster: every
// rank's host, local rank and GPU, the library versions, the configured paths after ${ENV}
// expansion with the file system each lives on (a blob mount shows as fuse.*), and the scheduler
// variables found (Batch AI, Azure ML, Slurm, Open MPI).
#include <hdf5.h>
#include <mpi.h>

#include <cstdlib>
#include <cstring>
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "comm/nccl_communicator.h"
#include "core/base/config.h"
#include "core/base/environment.h"
#include "core/cli/commands.h"
#include "core/train_config.h"
#include "kernels/cuda/cuda_kernels.h"

extern char** environ;

namespace rt {

namespace {

// The mount point and file-system type that hold `path` (the longest matching mount point).
std::string file_system_of(const std::string& path) {
  std::ifstream mounts("/proc/self/mountinfo");
  std::string line, best_point, best_type;
  while (std::getline(mounts, line)) {
    std::istringstream fields(line);
    std::string id, parent, device, root, point, options, field;
    fields >> id >> parent >> device >> root >> point >> options;
    while (fields >> field && field != "-") {
    }
    std::string type;
    fields >> type;
    bool inside = path == point || (path.rfind(point, 0) == 0 && (point == "/" || path[point.size()] == '/'));
    if (inside && point.size() >= best_point.size()) {
      best_point = point;
      best_type = type;
    }
  }
  return best_point.empty() ? "unknown" : best_type + " mounted at " + best_point;
}

std::string describe_path(const std::string& path) {
  if (path.empty()) return "(not set)";
  std::error_code error;
  bool exists = std::filesystem::exists(path, error);
  return fmt::format("{} ({}, {})", path, exists ? "exists" : "MISSING", file_system_of(path));
}

std::string library_versions() {
  char mpi[MPI_MAX_LIBRARY_VERSION_STRING] = "not initialised (not started by an MPI launcher)";
  int length = 0;
  if (MpiRuntime::active()) MPI_Get_library_version(mpi, &length);
  std::string mpi_text(mpi);
  mpi_text = mpi_text.substr(0, mpi_text.find_first_of(",\n"));
  unsigned major = 0, minor = 0, release = 0;
  H5get_libversion(&major, &minor, &release);
  return fmt::format("ringtrain: {}\nMPI: {}\nHDF5: {}.{}.{}\nCUDA: {}\nNCCL: {}", RINGTRAIN_VERSION, mpi_text, major, minor, release,
                     kernels::cuda::device_count() > 0 ? fmt::format("{} device(s) visible", kernels::cuda::device_count())
                                                       : std::string("no device visible"),
                     NcclCommunicator::available() ? NcclCommunicator::version() : std::string("not in this build"));
}

std::vector<std::string> scheduler_variables() {
  std::vector<std::string> found;
  for (char** entry = environ; *entry; ++entry) {
    std::string text(*entry);
    for (const char* prefix : {"AZ_BATCHAI_", "AZ_BATCH_", "AZUREML_", "SLURM_JOB", "SLURM_NNODES", "OMPI_COMM_WORLD_SIZE",
                               "OMPI_COMM_WORLD_LOCAL_SIZE", "RINGTRAIN_"}) {
      if (text.rfind(prefix, 0) == 0) found.push_back(text);
    }
  }
  std::sort(found.begin(), found.end());
  return found;
}

}  // namespace

CommandRunner add_info_command(CLI::App& app) {
  auto config_path = std::make_shared<std::string>();
  auto overrides = std::make_shared<std::vector<std::string>>();
  CLI::App* command = app.add_subcommand("info", "Print what this job sees: ranks, hosts, GPUs, versions, paths");
  command->add_option("config", *config_path, "A training configuration whose paths to check")
      ->check(CLI::ExistingFile);
  command->add_option("--set", *overrides, "Override a key: --set section.key=value (repeatable)");
  return [command, config_path, overrides](Communicator& comm) {
    if (!command->parsed()) return -1;
    Placement placement = detect_placement();
    int devices = kernels::cuda::device_count();
    std::string gpu = devices > 0 ? fmt::format("GPU {} of {}", placement.local_rank % devices, devices) : "no GPU";
    std::string mine = fmt::format("rank {:>4}  host {}  local rank {} of {}  {} thread(s)  {}", placement.rank,
                                   placement.host, placement.local_rank, placement.local_size,
                                   default_thread_count(placement), gpu);
    constexpr size_t kWidth = 160;
    std::vector<uint8_t> line(kWidth, 0), all(kWidth * static_cast<size_t>(comm.size()));
    std::memcpy(line.data(), mine.data(), std::min(mine.size(), kWidth - 1));
    comm.all_gather(Span<const uint8_t>(line.data(), kWidth), Span<uint8_t>(all));
    if (comm.rank() != 0) return 0;

    fmt::print("ringtrain info: {} rank(s)\n", comm.size());
    for (int r = 0; r < comm.size(); ++r) fmt::print("  {}\n", reinterpret_cast<const char*>(&all[kWidth * r]));
    fmt::print("{}\n", library_versions());
    if (!config_path->empty()) {
      Config config = Config::load_file(*config_path, *overrides);
      TrainConfig train = read_train_config(config);
      fmt::print("paths of {}:\n  data.train_dir  {}\n  data.test_dir   {}\n  checkpoint.dir  {}\n", *config_path,
                 describe_path(train.train_dir), describe_path(train.test_dir), describe_path(train.checkpoint_dir));
    }
    std::vector<std::string> variables = scheduler_variables();
    fmt::print("scheduler variables: {}\n", variables.empty() ? "none found" : "");
    for (const std::string& variable : variables) fmt::print("  {}\n", variable);
    return 0;
  };
}

}  // namespace rt
