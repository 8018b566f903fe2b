// Image folders into shards: PNG and JPEG decoding, fitting to one size, the conversion's plan,
// its parts, and a rerun that finishes an interrupted conversion.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>

#include "core/base/check.h"
#include "data/image_file.h"
#include "data/image_fit.h"
#include "data/image_folder_shards.h"
#include "data/shard_index.h"
#include "data/shard_reader.h"
#include "tests/image_files.h"
#include "tests/test_support.h"

namespace rt {
namespace {

using testing::error_message;
using testing::solid_pixels;
using testing::TempDir;

std::vector<uint8_t> gradient_pixels(int height, int width, int channels) {
  std::vector<uint8_t> pixels;
  for (int y = 0; y < height; ++y) {
    for (int x = 0; x < width; ++x) {
      for (int c = 0; c < channels; ++c) pixels.push_back(static_cast<uint8_t>((y * 16 + x * 5 + c * 70) % 256));
    }
  }
  return pixels;
}

TEST(ImageFile, PngReadsBackExactlyInGreyAndRgb) {
  TempDir dir;
  const std::vector<uint8_t> rgb = gradient_pixels(6, 9, 3), grey = gradient_pixels(6, 9, 1);
  testing::write_png(dir.file("rgb.png"), 6, 9, 3, rgb);
  testing::write_png(dir.file("grey.PNG"), 6, 9, 1, grey);
  const DecodedImage read_rgb = read_image(dir.file("rgb.png"), 3);
  EXPECT_EQ(read_rgb.height, 6);
  EXPECT_EQ(read_rgb.width, 9);
  EXPECT_EQ(read_rgb.channels, 3);
  EXPECT_EQ(read_rgb.pixels, rgb);
  EXPECT_EQ(read_image(dir.file("grey.PNG"), 1).pixels, grey);
  // Grey read as RGB: three equal channels.
  const DecodedImage widened = read_image(dir.file("grey.PNG"), 3);
  for (size_t i = 0; i < grey.size(); ++i) {
    EXPECT_EQ(widened.pixels[3 * i], grey[i]);
    EXPECT_EQ(widened.pixels[3 * i + 2], grey[i]);
  }
}

TEST(ImageFile, AlphaIsCompositedOnBlackAndColourBecomesGrey) {
  TempDir dir;
  // Opaque red, then half-transparent white.
  testing::write_png(dir.file("rgba.png"), 1, 2, 4, {255, 0, 0, 255, 255, 255, 255, 128});
  const DecodedImage rgb = read_image(dir.file("rgba.png"), 3);
  EXPECT_EQ(std::vector<uint8_t>(rgb.pixels.begin(), rgb.pixels.begin() + 3), (std::vector<uint8_t>{255, 0, 0}));
  for (int c = 3; c < 6; ++c) EXPECT_NEAR(rgb.pixels[c], 128, 60) << "white at half alpha over black";
  testing::write_png(dir.file("colour.png"), 1, 3, 3, {255, 0, 0, 0, 255, 0, 255, 255, 255});
  const DecodedImage grey = read_image(dir.file("colour.png"), 1);
  ASSERT_EQ(grey.pixels.size(), 3u);
  EXPECT_LT(grey.pixels[0], grey.pixels[1]) << "green is lighter than red";
  EXPECT_EQ(grey.pixels[2], 255);
}

TEST(ImageFile, JpegDecodesCloseToWhatWasWritten) {
  TempDir dir;
  const std::vector<uint8_t> rgb = solid_pixels(16, 24, {200, 40, 90});
  testing::write_jpeg(dir.file("a.jpg"), 16, 24, 3, rgb);
  const DecodedImage read = read_image(dir.file("a.jpg"), 3);
  ASSERT_EQ(read.height, 16);
  ASSERT_EQ(read.width, 24);
  for (size_t i = 0; i < rgb.size(); ++i) EXPECT_NEAR(read.pixels[i], rgb[i], 3) << i;
  const DecodedImage grey = read_image(dir.file("a.jpg"), 1);
  EXPECT_EQ(grey.pixels.size(), 16u * 24u);
}

TEST(ImageFile, BadFilesAreNamed) {
  TempDir dir;
  { std::ofstream(dir.file("text.png")) << "not an image at all"; }
  EXPECT_NE(error_message([&] { read_image(dir.file("text.png"), 3); })
                .find(dir.file("text.png") + ": neither a PNG nor a JPEG file"),
            std::string::npos);
  EXPECT_NE(error_message([&] { read_image(dir.file("missing.png"), 3); }).find("cannot read image"), std::string::npos);
  // Cut short: each library's complaint, with the file's name.
  testing::write_jpeg(dir.file("whole.jpg"), 32, 32, 3, gradient_pixels(32, 32, 3));
  testing::write_png(dir.file("whole.png"), 32, 32, 3, gradient_pixels(32, 32, 3));
  for (const std::string name : {"whole.jpg", "whole.png"}) {
    std::ifstream in(dir.file(name), std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const std::string cut = dir.file(std::string("cut-") + name);
    std::ofstream(cut, std::ios::binary) << bytes.substr(0, bytes.size() / 2);
    const std::string message = error_message([&] { read_image(cut, 3); });
    EXPECT_NE(message.find(cut + ": a corrupt"), std::string::npos) << message;
  }
}

TEST(ImageFit, SameSizeIsExactAndSolidStaysSolid) {
  DecodedImage image{5, 7, 3, gradient_pixels(5, 7, 3)};
  std::vector<uint8_t> out(3 * 5 * 7);
  fit_image(image, 5, 7, ImageFit::kResize, out.data());
  for (int c = 0; c < 3; ++c) {
    for (int i = 0; i < 35; ++i) EXPECT_EQ(out[c * 35 + i], image.pixels[i * 3 + c]) << "planar, channel " << c;
  }
  DecodedImage solid{13, 29, 3, solid_pixels(13, 29, {10, 130, 250})};
  for (ImageFit fit : {ImageFit::kResize, ImageFit::kCrop}) {
    for (auto [h, w] : {std::pair{4, 4}, std::pair{40, 17}, std::pair{13, 29}}) {
      std::vector<uint8_t> fitted(static_cast<size_t>(3 * h * w));
      fit_image(solid, h, w, fit, fitted.data());
      for (int i = 0; i < h * w; ++i) {
        ASSERT_EQ(fitted[i], 10);
        ASSERT_EQ(fitted[h * w + i], 130);
        ASSERT_EQ(fitted[2 * h * w + i], 250);
      }
    }
  }
}

TEST(ImageFit, ShrinkingAveragesAndCropKeepsTheCentre) {
  // A ramp shrunk to half: a triangle filter keeps a linear function linear, each output pixel
  // the ramp's value at its centre (away from the edges, where the filter is cut).
  DecodedImage ramp{2, 24, 1, {}};
  for (int y = 0; y < 2; ++y) {
    for (int x = 0; x < 24; ++x) ramp.pixels.push_back(static_cast<uint8_t>(10 * x));
  }
  std::vector<uint8_t> halved(12);
  fit_image(ramp, 1, 12, ImageFit::kResize, halved.data());
  for (int i = 1; i < 11; ++i) EXPECT_NEAR(halved[i], 20 * i + 5, 1) << i;
  // 2x2 blocks of 0 and 200 in a checkerboard:
  DecodedImage blocks{8, 8, 1, {}};
  for (int y = 0; y < 8; ++y) {
    for (int x = 0; x < 8; ++x) blocks.pixels.push_back(((y / 2 + x / 2) % 2) * 200);
  }
  // Shrunk to one pixel, the checkerboard is its mean: every pixel counted.
  uint8_t one = 0;
  fit_image(blocks, 1, 1, ImageFit::kResize, &one);
  EXPECT_NEAR(one, 100, 2);

  // A wide image, bright in its middle third: cropped square, all of it bright; stretched, the
  // middle third only.
  DecodedImage wide{10, 30, 1, {}};
  for (int y = 0; y < 10; ++y) {
    for (int x = 0; x < 30; ++x) wide.pixels.push_back(x >= 10 && x < 20 ? 255 : 0);
  }
  std::vector<uint8_t> cropped(100), stretched(100);
  fit_image(wide, 10, 10, ImageFit::kCrop, cropped.data());
  fit_image(wide, 10, 10, ImageFit::kResize, stretched.data());
  for (int i = 0; i < 100; ++i) EXPECT_EQ(cropped[i], 255) << i;
  EXPECT_EQ(stretched[0], 0);
  EXPECT_EQ(stretched[5], 255);
  EXPECT_EQ(stretched[9], 0);
}

// A folder of three classes: PNG and JPEG, grey and colour, of mixed sizes. Each image is one solid
// colour, the class's, so that where it lands in the shards tells its class.
struct ImageFolderFixture : ::testing::Test {
  TempDir dir;
  const std::map<std::string, std::vector<uint8_t>> colours{
      {"cat", {250, 10, 10}}, {"dog", {10, 250, 10}}, {"fox", {10, 10, 250}}};
  void SetUp() override {
    int n = 0;
    for (const auto& [name, colour] : colours) {
      std::filesystem::create_directories(dir.file("images/" + name));
      for (int i = 0; i < 9; ++i, ++n) {
        const int h = 8 + (n % 5) * 7, w = 10 + (n % 3) * 11;
        const std::string base = dir.file("images/" + name + "/" + std::to_string(i));
        if (i % 2 == 0) {
          testing::write_png(base + ".png", h, w, 3, solid_pixels(h, w, colour));
        } else {
          testing::write_jpeg(base + ".JPG", h, w, 3, solid_pixels(h, w, colour));
        }
      }
    }
    std::ofstream(dir.file("images/cat/notes.txt")) << "not an image: not read";
  }
  ImageFolderConversion conversion(const std::string& output) const {
    ImageFolderConversion c;
    c.root = dir.file("images");
    c.output_dir = dir.file(output);
    c.height = 6;
    c.width = 5;
    c.shards = 4;
    return c;
  }
  // Converts every part in turn.
  void convert_all(const ImageFolderConversion& c, int parts = 1) const {
    const ImageFolderPlan plan = plan_image_folder(c);
    plan.shards.prepare();
    for (int p = 0; p < parts; ++p) convert_image_folder_part(c, plan, {p, parts});
    plan.shards.finish();
  }
  // Every stored sample: its label and its first pixel of each channel, in shard order.
  std::vector<std::vector<int>> samples(const std::string& output) const {
    std::vector<std::vector<int>> all;
    for (const std::vector<uint8_t>& s : testing::stored_byte_samples(dir.file(output))) {
      all.push_back({s.back(), s[0], s[30], s[60]});
    }
    return all;
  }
};

TEST_F(ImageFolderFixture, EveryImageLandsWithItsClassInMixedShards) {
  const ImageFolderConversion c = conversion("out");
  convert_all(c);
  ShardIndex index(dir.file("out"));
  ASSERT_EQ(index.shards().size(), 4u);
  EXPECT_EQ(index.total_samples(), 27);
  const ShardInfo& layout = index.layout();
  EXPECT_EQ(layout.feature_shape, (std::vector<int64_t>{3, 6, 5}));
  EXPECT_EQ(layout.feature_dtype, DType::kUInt8);
  EXPECT_DOUBLE_EQ(layout.feature_scale, 1.0 / 255.0);
  EXPECT_EQ(layout.class_names, (std::vector<std::string>{"cat", "dog", "fox"}));
  std::map<int, int> per_class;
  for (const std::vector<int>& s : samples("out")) {
    ++per_class[s[0]];
    const std::vector<uint8_t>& colour = colours.at(layout.class_names[static_cast<size_t>(s[0])]);
    for (int c = 0; c < 3; ++c) EXPECT_NEAR(s[1 + c], colour[static_cast<size_t>(c)], 4) << "label " << s[0];
  }
  EXPECT_EQ(per_class, (std::map<int, int>{{0, 9}, {1, 9}, {2, 9}}));
  // The order is drawn, not the folders': the first shard does not hold one class alone.
  std::set<int> first_shard;
  for (int i = 0; i < 7; ++i) first_shard.insert(samples("out")[static_cast<size_t>(i)][0]);
  EXPECT_GT(first_shard.size(), 1u);
  // The manifest and the plan lie beside the shards.
  EXPECT_TRUE(std::filesystem::exists(dir.file("out/shard-manifest.json")));
  EXPECT_TRUE(std::filesystem::exists(dir.file("out/shard-plan.json")));
}

TEST_F(ImageFolderFixture, PartsTogetherWriteWhatOneWorkerWrites) {
  convert_all(conversion("one"), 1);
  convert_all(conversion("three"), 3);
  EXPECT_EQ(samples("one"), samples("three"));
  ImageFolderConversion grey = conversion("grey");
  grey.channels = 1;
  convert_all(grey, 2);
  EXPECT_EQ(ShardIndex(dir.file("grey")).layout().feature_shape, (std::vector<int64_t>{1, 6, 5}));
}

TEST_F(ImageFolderFixture, ARerunConvertsOnlyWhatIsMissing) {
  const ImageFolderConversion c = conversion("out");
  convert_all(c);
  const std::vector<std::vector<int>> whole = samples("out");
  // Interrupted: shard 2 never renamed (its partial file left), shard 3 not begun.
  std::filesystem::rename(dir.file("out/shard-00002.h5"), dir.file("out/shard-00002.h5.partial"));
  std::filesystem::remove(dir.file("out/shard-00003.h5"));
  std::filesystem::remove(dir.file("out/shard-manifest.json"));
  const auto untouched = std::filesystem::last_write_time(dir.file("out/shard-00000.h5"));
  const ImageFolderPlan plan = plan_image_folder(c);
  EXPECT_EQ(plan.shards.prepare(), 2) << "shards 0 and 1 are complete";
  EXPECT_EQ(convert_image_folder_part(c, plan, {0, 1}).shards_written, 2);
  plan.shards.finish();
  EXPECT_EQ(std::filesystem::last_write_time(dir.file("out/shard-00000.h5")), untouched);
  EXPECT_EQ(samples("out"), whole);

  // Other arguments: the earlier shards go, all of them written anew.
  ImageFolderConversion other = c;
  other.shards = 2;
  const ImageFolderPlan other_plan = plan_image_folder(other);
  EXPECT_EQ(other_plan.shards.prepare(), 0);
  EXPECT_FALSE(std::filesystem::exists(dir.file("out/shard-00003.h5")));
  EXPECT_FALSE(std::filesystem::exists(dir.file("out/shard-00002.h5.partial")));
  EXPECT_EQ(convert_image_folder_part(other, other_plan, {0, 1}).shards_written, 2);
}

TEST_F(ImageFolderFixture, UnreadableImagesAreNamedOrLeftOut) {
  { std::ofstream(dir.file("images/dog/broken.jpg")) << "\xff\xd8\xff but nothing after"; }
  ImageFolderConversion c = conversion("out");
  const ImageFolderPlan plan = plan_image_folder(c);
  plan.shards.prepare();
  const std::string message = error_message([&] { convert_image_folder_part(c, plan, {0, 1}); });
  EXPECT_NE(message.find(dir.file("images/dog/broken.jpg") + ": a corrupt or unsupported JPEG"), std::string::npos)
      << message;
  c.skip_bad_images = true;
  const ImageFolderPlan skipping = plan_image_folder(c);
  skipping.shards.prepare();
  const ImageFolderPart part = convert_image_folder_part(c, skipping, {0, 1});
  EXPECT_EQ(part.skipped, 1);
  EXPECT_EQ(part.images, 27);
  skipping.shards.finish();
  EXPECT_EQ(ShardIndex(dir.file("out")).total_samples(), 27);
}

TEST_F(ImageFolderFixture, BadFoldersAndArgumentsAreNamed) {
  ImageFolderConversion c = conversion("out");
  c.class_names = {"cat", "dog"};
  EXPECT_NE(error_message([&] { plan_image_folder(c); })
                .find(dir.file("images") + "/fox: a folder that is not one of the 2 class names given"),
            std::string::npos);
  c.class_names = {"ant", "cat", "dog", "fox"};  // a class with no folder: its id kept
  EXPECT_EQ(plan_image_folder(c).labels.size(), 27u);
  c.class_names.clear();
  c.root = dir.file("nowhere");
  EXPECT_NE(error_message([&] { plan_image_folder(c); }).find("nowhere is not a directory"), std::string::npos);
  std::filesystem::create_directories(dir.file("empty/a"));
  c.root = dir.file("empty");
  EXPECT_NE(error_message([&] { plan_image_folder(c); }).find("no PNG or JPEG file"), std::string::npos);
  c.root = dir.file("images");
  c.shards = 100;
  EXPECT_NE(error_message([&] { plan_image_folder(c); }).find("cannot cut 27 images into 100 shards"),
            std::string::npos);
}

}  // namespace
}  // namespace rt
