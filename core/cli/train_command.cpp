#include <string>
#include <vector>

#include "core/base/config.h"
#include "core/base/environment.h"
#include "core/base/logging.h"
#include "core/cli/commands.h"
#include "core/trainer.h"
#include "kernels/kernels.h"

namespace rt {

namespace {
struct TrainArguments {
  std::string config_path;
  std::vector<std::string> overrides;
};
}  // namespace

CommandRunner add_train_command(CLI::App& app) {
  auto arguments = std::make_shared<TrainArguments>();
  CLI::App* command = app.add_subcommand("train", "Train a model as configured (run under mpirun for several ranks)");
  command->add_option("config", arguments->config_path, "TOML configuration file")->required()->check(CLI::ExistingFile);
  command->add_option("--set", arguments->overrides, "Override a key: --set section.key=value (repeatable)")
      ->type_name("KEY=VALUE");
  return [command, arguments](Communicator& comm) {
    if (!command->parsed()) return;
    Config config = Config::load_file(arguments->config_path, arguments->overrides);
    TrainConfig train_config = read_train_config(config);
    set_log_all_ranks(train_config.log_all_ranks);

    Placement placement = detect_placement();
    int threads = train_config.threads > 0 ? static_cast<int>(train_config.threads) : default_thread_count(placement);
    kernels::set_cpu_threads(threads);
    log_line(LogLevel::kInfo,
             fmt::format("rank {} of {} on {} (local rank {} of {}), {} {} thread(s) on {} available core(s), {} backend",
                         placement.rank, placement.size, placement.host, placement.local_rank, placement.local_size,
                         device_name(train_config.device), threads, cores_available(),
                         train_config.hierarchical ? "mpi-hierarchical" : comm.backend()));
    if (threads > cores_available()) {
      log_warning("{} threads on {} core(s) will thrash; mpirun binds each rank to a core unless given --bind-to none",
                  threads, cores_available());
    }
    std::unique_ptr<Communicator> hierarchical;
    if (train_config.hierarchical && comm.size() > 1) hierarchical = make_world_communicator({true});
    Trainer trainer(train_config, hierarchical ? *hierarchical : comm);
    trainer.run();
  };
}

}  // namespace rt
