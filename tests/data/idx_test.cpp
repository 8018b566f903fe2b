#include <gtest/gtest.h>
#include <zlib.h>

#include <filesystem>
#include <fstream>
#include <functional>

#include <nlohmann/json.hpp>

#include "core/base/check.h"
#include "data/idx_file.h"
#include "data/shard_converter.h"
#include "data/shard_index.h"
#include "data/shard_reader.h"
#include "tests/test_support.h"

namespace rt {
namespace {

void write_gz(const std::string& path, const std::vector<uint8_t>& bytes) {
  gzFile file = gzopen(path.c_str(), "wb");
  gzwrite(file, bytes.data(), static_cast<unsigned>(bytes.size()));
  gzclose(file);
}

std::vector<uint8_t> idx_header(uint8_t dims, std::vector<uint32_t> extents) {
  std::vector<uint8_t> bytes{0, 0, 0x08, dims};
  for (uint32_t e : extents) {
    bytes.push_back(static_cast<uint8_t>(e >> 24));
    bytes.push_back(static_cast<uint8_t>(e >> 16));
    bytes.push_back(static_cast<uint8_t>(e >> 8));
    bytes.push_back(static_cast<uint8_t>(e));
  }
  return bytes;
}

TEST(IdxFile, ReadsImagesAndLabels) {
  testing::TempDir dir;
  std::vector<uint8_t> images = idx_header(3, {7, 2, 3});
  for (int i = 0; i < 42; ++i) images.push_back(static_cast<uint8_t>(i));
  write_gz(dir.file("images.gz"), images);
  IdxArray array = read_idx_file(dir.file("images.gz"));
  EXPECT_EQ(array.shape, (std::vector<int64_t>{7, 2, 3}));
  ASSERT_EQ(array.values.size(), 42u);
  EXPECT_EQ(array.values[41], 41);
}

TEST(IdxFile, ShortFileAndBadMagicAreNamed) {
  testing::TempDir dir;
  std::vector<uint8_t> short_file = idx_header(1, {10});
  short_file.push_back(1);
  write_gz(dir.file("short.gz"), short_file);
  try {
    read_idx_file(dir.file("short.gz"));
    FAIL();
  } catch (const Error& error) {
    EXPECT_NE(std::string(error.what()).find("short.gz ends early"), std::string::npos) << error.what();
  }
  write_gz(dir.file("magic.gz"), {1, 2, 3, 4, 5, 6, 7, 8});
  EXPECT_THROW(read_idx_file(dir.file("magic.gz")), Error);
  EXPECT_THROW(read_idx_file(dir.file("absent.gz")), Error);
}

ShardConversion conversion(const testing::TempDir& dir, const std::string& name, int64_t shards, int64_t classes,
                           int64_t target_bytes = 0) {
  ShardConversion c;
  c.images = dir.file("img.gz");
  c.labels = dir.file("lab.gz");
  c.output_dir = dir.file("out");
  c.name = name;
  c.shards = shards;
  c.target_bytes = target_bytes;
  c.classes = classes;
  return c;
}

TEST(ShardConverter, CutsIdxIntoNearEqualShardsThatReadBack) {
  testing::TempDir dir;
  std::vector<uint8_t> images = idx_header(3, {10, 2, 2}), labels = idx_header(1, {10});
  for (int i = 0; i < 40; ++i) images.push_back(static_cast<uint8_t>(i));
  for (int i = 0; i < 10; ++i) labels.push_back(static_cast<uint8_t>(i % 3));
  write_gz(dir.file("img.gz"), images);
  write_gz(dir.file("lab.gz"), labels);
  std::vector<std::string> paths = convert_idx_to_shards(conversion(dir, "train", 3, 3));
  ASSERT_EQ(paths.size(), 3u);
  ShardIndex index(dir.file("out"));
  EXPECT_EQ(index.shard_sizes(), (std::vector<int64_t>{4, 3, 3}));
  ShardReader reader(paths[1]);
  std::vector<uint8_t> features(12);
  std::vector<int32_t> shard_labels(3);
  reader.read(0, 3, features.data(), shard_labels.data());
  EXPECT_EQ(features[0], 16);  // sample 4, first pixel
  EXPECT_EQ(shard_labels, (std::vector<int32_t>{1, 2, 0}));
  EXPECT_NEAR(reader.info().feature_scale, 1.0 / 255.0, 1e-12);

  std::ifstream manifest_file(dir.file("out/train-manifest.json"));
  nlohmann::json manifest = nlohmann::json::parse(manifest_file);
  EXPECT_EQ(manifest["total_samples"], 10);
  ASSERT_EQ(manifest["shards"].size(), 3u);
  EXPECT_EQ(manifest["shards"][1]["file"], "train-00001.h5");
  EXPECT_EQ(manifest["shards"][1]["samples"], 3);
  EXPECT_EQ(manifest["shards"][1]["bytes"], std::filesystem::file_size(paths[1]));
}

TEST(ShardConverter, MismatchedCountsAreAnError) {
  testing::TempDir dir;
  std::vector<uint8_t> images = idx_header(3, {2, 1, 1}), labels = idx_header(1, {3});
  images.insert(images.end(), {1, 2});
  labels.insert(labels.end(), {0, 1, 2});
  write_gz(dir.file("img.gz"), images);
  write_gz(dir.file("lab.gz"), labels);
  EXPECT_THROW(convert_idx_to_shards(conversion(dir, "t", 1, 10)), Error);
}

TEST(ShardConverter, WithATargetSizeStreamsShardsOfAboutThatSizeInOrder) {
  testing::TempDir dir;
  const int64_t count = 1000, pixels = 28 * 28;  // 784 bytes a sample
  std::vector<uint8_t> images = idx_header(3, {count, 28, 28}), labels = idx_header(1, {count});
  for (int64_t i = 0; i < count; ++i) {
    for (int64_t p = 0; p < pixels; ++p) images.push_back(static_cast<uint8_t>((i + p) % 251));
    labels.push_back(static_cast<uint8_t>(i % 10));
  }
  write_gz(dir.file("img.gz"), images);
  write_gz(dir.file("lab.gz"), labels);
  // 100 KiB holds 130 samples, so ceil(1000 / 130) = 8 shards, cut evenly: 125 samples each.
  std::vector<std::string> paths = convert_idx_to_shards(conversion(dir, "big", 0, 10, 100 * 1024));
  ASSERT_EQ(paths.size(), 8u);
  ShardIndex index(dir.file("out"));
  EXPECT_EQ(index.total_samples(), count);
  for (int64_t size : index.shard_sizes()) EXPECT_EQ(size, 125);
  // Every sample in its place: shard s holds samples 125 s ...
  std::vector<uint8_t> features(static_cast<size_t>(125 * pixels));
  std::vector<int32_t> shard_labels(125);
  for (size_t s = 0; s < paths.size(); ++s) {
    ShardReader reader(paths[s]);
    reader.read(0, 125, features.data(), shard_labels.data());
    for (int64_t i = 0; i < 125; ++i) {
      const int64_t sample = static_cast<int64_t>(s) * 125 + i;
      ASSERT_EQ(shard_labels[static_cast<size_t>(i)], sample % 10) << "shard " << s;
      ASSERT_EQ(features[static_cast<size_t>(i * pixels + 5)], (sample + 5) % 251) << "shard " << s;
    }
  }
  EXPECT_THROW(convert_idx_to_shards(conversion(dir, "bad", 0, 10, 0)), Error);
}

}  // namespace
}  // namespace rt
