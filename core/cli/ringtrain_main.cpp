#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "comm/communicator.h"
#include "core/base/check.h"
#include "core/base/check_hdf5.h"
#include "core/base/environment.h"
#include "core/base/logging.h"
#include "core/cli/commands.h"
#include "core/cli/ringtrain_main.h"

namespace rt {

int ringtrain_main(int argc, char** argv) {
  std::unique_ptr<rt::MpiRuntime> mpi;
  std::unique_ptr<rt::Communicator> comm;
  try {
    if (rt::started_by_mpi_launcher()) mpi = std::make_unique<rt::MpiRuntime>(&argc, &argv);
    rt::Placement placement = rt::detect_placement();
    rt::set_log_identity(placement.rank, placement.size, placement.host);
    rt::silence_hdf5_errors();
    comm = rt::make_world_communicator();

    CLI::App app{"ringtrain: data-parallel training over MPI, from HDF5 shards"};
    app.set_version_flag("--version", "ringtrain " RINGTRAIN_VERSION);
    app.require_subcommand(1);
    std::vector<rt::CommandRunner> commands{rt::add_train_command(app), rt::add_shard_command(app),
                                            rt::add_info_command(app), rt::add_generate_command(app),
                                            rt::add_serve_command(app), rt::add_evaluate_command(app),
                                            rt::add_predict_command(app), rt::add_export_command(app),
                                            rt::add_report_command(app), rt::add_launch_command(app)};
    // A first word that is no command is named as such (CLI11 would ask for a subcommand).
    std::vector<std::string> names;
    for (const CLI::App* command : app.get_subcommands({})) names.push_back(command->get_name());
    if (argc > 1 && argv[1][0] != '-' && std::find(names.begin(), names.end(), argv[1]) == names.end()) {
      std::string commands;
      for (const std::string& name : names) commands += (commands.empty() ? "" : ", ") + name;
      if (placement.rank == 0) fmt::print(stderr, "ringtrain: unknown command '{}'; the commands are {}\n", argv[1], commands);
      return 2;
    }
    try {
      app.parse(argc, argv);
    } catch (const CLI::ParseError& error) {
      int code = app.exit(error, placement.rank == 0 ? std::cout : rt::null_stream(),
                          placement.rank == 0 ? std::cerr : rt::null_stream());
      return code;
    }
    for (const rt::CommandRunner& command : commands) {
      int code = command(*comm);
      if (code >= 0) return code;
    }
  } catch (const std::exception& error) {
    const std::string text = rt::log_debug() ? std::string(error.what()) : rt::without_source_locations(error.what());
    rt::log_error("{}", text);
    if (comm && comm->size() > 1) comm->abort(text);
    return 1;
  }
  return 0;
}

}  // namespace rt
