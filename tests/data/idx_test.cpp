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

TEST(ShardConverter, CutsIdxIntoNearEqualShardsThatReadBack) {
  testing::TempDir dir;
  std::vector<uint8_t> images = idx_header(3, {10, 2, 2}), labels = idx_header(1, {10});
  for (int i = 0; i < 40; ++i) images.push_back(static_cast<uint8_t>(i));
  for (int i = 0; i < 10; ++i) labels.push_back(static_cast<uint8_t>(i % 3));
  write_gz(dir.file("img.gz"), images);
  write_gz(dir.file("lab.gz"), labels);
  std::vector<std::string> paths =
      convert_idx_to_shards({dir.file("img.gz"), dir.file("lab.gz"), dir.file("out"), "train", 3, 3});
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
  EXPECT_THROW(convert_idx_to_shards({dir.file("img.gz"), dir.file("lab.gz"), dir.file("out"), "t", 1, 10}), Error);
}

}  // namespace
}  // namespace rt
