#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "core/base/config.h"
#include "core/base/environment.h"
#include "core/base/hash.h"
#include "core/base/logging.h"
#include "core/base/termination.h"
#include "core/cli/commands.h"
#include "core/gpu_binding.h"
#include "core/run_directory.h"
#include "core/trainer.h"
#include "kernels/kernels.h"

namespace rt {

namespace {
struct TrainArguments {
  std::string config_path;
  std::vector<std::string> overrides;
  std::string resume = "none";
};

// After a termination signal, the run has `grace` seconds to checkpoint and leave; past that the
// process ends anyway (a scheduler would kill it soon after), saying so.
void start_grace_watchdog(double grace) {
  std::thread([grace] {
    while (!termination_requested()) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    std::this_thread::sleep_for(std::chrono::duration<double>(grace));
    log_error("signal {} arrived {:.0f} s ago and the run has not finished its checkpoint; ending now",
              termination_signal(), grace);
    std::_Exit(kExitPreempted);
  }).detach();
}
}  // namespace

CommandRunner add_train_command(CLI::App& app) {
  auto arguments = std::make_shared<TrainArguments>();
  CLI::App* command = app.add_subcommand("train", "Train a model as configured (run under mpirun for several ranks)");
  command->add_option("config", arguments->config_path, "TOML configuration file")->required()->check(CLI::ExistingFile);
  command->add_option("--set", arguments->overrides, "Override a key: --set section.key=value (repeatable)")
      ->type_name("KEY=VALUE");
  command->add_option("--resume", arguments->resume,
                      "none; auto (the newest valid checkpoint in checkpoint.dir, if any); or a checkpoint directory")
      ->capture_default_str();
  return [command, arguments](Communicator& comm) {
    if (!command->parsed()) return -1;
    install_termination_handler();
    Config config = Config::load_file(arguments->config_path, arguments->overrides);
    TrainConfig train_config = read_train_config(config);
    train_config.resume = arguments->resume;
    const std::string effective = config.to_toml();
    train_config.config_hash = fnv1a(effective.data(), effective.size());
    train_config.config_text = effective;
    train_config.config_name = std::filesystem::path(arguments->config_path).stem().string();
    start_grace_watchdog(train_config.grace_seconds);
    set_log_all_ranks(train_config.log_all_ranks);
    set_log_debug(train_config.log_debug);
    prepare_run_directory(train_config, comm);

    Placement placement = detect_placement();
    int threads = train_config.threads > 0 ? static_cast<int>(train_config.threads) : default_thread_count(placement);
    kernels::set_cpu_threads(threads);
    kernels::set_cpu_blas(train_config.cpu_blas);
    // The first line of each rank says where it runs: host, local rank, and its GPU or CPU threads.
    std::string compute = fmt::format("cpu, {} thread(s) on {} available core(s), products by {}", threads,
                                      cores_available(), kernels::cpu_blas_description());
    if (train_config.device == Device::kCuda) {
      GpuBinding gpu = bind_gpu(placement.local_rank);
      compute = fmt::format("cuda, GPU {} of {} ({})", gpu.device, gpu.visible, gpu.description);
    }
    log_line(LogLevel::kInfo, fmt::format("rank {} of {} on {} (local rank {} of {}), {}", placement.rank,
                                          placement.size, placement.host, placement.local_rank, placement.local_size,
                                          compute));
    if (train_config.device == Device::kCpu && threads > cores_available()) {
      log_warning("{} threads on {} core(s) will thrash; mpirun binds each rank to a core unless given --bind-to none",
                  threads, cores_available());
    }
    // Training gets a communicator of its own, with the hierarchy and collective watchdog asked for.
    std::unique_ptr<Communicator> training = make_world_communicator(
        {train_config.hierarchical, train_config.timeout_seconds, train_config.verify_collectives,
         train_config.nonblocking, train_config.shared_memory});
    Trainer trainer(train_config, *training);
    TrainingResult result = trainer.run();
    if (result.preempted) {
      log_info("exiting with code {} (preempted{})", kExitPreempted,
               result.last_checkpoint.empty() ? ", no checkpoint.dir configured"
                                              : ", checkpoint " + result.last_checkpoint);
      return kExitPreempted;
    }
    return 0;
  };
}

}  // namespace rt
