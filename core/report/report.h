// The report of one or more training runs: one self-contained HTML page (no network when viewed;
// uPlot embedded) with the loss and accuracy curves against step and time, throughput, learning
// rate, each rank's data and gradient wait, CPU and memory, the step-time distribution, the
// configuration, the machine and the checkpoints, and a few sentences on where the time went.
// Several runs are overlaid for comparison; long runs are down-sampled.
#pragma once

#include <string>
#include <vector>

namespace rt {

struct ReportOptions {
  size_t max_points = 2000;  // per curve; longer runs are averaged down to this many points
};

// Reads each run directory (run_directory.h) and writes the page to `output` (through a temporary
// file and a rename, so a reader never sees half a page). An error names the directory or file.
void write_report(const std::vector<std::string>& run_directories, const std::string& output,
                  const ReportOptions& options = {});

}  // namespace rt
