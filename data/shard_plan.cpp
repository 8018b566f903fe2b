#include "data/shard_plan.h"

#include <filesystem>
#include <fstream>
#include <iterator>

#include <fmt/format.h>

#include "core/base/check.h"
#include "data/shard_manifest.h"
#include "data/shard_reader.h"

namespace rt {

namespace fs = std::filesystem;

ShardPlan::ShardPlan(std::string output_dir, std::string name, int64_t shards, std::string identity)
    : output_dir_(std::move(output_dir)), name_(std::move(name)), shards_(shards), identity_(std::move(identity)) {
  RT_CHECK(shards_ >= 1, "a conversion writes at least one shard, not {}", shards_);
}

std::string ShardPlan::path(int64_t shard) const { return fmt::format("{}/{}-{:05d}.h5", output_dir_, name_, shard); }

std::string ShardPlan::plan_path() const { return fmt::format("{}/{}-plan.json", output_dir_, name_); }

int64_t ShardPlan::prepare() const {
  std::error_code error;
  fs::create_directories(output_dir_, error);
  RT_CHECK(!error, "cannot create {}: {}", output_dir_, error.message());
  if (fs::is_regular_file(plan_path(), error)) {
    std::ifstream in(plan_path());
    const std::string recorded((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (recorded == identity_) {
      int64_t complete_shards = 0;
      for (int64_t s = 0; s < shards_; ++s) complete_shards += complete(s) ? 1 : 0;
      return complete_shards;
    }
  }
  // Another conversion's output, or none: its shards must go before this plan is recorded, or a
  // rerun would take them for this plan's.
  const std::string prefix = name_ + "-";
  for (const fs::directory_entry& entry : fs::directory_iterator(output_dir_, error)) {
    const std::string file = entry.path().filename().string();
    const bool shard = file.size() > prefix.size() && file.compare(0, prefix.size(), prefix) == 0 &&
                       (file.size() > 3 && (file.compare(file.size() - 3, 3, ".h5") == 0 ||
                                            file.find(".h5.partial") != std::string::npos));
    if (shard || file == name_ + "-manifest.json" || file == name_ + "-plan.json") {
      fs::remove(entry.path(), error);
      RT_CHECK(!error, "cannot remove {} (of an earlier conversion): {}", entry.path().string(), error.message());
    }
  }
  RT_CHECK(!error, "cannot list {}: {}", output_dir_, error.message());
  const std::string partial = plan_path() + ".partial";
  {
    std::ofstream out(partial, std::ios::trunc);
    out << identity_;
    RT_CHECK(out.good(), "cannot write {}", partial);
  }
  fs::rename(partial, plan_path(), error);
  RT_CHECK(!error, "cannot rename {} to {}: {}", partial, plan_path(), error.message());
  return 0;
}

bool ShardPlan::complete(int64_t shard) const {
  std::error_code error;
  if (!fs::is_regular_file(path(shard), error)) return false;
  try {
    ShardReader reader(path(shard));
    return true;
  } catch (const Error&) {
    return false;  // cut short where a rename is not atomic (some blob mounts): convert it again
  }
}

std::vector<std::string> ShardPlan::finish(int64_t* samples) const {
  ShardManifest manifest;
  for (int64_t s = 0; s < shards_; ++s) {
    RT_CHECK(fs::is_regular_file(path(s)), "shard {} of this conversion was not written", path(s));
    ShardReader reader(path(s));
    manifest.add(path(s), reader.info().samples);
  }
  manifest.write(output_dir_, name_);
  if (samples != nullptr) *samples = manifest.total_samples();
  return manifest.paths();
}

}  // namespace rt
