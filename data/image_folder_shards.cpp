#include "data/image_folder_shards.h"

#include <algorithm>
#include <filesystem>
#include <set>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/base/check.h"
#include "core/base/hash.h"
#include "core/base/logging.h"
#include "core/base/random.h"
#include "data/shard_writer.h"

namespace rt {

namespace fs = std::filesystem;

namespace {
std::vector<std::string> sorted_entries(const fs::path& directory, bool folders) {
  std::vector<std::string> names;
  std::error_code error;
  for (const fs::directory_entry& entry : fs::directory_iterator(directory, error)) {
    if (folders ? entry.is_directory() : (entry.is_regular_file() && has_image_extension(entry.path().string()))) {
      names.push_back(entry.path().filename().string());
    }
  }
  RT_CHECK(!error, "cannot list {}: {}", directory.string(), error.message());
  std::sort(names.begin(), names.end());
  return names;
}

int64_t sample_bytes(const ImageFolderConversion& c) { return c.channels * c.height * c.width; }

// What makes the conversion's shards what they are: a rerun that differs in any of it starts over.
std::string identity(const ImageFolderConversion& c, const ImageFolderPlan& plan, uint64_t files_hash) {
  const nlohmann::json what = {
      {"converter", "images"}, {"root", c.root}, {"name", c.name}, {"height", c.height}, {"width", c.width},
      {"channels", c.channels}, {"fit", c.fit == ImageFit::kCrop ? "crop" : "resize"},
      {"shards", plan.first_file.size() - 1}, {"seed", c.seed}, {"skip_bad_images", c.skip_bad_images},
      {"class_names", plan.class_names}, {"images", plan.files.size()}, {"input_bytes", plan.input_bytes},
      {"files_hash", fmt::format("{:016x}", files_hash)}};
  return what.dump(2) + "\n";
}
}  // namespace

ImageFolderPlan plan_image_folder(const ImageFolderConversion& c) {
  RT_CHECK(c.channels == 1 || c.channels == 3, "images are stored with 1 or 3 channels, not {}", c.channels);
  RT_CHECK(c.height > 0 && c.width > 0, "images are stored at a positive size, not {} x {}", c.height, c.width);
  RT_CHECK(fs::is_directory(c.root), "{} is not a directory (of one folder of images per class)", c.root);
  const std::vector<std::string> folders = sorted_entries(c.root, true);
  RT_CHECK(!folders.empty(), "{} holds no folder: images are read from one folder per class, named after it", c.root);
  std::vector<std::string> names = c.class_names.empty() ? folders : c.class_names;
  RT_CHECK(std::set<std::string>(names.begin(), names.end()).size() == names.size(), "the class names repeat a name");
  for (const std::string& folder : folders) {
    RT_CHECK(std::find(names.begin(), names.end(), folder) != names.end(),
             "{}/{}: a folder that is not one of the {} class names given", c.root, folder, names.size());
  }

  std::vector<std::string> files;
  std::vector<int32_t> labels;
  uint64_t files_hash = kFnvOffset;
  int64_t input_bytes = 0;
  for (size_t id = 0; id < names.size(); ++id) {
    const fs::path folder = fs::path(c.root) / names[id];
    if (!fs::is_directory(folder)) continue;  // a class without images here (a test set may lack one)
    for (const std::string& file : sorted_entries(folder, false)) {
      const fs::path path = folder / file;
      std::error_code error;
      const uint64_t bytes = fs::file_size(path, error);
      RT_CHECK(!error, "cannot read {}: {}", path.string(), error.message());
      const auto time = fs::last_write_time(path, error).time_since_epoch().count();
      const std::string key = fmt::format("{}/{}\n{}\n{}\n", names[id], file, bytes, time);
      files_hash = fnv1a(key.data(), key.size(), files_hash);
      input_bytes += static_cast<int64_t>(bytes);
      files.push_back(path.string());
      labels.push_back(static_cast<int32_t>(id));
    }
  }
  RT_CHECK(!files.empty(), "{}: no PNG or JPEG file (.png, .jpg, .jpeg) in its class folders", c.root);

  // One order for the files and their labels, drawn from the seed.
  std::vector<int64_t> order(files.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = static_cast<int64_t>(i);
  Rng(c.seed, 0x696d616765ULL).shuffle(order.data(), order.size());
  const auto count = static_cast<int64_t>(files.size());
  RT_CHECK(c.shards >= 0 && c.shards <= count, "cannot cut {} images into {} shards", count, c.shards);
  const int64_t per_shard = std::max<int64_t>(1, c.target_bytes / sample_bytes(c));
  const int64_t shards = c.shards > 0 ? c.shards : (count + per_shard - 1) / per_shard;

  ImageFolderPlan plan{names, {}, {}, {}, input_bytes, ShardPlan(c.output_dir, c.name, shards, "")};
  for (int64_t i : order) {
    plan.files.push_back(files[static_cast<size_t>(i)]);
    plan.labels.push_back(labels[static_cast<size_t>(i)]);
  }
  const int64_t base = count / shards, extra = count % shards;
  for (int64_t s = 0, first = 0; s <= shards; ++s) {
    plan.first_file.push_back(first);
    first += base + (s < extra ? 1 : 0);
  }
  plan.shards = ShardPlan(c.output_dir, c.name, shards, identity(c, plan, files_hash));
  return plan;
}

ImageFolderPart convert_image_folder_part(const ImageFolderConversion& c, const ImageFolderPlan& plan,
                                          ConversionPart part) {
  ImageFolderPart done;
  const int64_t bytes = sample_bytes(c);
  std::vector<uint8_t> pixels;
  std::vector<int32_t> labels;
  for (int64_t s = 0; s < plan.shards.shards(); ++s) {
    if (!part.owns(s) || plan.shards.complete(s)) continue;
    const int64_t first = plan.first_file[static_cast<size_t>(s)], end = plan.first_file[static_cast<size_t>(s) + 1];
    pixels.resize(static_cast<size_t>((end - first) * bytes));
    labels.clear();
    for (int64_t f = first; f < end; ++f) {
      const std::string& file = plan.files[static_cast<size_t>(f)];
      try {
        fit_image(read_image(file, c.channels), c.height, c.width, c.fit, pixels.data() + labels.size() * bytes);
      } catch (const Error& error) {
        if (!c.skip_bad_images) throw;
        log_warning("left out: {}", without_source_locations(error.what()));
        ++done.skipped;
        continue;
      }
      labels.push_back(plan.labels[static_cast<size_t>(f)]);
    }
    ShardInfo info;
    info.path = plan.shards.path(s);
    info.samples = static_cast<int64_t>(labels.size());
    info.feature_shape = {c.channels, c.height, c.width};
    info.classes = static_cast<int64_t>(plan.class_names.size());
    info.feature_dtype = DType::kUInt8;
    info.feature_scale = 1.0 / 255.0;
    info.class_names = plan.class_names;
    write_shard(info, pixels.data(), labels.data());
    ++done.shards_written;
    done.images += info.samples;
  }
  return done;
}

}  // namespace rt
