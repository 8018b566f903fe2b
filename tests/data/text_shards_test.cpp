// `ringtrain shard --text`: windows of context + 1 byte tokens that overlap by one, continuous
// across shard boundaries, a held-out split by files (or a single file's tail), and a manifest.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include <nlohmann/json.hpp>

#include "data/shard_index.h"
#include "data/shard_reader.h"
#include "data/text_shards.h"
#include "tests/test_support.h"

namespace rt {
namespace {

void write_text(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::binary) << text;
}

std::string text_of_length(size_t length, char first) {
  std::string text;
  for (size_t i = 0; i < length; ++i) text += static_cast<char>(first + static_cast<char>(i % 23));
  return text;
}

// Every window of every shard in `dir`, in shard order.
std::vector<std::string> read_windows(const std::string& dir, int64_t context) {
  ShardIndex index(dir);
  std::vector<std::string> windows;
  for (const auto& shard : index.shards()) {
    ShardReader reader(shard.path);
    EXPECT_EQ(reader.info().feature_shape, std::vector<int64_t>({context + 1}));
    EXPECT_EQ(reader.info().classes, 256);
    EXPECT_EQ(reader.info().feature_scale, 1.0);
    const int64_t n = reader.info().samples;
    std::string bytes(static_cast<size_t>(n * (context + 1)), '\0');
    std::vector<int32_t> labels(static_cast<size_t>(n), -1);
    reader.read(0, n, bytes.data(), labels.data());
    for (int64_t w = 0; w < n; ++w) windows.push_back(bytes.substr(static_cast<size_t>(w * (context + 1)), context + 1));
  }
  return windows;
}

void expect_windows_cover(const std::vector<std::string>& windows, const std::string& stream, int64_t context) {
  ASSERT_EQ(static_cast<int64_t>(windows.size()), (static_cast<int64_t>(stream.size()) - 1) / context);
  for (size_t w = 0; w < windows.size(); ++w) {
    ASSERT_EQ(windows[w], stream.substr(w * static_cast<size_t>(context), static_cast<size_t>(context) + 1)) << w;
  }
}

TEST(TextShards, WindowsOverlapByOneTokenAcrossShardsAndFilesAreHeldOutEvenly) {
  testing::TempDir dir;
  std::filesystem::create_directories(dir.path() + "/text");
  const std::string a = text_of_length(1000, 'a'), b = text_of_length(777, 'A'), c = text_of_length(500, '0');
  write_text(dir.path() + "/text/a.txt", a);
  write_text(dir.path() + "/text/b.txt", b);
  write_text(dir.path() + "/text/c.txt", c);
  const int64_t context = 16;
  // About 5 windows per shard: many shards, so window continuity across shard boundaries is tested.
  TextShards shards = convert_text_to_shards({{dir.path() + "/text"}, dir.path() + "/out", context, 1.0 / 3, 5 * 17});
  EXPECT_EQ(shards.train.files, 2);
  EXPECT_EQ(shards.test.files, 1);
  EXPECT_EQ(shards.train.tokens, 1777);
  EXPECT_EQ(shards.test.tokens, 500);
  EXPECT_GT(shards.train.shards, 10);
  expect_windows_cover(read_windows(dir.path() + "/out/train", context), a + b, context);
  expect_windows_cover(read_windows(dir.path() + "/out/test", context), c, context);
  nlohmann::json manifest;
  std::ifstream(dir.path() + "/out/train/train-manifest.json") >> manifest;
  EXPECT_EQ(manifest["total_samples"].get<int64_t>(), shards.train.windows);
  EXPECT_EQ(static_cast<int64_t>(manifest["shards"].size()), shards.train.shards);
}

TEST(TextShards, ASingleFileGivesItsTailToTheHeldOutSplit) {
  testing::TempDir dir;
  const std::string text = text_of_length(2000, 'a');
  write_text(dir.path() + "/one.txt", text);
  TextShards shards = convert_text_to_shards({{dir.path() + "/one.txt"}, dir.path() + "/out", 32, 0.25});
  EXPECT_EQ(shards.train.tokens, 1500);
  EXPECT_EQ(shards.test.tokens, 500);
  expect_windows_cover(read_windows(dir.path() + "/out/train", 32), text.substr(0, 1500), 32);
  expect_windows_cover(read_windows(dir.path() + "/out/test", 32), text.substr(1500), 32);
}

TEST(TextShards, TooLittleTextOrAMissingInputIsAClearError) {
  testing::TempDir dir;
  write_text(dir.path() + "/short.txt", "tiny");
  EXPECT_NE(testing::error_message([&] {
              convert_text_to_shards({{dir.path() + "/short.txt"}, dir.path() + "/out", 16, 0.1});
            }).find("too little text for windows of 17 tokens"),
            std::string::npos);
  EXPECT_NE(testing::error_message([&] {
              convert_text_to_shards({{dir.path() + "/missing"}, dir.path() + "/out2", 16, 0.1});
            }).find("missing is neither a text file nor a directory"),
            std::string::npos);
}

}  // namespace
}  // namespace rt
