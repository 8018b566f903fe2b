#include "core/base/environment.h"
#include "core/cli/commands.h"
#include "kernels/kernels.h"

namespace rt {

void add_scoring_options(CLI::App* command, ScoringOptions& options) {
  command->add_option("--batch", options.batch, "Samples a forward pass on each rank")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 20));
  command->add_option("--threads", options.threads, "CPU threads of each rank (0: its share of the cores)")
      ->capture_default_str()
      ->check(CLI::Range(0, 1024));
}

void use_scoring_threads(const ScoringOptions& options) {
  kernels::set_cpu_threads(options.threads > 0 ? options.threads : default_thread_count(detect_placement()));
}

}  // namespace rt
