#include "core/cli/parallel_conversion.h"

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <memory>
#include <vector>

#include <CLI/CLI.hpp>

#include "core/base/check.h"
#include "core/base/logging.h"
#include "data/npy_shards.h"
#include "data/npz_member.h"

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

// Every rank's text, by rank.
std::vector<std::string> gathered(Communicator& comm, const std::string& mine) {
  int64_t length = static_cast<int64_t>(mine.size());
  std::vector<int64_t> lengths(static_cast<size_t>(comm.size()));
  comm.all_gather(Span<const int64_t>(&length, 1), Span<int64_t>(lengths));
  const int64_t longest = *std::max_element(lengths.begin(), lengths.end());
  std::vector<uint8_t> padded(static_cast<size_t>(longest), 0), all(static_cast<size_t>(longest * comm.size()));
  std::copy(mine.begin(), mine.end(), padded.begin());
  comm.all_gather(Span<const uint8_t>(padded.data(), padded.size()), Span<uint8_t>(all));
  std::vector<std::string> texts;
  for (int r = 0; r < comm.size(); ++r) {
    const auto* first = reinterpret_cast<const char*>(all.data()) + r * longest;
    texts.emplace_back(first, static_cast<size_t>(lengths[static_cast<size_t>(r)]));
  }
  return texts;
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

namespace rt {

void convert_csv(const CsvConversion& conversion, Communicator& comm) {
  const auto start = std::chrono::steady_clock::now();
  const CsvPlan plan = plan_csv(conversion);
  const ConversionPart part{comm.rank(), comm.size()};
  // The classes: as given, or from every rank's labels together (each rank reads its pieces).
  CsvLabels labels;
  if (csv_needs_label_survey(conversion)) {
    for (const std::string& text : gathered(comm, survey_csv_labels(conversion, plan, part).to_json())) {
      labels.add(CsvLabels::from_json(text));
    }
  }
  const CsvClasses classes = csv_classes(conversion, labels);
  int64_t kept = comm.rank() == 0 ? plan.shards.prepare() : 0;
  comm.broadcast(Span<int64_t>(&kept, 1), 0);
  if (comm.rank() == 0) {
    log_info("{} file(s) ({:.1f} MB) -> {} shard(s) in {}{}", conversion.files.size(), plan.input_bytes / 1e6,
             plan.shards.shards(), conversion.output_dir,
             kept > 0 ? fmt::format("; {} already complete from an earlier run, kept", kept) : std::string());
  }
  const CsvPart done = convert_csv_part(conversion, plan, classes, part);
  const std::vector<double> totals = summed(
      comm, {static_cast<double>(done.shards_written), static_cast<double>(done.rows), static_cast<double>(done.skipped)});
  if (comm.rank() == 0) {
    int64_t rows = 0;
    plan.shards.finish(&rows);
    RT_CHECK(rows > 0, "{}: no row to convert", conversion.files.front());
    const double seconds = seconds_since(start);
    log_info("wrote {} shard(s) ({} rows{}) in {:.2f} s by {} rank(s), {:.1f} MB/s of input; {} rows in {} shard(s) in "
             "{}",
             totals[0], totals[1], totals[2] > 0 ? fmt::format("; {} bad row(s) skipped", totals[2]) : std::string(),
             seconds, comm.size(), plan.input_bytes / 1e6 / seconds, rows, plan.shards.shards(), conversion.output_dir);
    if (!classes.names.empty() && conversion.class_names.empty()) {
      std::string quoted;
      for (const std::string& name : classes.names) quoted += " '" + name + "'";
      log_info("{} classes, by id:{}; convert the other parts of this data set with --class-names{}",
               classes.names.size(), quoted, quoted);
    }
  }
  comm.barrier();
}

}  // namespace rt

namespace rt {

void convert_arrays(ShardConversion conversion, const std::string& npz, const std::string& features_key,
                    const std::string& labels_key, Communicator& comm) {
  const auto start = std::chrono::steady_clock::now();
  std::unique_ptr<NpzMember> features, labels;  // rank 0's extracted members, removed at the end
  std::string inputs;
  if (!npz.empty()) {
    if (comm.rank() == 0) {
      features = std::make_unique<NpzMember>(npz, features_key, conversion.output_dir);
      labels = std::make_unique<NpzMember>(npz, labels_key, conversion.output_dir);
    }
    conversion.images = NpzMember::path_in(npz, features_key, conversion.output_dir);
    conversion.labels = NpzMember::path_in(npz, labels_key, conversion.output_dir);
    conversion.images_name = fmt::format("{} (array {})", npz, features_key);
    conversion.labels_name = fmt::format("{} (array {})", npz, labels_key);
    std::error_code error;
    inputs = fmt::format("{} ({} bytes, written {}): {} and {}", npz, std::filesystem::file_size(npz, error),
                         std::filesystem::last_write_time(npz, error).time_since_epoch().count(), features_key,
                         labels_key);
    comm.barrier();  // the members are extracted before the others open them
  }
  const NpyShards shards(conversion, inputs);
  int64_t kept = comm.rank() == 0 ? shards.plan().prepare() : 0;
  comm.broadcast(Span<int64_t>(&kept, 1), 0);
  if (comm.rank() == 0) {
    log_info("{} samples ({:.1f} MB) -> {} shard(s) in {}{}", shards.rows(), shards.input_bytes() / 1e6,
             shards.plan().shards(), conversion.output_dir,
             kept > 0 ? fmt::format("; {} already complete from an earlier run, kept", kept) : std::string());
  }
  const std::vector<double> written = summed(comm, {static_cast<double>(shards.convert_part({comm.rank(), comm.size()}))});
  if (comm.rank() == 0) {
    const std::vector<std::string> paths = shards.plan().finish();
    const double seconds = seconds_since(start);
    log_info("wrote {} shard(s) in {:.2f} s by {} rank(s), {:.1f} MB/s of input; {} shard(s) in {} ({} ... {})",
             written[0], seconds, comm.size(), shards.input_bytes() / 1e6 / seconds, paths.size(),
             conversion.output_dir, paths.front(), paths.back());
  }
  comm.barrier();
}

}  // namespace rt
