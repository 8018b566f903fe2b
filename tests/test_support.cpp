#include "tests/test_support.h"

#include <gtest/gtest.h>

#include <sys/wait.h>

#include <array>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <regex>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <zlib.h>

#include "core/base/check.h"
#include "core/base/random.h"
#include "core/metrics_log.h"
#include "data/shard_index.h"
#include "data/shard_reader.h"
#include "data/shard_writer.h"
#include "data/text_shards.h"

namespace rt::testing {

Outcome run(const std::string& command) {
  auto start = std::chrono::steady_clock::now();
  Outcome outcome;
  FILE* pipe = popen((command + " 2>&1").c_str(), "r");
  if (!pipe) return outcome;
  std::array<char, 4096> buffer;
  while (size_t got = fread(buffer.data(), 1, buffer.size(), pipe)) outcome.output.append(buffer.data(), got);
  int status = pclose(pipe);
  outcome.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  outcome.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return outcome;
}

void write_npy(const std::string& path, const std::string& descr, const std::string& shape, const void* data,
               size_t bytes, bool fortran) {
  std::string header = "{'descr': '" + descr + "', 'fortran_order': " + (fortran ? "True" : "False") +
                       ", 'shape': " + shape + ", }";
  while ((10 + header.size() + 1) % 64 != 0) header += ' ';
  header += '\n';
  std::ofstream out(path, std::ios::binary);
  out.write("\x93NUMPY\x01\x00", 8);
  const uint16_t length = static_cast<uint16_t>(header.size());
  out.write(reinterpret_cast<const char*>(&length), 2);  // little-endian, as on every machine here
  out << header;
  out.write(static_cast<const char*>(data), static_cast<std::streamsize>(bytes));
}

std::string train_rows_cover_each_step_once(const std::string& metrics_path, int64_t last_step) {
  int64_t next = 1;
  for (const nlohmann::json& row : read_metrics(metrics_path)) {
    if (row.value("kind", "") != "train" || row.value("superseded", false)) continue;
    const int64_t first = row.value("first_step", int64_t{-1}), step = row.value("step", int64_t{-1});
    if (first != next || step < first) {
      return fmt::format("{}: a train row covers steps {}..{} where step {} was next", metrics_path, first, step, next);
    }
    next = step + 1;
  }
  if (next != last_step + 1) return fmt::format("{}: the train rows end at step {}, not {}", metrics_path, next - 1, last_step);
  return "";
}

std::string fingerprint_of(const std::string& output) {
  std::smatch match;
  return std::regex_search(output, match, std::regex("parameter fingerprint ([0-9a-f]{16})")) ? match[1].str() : "";
}

std::string test_accuracy_of(const std::string& output) {
  std::smatch match;
  return std::regex_search(output, match, std::regex("done: test accuracy ([0-9.]+)%")) ? match[1].str() : "";
}

std::string error_message(const std::function<void()>& action) {
  try {
    action();
  } catch (const Error& error) {
    return error.what();
  }
  return "(no error)";
}

TempDir::TempDir() {
  std::string pattern = (std::filesystem::temp_directory_path() / "ringtrain-test-XXXXXX").string();
  RT_CHECK(mkdtemp(pattern.data()) != nullptr, "cannot create a temporary directory");
  path_ = pattern;
}

std::vector<std::vector<uint8_t>> stored_byte_samples(const std::string& dir) {
  std::vector<std::vector<uint8_t>> all;
  const ShardIndex index(dir);
  for (const ShardInfo& shard : index.shards()) {
    ShardReader reader(shard.path);
    std::vector<uint8_t> pixels(static_cast<size_t>(shard.samples * shard.feature_size()));
    std::vector<int32_t> labels(static_cast<size_t>(shard.samples));
    reader.read(0, shard.samples, pixels.data(), labels.data());
    for (int64_t i = 0; i < shard.samples; ++i) {
      std::vector<uint8_t> sample(pixels.begin() + i * shard.feature_size(),
                                  pixels.begin() + (i + 1) * shard.feature_size());
      sample.push_back(static_cast<uint8_t>(labels[static_cast<size_t>(i)]));
      all.push_back(std::move(sample));
    }
  }
  return all;
}

TempDir::~TempDir() {
  std::error_code ignored;
  std::filesystem::remove_all(path_, ignored);
}

// The header of DIR/shard-NNNNN.h5.
static ShardInfo numbered_shard(const std::string& dir, size_t number, int64_t samples, int64_t features, int64_t classes,
                                DType dtype, double scale) {
  ShardInfo info;
  info.path = fmt::format("{}/shard-{:05d}.h5", dir, number);
  info.samples = samples;
  info.feature_shape = {features};
  info.classes = classes;
  info.feature_dtype = dtype;
  info.feature_scale = scale;
  return info;
}

void write_indexed_shards(const std::string& dir, const std::vector<int64_t>& sizes, int64_t features,
                          int64_t classes) {
  std::filesystem::create_directories(dir);
  int64_t next = 0;
  for (size_t s = 0; s < sizes.size(); ++s) {
    std::vector<float> values(static_cast<size_t>(sizes[s] * features), 0.5f);
    std::vector<int32_t> labels(static_cast<size_t>(sizes[s]));
    for (int64_t i = 0; i < sizes[s]; ++i, ++next) {
      values[static_cast<size_t>(i * features)] = static_cast<float>(next);
      labels[static_cast<size_t>(i)] = static_cast<int32_t>(next % classes);
    }
    write_shard(numbered_shard(dir, s, sizes[s], features, classes, DType::kFloat32, 1.0), values.data(),
                labels.data());
  }
}

void write_byte_shards(const std::string& dir, const std::vector<int64_t>& sizes, int64_t features,
                       int64_t classes) {
  std::filesystem::create_directories(dir);
  int64_t next = 0;
  for (size_t s = 0; s < sizes.size(); ++s) {
    std::vector<uint8_t> values(static_cast<size_t>(sizes[s] * features));
    std::vector<int32_t> labels(static_cast<size_t>(sizes[s]));
    for (int64_t i = 0; i < sizes[s]; ++i, ++next) {
      for (int64_t f = 0; f < features; ++f) values[static_cast<size_t>(i * features + f)] = (7 * next + f) % 256;
      labels[static_cast<size_t>(i)] = static_cast<int32_t>(next % classes);
    }
    write_shard(numbered_shard(dir, s, sizes[s], features, classes, DType::kUInt8, 1.0 / 255.0), values.data(),
                labels.data());
  }
}

void write_cluster_shards(const std::string& dir, int64_t samples, int64_t shards, int64_t features,
                          int64_t classes, uint64_t problem_seed, uint64_t sample_seed, const std::vector<int64_t>& shape) {
  std::filesystem::create_directories(dir);
  Rng centers_rng(problem_seed, 1);
  std::vector<float> centers(static_cast<size_t>(classes * features));
  for (float& c : centers) c = centers_rng.uniform(0.0f, 1.0f);
  Rng rng(sample_seed, 2);
  int64_t base = samples / shards, extra = samples % shards;
  for (int64_t s = 0; s < shards; ++s) {
    int64_t count = base + (s < extra ? 1 : 0);
    std::vector<uint8_t> values(static_cast<size_t>(count * features));
    std::vector<int32_t> labels(static_cast<size_t>(count));
    for (int64_t i = 0; i < count; ++i) {
      int32_t label = static_cast<int32_t>(rng.below(static_cast<uint64_t>(classes)));
      labels[static_cast<size_t>(i)] = label;
      for (int64_t f = 0; f < features; ++f) {
        float value = centers[static_cast<size_t>(label * features + f)] + rng.uniform(-0.25f, 0.25f);
        value = std::min(1.0f, std::max(0.0f, value));
        values[static_cast<size_t>(i * features + f)] = static_cast<uint8_t>(value * 255.0f);
      }
    }
    ShardInfo info;
    info.path = fmt::format("{}/part-{:05d}.h5", dir, s);
    info.samples = count;
    info.feature_shape = shape.empty() ? std::vector<int64_t>{features} : shape;
    info.classes = classes;
    info.feature_dtype = DType::kUInt8;
    info.feature_scale = 1.0 / 255.0;
    write_shard(info, values.data(), labels.data());
  }
}

void write_poisoned_shards(const std::string& dir, int64_t samples, int64_t poisoned) {
  std::filesystem::create_directories(dir);
  Rng rng(3);
  std::vector<float> features(static_cast<size_t>(samples * 12));
  std::vector<int32_t> labels(static_cast<size_t>(samples));
  for (int64_t i = 0; i < samples; ++i) {
    labels[i] = static_cast<int32_t>(i % 4);
    for (int64_t f = 0; f < 12; ++f) features[i * 12 + f] = (f % 4 == labels[i] ? 1.0f : 0.0f) + rng.uniform(-0.2f, 0.2f);
  }
  features[poisoned * 12 + 5] = std::nanf("");
  ShardInfo info;
  info.path = dir + "/poisoned.h5";
  info.samples = samples;
  info.feature_shape = {12};
  info.classes = 4;
  info.feature_dtype = DType::kFloat32;
  write_shard(info, features.data(), labels.data());
}

void write_word_text_shards(const std::string& dir) {
  const char* words[] = {"the ", "cat ", "sat ", "on ", "a ", "mat. "};
  Rng rng(5);
  for (int file = 0; file < 4; ++file) {
    std::string body;
    for (int i = 0; i < 1500; ++i) body += words[(i + (rng.below(8) == 0 ? 1 : 0)) % 6];
    std::ofstream(fmt::format("{}/part{}.txt", dir, file)) << body;
  }
  convert_text_to_shards({{dir}, dir + "/shards", 16, 0.25, 64 * 17});
}

std::string share_word_text_shards(Communicator& comm, std::unique_ptr<TempDir>& owner) {
  std::vector<uint8_t> path(4096, 0);
  if (comm.rank() == 0) {
    owner = std::make_unique<TempDir>();
    write_word_text_shards(owner->path());
    std::memcpy(path.data(), owner->path().data(), std::min(path.size() - 1, owner->path().size()));
  }
  comm.broadcast(Span<uint8_t>(path), 0);
  return reinterpret_cast<const char*>(path.data());
}

void expect_bitwise_identical_across_ranks(Communicator& comm, const std::vector<float>& values) {
  std::vector<float> all(values.size() * static_cast<size_t>(comm.size()));
  comm.all_gather(Span<const float>(values.data(), values.size()), Span<float>(all));
  for (int r = 1; r < comm.size(); ++r) {
    EXPECT_EQ(std::memcmp(all.data(), all.data() + r * values.size(), values.size() * sizeof(float)), 0)
        << "rank " << r << " differs from rank 0";
  }
}

void rewrite_with_matching_checksum(const std::string& checkpoint, const std::string& name, const std::string& bytes) {
  std::ofstream(checkpoint + "/" + name, std::ios::binary | std::ios::trunc) << bytes;
  std::ifstream in(checkpoint + "/manifest.json");
  nlohmann::json manifest = nlohmann::json::parse(in);
  for (nlohmann::json& file : manifest["files"]) {
    if (file["name"] != name) continue;
    file["bytes"] = bytes.size();
    file["crc32"] = crc32(crc32(0L, Z_NULL, 0), reinterpret_cast<const Bytef*>(bytes.data()),
                          static_cast<uInt>(bytes.size()));
  }
  std::ofstream(checkpoint + "/manifest.json", std::ios::trunc) << manifest.dump(2);
}

void flip_middle_byte(const std::string& path) {
  std::fstream file(path, std::ios::in | std::ios::out | std::ios::binary);
  RT_CHECK(file.good(), "cannot open {}", path);
  file.seekg(0, std::ios::end);
  const auto size = static_cast<std::streamoff>(file.tellg());
  file.seekg(size / 2);
  char byte = 0;
  file.read(&byte, 1);
  file.seekp(size / 2);
  byte = static_cast<char>(byte ^ 0x5a);
  file.write(&byte, 1);
}

}  // namespace rt::testing
