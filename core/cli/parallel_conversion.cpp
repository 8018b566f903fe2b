#include "core/cli/parallel_conversion.h"

#include <chrono>
#include <vector>

#include <CLI/CLI.hpp>

#include "core/base/logging.h"

namespace rt {

namespace {
// Every rank's counts added up.
std::vector<double> summed(Communicator& comm, const std::vector<double>& mine) {
  std::vector<double> all(mine.size() * static_cast<size_t>(comm.size()));
  comm.all_gather(Span<const double>(mine.data(), mine.size()), Span<double>(all));
  std::vector<double> sums(mine.size(), 0.0);
  for (size_t i = 0; i < all.size(); ++i) sums[i % mine.size()] += all[i];
  return sums;
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}
}  // namespace

std::pair<int64_t, int64_t> parse_image_size(const std::string& text) {
  if (text.empty()) throw CLI::RequiredError("--size (HEIGHTxWIDTH, with an image folder)");
  const size_t x = text.find_first_of("xX");
  try {
    size_t used = 0;
    const int64_t height = std::stoll(text.substr(0, x), &used);
    if (used != (x == std::string::npos ? text.size() : x)) throw std::invalid_argument(text);
    int64_t width = height;
    if (x != std::string::npos) {
      width = std::stoll(text.substr(x + 1), &used);
      if (used != text.size() - x - 1) throw std::invalid_argument(text);
    }
    if (height < 1 || width < 1 || height > 65536 || width > 65536) throw std::out_of_range(text);
    return {height, width};
  } catch (const std::logic_error&) {
    throw CLI::ValidationError("--size", "'" + text + "' is not HEIGHTxWIDTH (e.g. 64x64) of 1 to 65536 pixels");
  }
}

void convert_image_folder(const ImageFolderConversion& conversion, Communicator& comm) {
  const auto start = std::chrono::steady_clock::now();
  const ImageFolderPlan plan = plan_image_folder(conversion);
  int64_t kept = comm.rank() == 0 ? plan.shards.prepare() : 0;
  comm.broadcast(Span<int64_t>(&kept, 1), 0);
  if (comm.rank() == 0) {
    log_info("{} images of {} classes ({:.1f} MB) -> {} shard(s) of {}x{}x{} in {}{}", plan.files.size(),
             plan.class_names.size(), plan.input_bytes / 1e6, plan.shards.shards(), conversion.channels,
             conversion.height, conversion.width, conversion.output_dir,
             kept > 0 ? fmt::format("; {} already complete from an earlier run, kept", kept) : std::string());
  }
  const ImageFolderPart part = convert_image_folder_part(conversion, plan, {comm.rank(), comm.size()});
  const std::vector<double> totals = summed(
      comm, {static_cast<double>(part.shards_written), static_cast<double>(part.images), static_cast<double>(part.skipped)});
  if (comm.rank() == 0) {
    int64_t samples = 0;
    plan.shards.finish(&samples);
    const double seconds = seconds_since(start);
    log_info("wrote {} shard(s) ({} images{}) in {:.2f} s by {} rank(s), {:.1f} MB/s of input; {} images in {} "
             "shard(s) in {}",
             totals[0], totals[1], totals[2] > 0 ? fmt::format(", {} unreadable left out", totals[2]) : std::string(),
             seconds, comm.size(), plan.input_bytes / 1e6 / seconds, samples, plan.shards.shards(),
             conversion.output_dir);
  }
  comm.barrier();
}

}  // namespace rt
