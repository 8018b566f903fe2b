// `ringtrain report RUN_DIR... [--output FILE]` (core/report/report.h).
#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "core/base/logging.h"
#include "core/cli/commands.h"
#include "core/report/report.h"

namespace rt {

namespace {
struct ReportArguments {
  std::vector<std::string> runs;
  std::string output;
  size_t max_points = ReportOptions{}.max_points;
};
}  // namespace

CommandRunner add_report_command(CLI::App& app) {
  auto a = std::make_shared<ReportArguments>();
  CLI::App* command = app.add_subcommand("report", "Write one HTML page of training runs' curves, machine and checkpoints");
  command->add_option("runs", a->runs, "Run directories (log.dir); several are overlaid")->required();
  command->add_option("--output", a->output, "The page to write (default: RUN_DIR/report.html for one run, "
                                             "report.html for several)");
  command->add_option("--max-points", a->max_points, "Points per curve; longer runs are averaged down")
      ->capture_default_str()
      ->check(CLI::Range(size_t{10}, size_t{1000000}));
  return [command, a](Communicator& comm) {
    if (!command->parsed()) return -1;
    if (comm.rank() != 0) return 0;
    std::string output = a->output;
    if (output.empty()) output = a->runs.size() == 1 ? (std::filesystem::path(a->runs[0]) / "report.html").string()
                                                     : std::string("report.html");
    const auto start = std::chrono::steady_clock::now();
    write_report(a->runs, output, ReportOptions{a->max_points});
    log_info("wrote {} ({} run(s), {:.1f} kB, {:.0f} ms)", output, a->runs.size(),
             static_cast<double>(std::filesystem::file_size(output)) / 1e3,
             std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
    return 0;
  };
}

}  // namespace rt
