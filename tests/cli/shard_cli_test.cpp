// `ringtrain shard` as a user runs it on their own data, alone and under mpirun: an image folder
// converted by 1, 2 and 4 ranks into the same shards, an interrupted conversion finished by a
// rerun, and a cnn that learns from the images.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "core/base/random.h"
#include "data/loader.h"
#include "data/shard_index.h"
#include "data/shard_reader.h"
#include "tests/image_files.h"
#include "tests/test_support.h"

namespace rt {
namespace {

using testing::Outcome;
using testing::run;

const std::string kBinary = RINGTRAIN_BINARY;
std::string mpi(int ranks) {
  return std::string(RINGTRAIN_MPIEXEC) + " -n " + std::to_string(ranks) + " --oversubscribe --timeout 60 ";
}

// Every sample of the float32 shards in `output`, in shard order: its features, then its label.
std::vector<std::vector<float>> rows_of(const std::string& output) {
  std::vector<std::vector<float>> rows;
  const ShardIndex index(output);
  for (const ShardInfo& shard : index.shards()) {
    ShardReader reader(shard.path);
    const int64_t width = shard.feature_size();
    std::vector<float> features(static_cast<size_t>(shard.samples * width));
    std::vector<int32_t> labels(static_cast<size_t>(shard.samples));
    reader.read(0, shard.samples, features.data(), labels.data());
    for (int64_t i = 0; i < shard.samples; ++i) {
      rows.emplace_back(features.begin() + i * width, features.begin() + (i + 1) * width);
      rows.back().push_back(static_cast<float>(labels[static_cast<size_t>(i)]));
    }
  }
  return rows;
}

// Converts with `args` + OUTPUT at 2 and 4 ranks (OUTPUT: DIR/np2, DIR/np4), expecting the rows
// `expected`; then a rerun at 4 ranks, one shard removed, writes that shard alone.
void expect_ranks_agree(const std::string& args, const testing::TempDir& dir,
                        const std::vector<std::vector<float>>& expected) {
  for (int ranks : {2, 4}) {
    const std::string output = dir.file("np" + std::to_string(ranks));
    Outcome parallel = run(mpi(ranks) + kBinary + args + output);
    ASSERT_EQ(parallel.exit_code, 0) << parallel.output;
    EXPECT_EQ(rows_of(output), expected) << ranks << " ranks";
  }
  std::filesystem::remove(dir.file("np4/shard-00003.h5"));
  Outcome rerun = run(mpi(4) + kBinary + args + dir.file("np4"));
  ASSERT_EQ(rerun.exit_code, 0) << rerun.output;
  EXPECT_NE(rerun.output.find("wrote 1 shard(s)"), std::string::npos) << rerun.output;
  EXPECT_EQ(rows_of(dir.file("np4")), expected);
}

// Three classes of 16x16 images, PNG and JPEG of several sizes: a class is a colour, lighter or
// darker, with noise, so that a small cnn tells them apart only from the pixels.
class ShardCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::vector<std::vector<int>> colours{{220, 40, 40}, {40, 200, 60}, {50, 60, 230}};
    const std::vector<std::string> names{"red", "green", "blue"};
    Rng rng(7);
    for (const std::string split : {"train", "test"}) {
      const int per_class = split == "train" ? 60 : 20;
      for (size_t k = 0; k < names.size(); ++k) {
        const std::string folder = dir_.file("images/" + split + "/" + names[k]);
        std::filesystem::create_directories(folder);
        for (int i = 0; i < per_class; ++i) {
          const int h = 16 + static_cast<int>(rng.below(9)), w = 16 + static_cast<int>(rng.below(13));
          const float light = rng.uniform(0.6f, 1.0f);
          std::vector<uint8_t> pixels;
          for (int p = 0; p < h * w; ++p) {
            for (int c = 0; c < 3; ++c) {
              const float value = colours[k][static_cast<size_t>(c)] * light + rng.uniform(-25.0f, 25.0f);
              pixels.push_back(static_cast<uint8_t>(std::clamp(value, 0.0f, 255.0f)));
            }
          }
          const std::string base = folder + "/" + std::to_string(i);
          if (i % 3 == 0) {
            testing::write_jpeg(base + ".jpeg", h, w, 3, pixels, 90);
          } else {
            testing::write_png(base + ".png", h, w, 3, pixels);
          }
        }
      }
    }
  }
  std::string convert(const std::string& launcher, const std::string& split, const std::string& output,
                      const std::string& extra = "", const std::string& size = "12x12") {
    return launcher + kBinary + " shard --images " + dir_.file("images/" + split) + " --size " + size +
           " --shard-mb 0.01 --output " + dir_.file(output) + " " + extra;
  }
  std::vector<std::vector<uint8_t>> samples(const std::string& output) {
    return testing::stored_byte_samples(dir_.file(output));
  }
  testing::TempDir dir_;
};

TEST_F(ShardCliTest, OneTwoAndFourRanksWriteTheSameShards) {
  Outcome alone = run(convert("", "train", "np1"));
  ASSERT_EQ(alone.exit_code, 0) << alone.output;
  EXPECT_NE(alone.output.find("180 images of 3 classes"), std::string::npos) << alone.output;
  const std::vector<std::vector<uint8_t>> expected = samples("np1");
  ASSERT_EQ(expected.size(), 180u);
  const size_t shards = ShardIndex(dir_.file("np1")).shards().size();
  EXPECT_GT(shards, 4u) << "each rank has shards to write";
  for (int ranks : {2, 4}) {
    const std::string output = "np" + std::to_string(ranks);
    Outcome parallel = run(convert(mpi(ranks), "train", output));
    ASSERT_EQ(parallel.exit_code, 0) << parallel.output;
    EXPECT_NE(parallel.output.find("by " + std::to_string(ranks) + " rank(s)"), std::string::npos) << parallel.output;
    EXPECT_EQ(samples(output), expected) << ranks << " ranks";
    std::ifstream one(dir_.file("np1/shard-manifest.json")), other(dir_.file(output + "/shard-manifest.json"));
    EXPECT_EQ(std::string(std::istreambuf_iterator<char>(one), {}), std::string(std::istreambuf_iterator<char>(other), {}));
  }
}

TEST_F(ShardCliTest, ARerunFinishesAnInterruptedConversion) {
  ASSERT_EQ(run(convert(mpi(2), "train", "out")).exit_code, 0);
  const std::vector<std::vector<uint8_t>> whole = samples("out");
  // As a job cut short leaves it: a shard half written, one never begun, no manifest.
  std::filesystem::rename(dir_.file("out/shard-00001.h5"), dir_.file("out/shard-00001.h5.partial"));
  std::filesystem::resize_file(dir_.file("out/shard-00001.h5.partial"), 1000);
  std::filesystem::remove(dir_.file("out/shard-00004.h5"));
  std::filesystem::remove(dir_.file("out/shard-manifest.json"));
  Outcome rerun = run(convert(mpi(2), "train", "out"));
  ASSERT_EQ(rerun.exit_code, 0) << rerun.output;
  EXPECT_NE(rerun.output.find("already complete from an earlier run, kept"), std::string::npos) << rerun.output;
  EXPECT_NE(rerun.output.find("wrote 2 shard(s)"), std::string::npos) << rerun.output;
  EXPECT_FALSE(std::filesystem::exists(dir_.file("out/shard-00001.h5.partial")) &&
               std::filesystem::file_size(dir_.file("out/shard-00001.h5.partial")) == 1000);
  EXPECT_EQ(samples("out"), whole);
  EXPECT_TRUE(std::filesystem::exists(dir_.file("out/shard-manifest.json")));
}

TEST_F(ShardCliTest, ACnnLearnsFromTheImages) {
  ASSERT_EQ(run(convert(mpi(2), "train", "train")).exit_code, 0);
  Outcome test = run(convert("", "test", "test"));
  ASSERT_EQ(test.exit_code, 0) << test.output;
  std::ofstream(dir_.file("cnn.toml")) << "[model]\nkind = \"cnn\"\nchannels = [4]\nhidden = [16]\n"
                                       << "[train]\nepochs = 10\nglobal_batch = 20\n[optimizer]\nlr = 0.1\nmomentum = 0.9\n"
                                       << "[data]\ntrain_dir = \"" << dir_.file("train") << "\"\ntest_dir = \""
                                       << dir_.file("test") << "\"\n[runtime]\nthreads = 1\n[log]\ndir = \""
                                       << dir_.file("run") << "\"\n";
  Outcome trained = run(mpi(2) + kBinary + " train " + dir_.file("cnn.toml"));
  ASSERT_EQ(trained.exit_code, 0) << trained.output;
  const std::string accuracy = testing::test_accuracy_of(trained.output);
  ASSERT_FALSE(accuracy.empty()) << trained.output;
  EXPECT_GT(std::stod(accuracy), 90.0) << trained.output;
  // evaluate names the classes the folders named.
  Outcome evaluated = run(kBinary + " evaluate " + dir_.file("run/checkpoints") + " --data " + dir_.file("test"));
  ASSERT_EQ(evaluated.exit_code, 0) << evaluated.output;
  EXPECT_NE(evaluated.output.find("green"), std::string::npos) << evaluated.output;
}

TEST_F(ShardCliTest, MistakesAreNamed) {
  Outcome no_size = run(kBinary + " shard --images " + dir_.file("images/train") + " --output " + dir_.file("o"));
  EXPECT_NE(no_size.exit_code, 0);
  EXPECT_NE(no_size.output.find("--size"), std::string::npos) << no_size.output;
  Outcome bad_size = run(convert("", "train", "o", "", "12y12"));
  EXPECT_NE(bad_size.exit_code, 0);
  EXPECT_NE(bad_size.output.find("'12y12' is not HEIGHTxWIDTH"), std::string::npos) << bad_size.output;
  { std::ofstream(dir_.file("images/train/red/bad.png")) << "no png"; }
  Outcome bad_image = run(convert(mpi(2), "train", "o"));
  EXPECT_NE(bad_image.exit_code, 0);
  EXPECT_NE(bad_image.output.find(dir_.file("images/train/red/bad.png") + ": neither a PNG nor a JPEG"),
            std::string::npos)
      << bad_image.output;
  Outcome skipped = run(convert(mpi(2), "train", "o", "--on-bad-row skip"));
  ASSERT_EQ(skipped.exit_code, 0) << skipped.output;
  EXPECT_NE(skipped.output.find("1 unreadable left out"), std::string::npos) << skipped.output;
  EXPECT_EQ(ShardIndex(dir_.file("o")).total_samples(), 180);
}

// CSV tables cut into pieces at line starts: every row once, in file order, whichever rank converts
// which piece; class names found by every rank's labels together; a rerun keeps complete shards.
TEST(ShardCliCsvTest, OneTwoAndFourRanksWriteTheSameShards) {
  testing::TempDir dir;
  const std::vector<std::string> kinds{"oak", "elm", "ash", "yew"};
  Rng rng(3);
  std::vector<std::string> tables;
  for (int part = 0; part < 3; ++part) {
    tables.push_back(dir.file("part-" + std::to_string(part) + ".csv"));
    std::ofstream out(tables.back());
    out << "height,\"girth, cm\",kind\r\n";
    const int rows = 100 + 37 * part;
    for (int r = 0; r < rows; ++r) {
      // A long quoted comment now and then, so that pieces end in the middle of lines.
      out << rng.uniform(1, 30) << "," << (r % 11 == 0 ? "\" 7.5 \"" : std::to_string(r)) << ","
          << kinds[rng.below(kinds.size())] << "\r\n";
    }
  }
  std::string files;
  for (const std::string& table : tables) files += table + " ";
  const std::string args = " shard --csv " + files + " --label kind --shard-mb 0.0005 --output ";
  ASSERT_EQ(run(kBinary + args + dir.file("np1")).exit_code, 0);
  std::vector<std::vector<float>> expected;
  const ShardIndex index(dir.file("np1"));
  EXPECT_EQ(index.total_samples(), 100 + 137 + 174);
  EXPECT_EQ(index.layout().class_names, (std::vector<std::string>{"ash", "elm", "oak", "yew"}));
  EXPECT_GE(index.shards().size(), 9u);
  expected = rows_of(dir.file("np1"));
  // In file order: the second column counts the rows of each file (7.5 every eleventh).
  EXPECT_EQ(expected[1][1], 1.0f);
  EXPECT_EQ(expected[11][1], 7.5f);
  EXPECT_EQ(expected[101][1], 1.0f);
  expect_ranks_agree(args, dir, expected);
}

// NumPy arrays: row ranges shared by the ranks; a .npz archive extracted once, by rank 0.
TEST(ShardCliNpyTest, OneTwoAndFourRanksWriteTheSameShards) {
  testing::TempDir dir;
  std::vector<float> features(500 * 6);
  std::vector<int16_t> labels(500);
  for (size_t i = 0; i < features.size(); ++i) features[i] = static_cast<float>(i) * 0.5f;
  for (size_t i = 0; i < labels.size(); ++i) labels[i] = static_cast<int16_t>(i % 7);
  testing::write_npy(dir.file("x.npy"), "<f4", "(500, 2, 3)", features.data(), features.size() * sizeof(float));
  testing::write_npy(dir.file("y.npy"), "<i2", "(500,)", labels.data(), labels.size() * sizeof(int16_t));
  const std::string args = " shard --npy " + dir.file("x.npy") + " --labels " + dir.file("y.npy") + " --shards 9 --output ";
  ASSERT_EQ(run(kBinary + args + dir.file("np1")).exit_code, 0);
  const std::vector<std::vector<float>> expected = rows_of(dir.file("np1"));
  ASSERT_EQ(expected.size(), 500u);
  EXPECT_EQ(expected[499][5], features[499 * 6 + 5]);
  EXPECT_EQ(expected[499][6], 499 % 7);
  expect_ranks_agree(args, dir, expected);

  // The same arrays in an archive (np.savez, stored), converted by two ranks.
  const std::string script = "import numpy as np; np.savez('" + dir.file("xy.npz") + "', x=np.load('" +
                             dir.file("x.npy") + "'), y=np.load('" + dir.file("y.npy") + "'))";
  ASSERT_EQ(run(std::string(RINGTRAIN_PYTHON) + " -c \"" + script + "\"").exit_code, 0);
  Outcome archive = run(mpi(2) + kBinary + " shard --npz " + dir.file("xy.npz") + " --shards 9 --output " +
                        dir.file("npz"));
  ASSERT_EQ(archive.exit_code, 0) << archive.output;
  EXPECT_EQ(rows_of(dir.file("npz")), expected);
  EXPECT_FALSE(std::filesystem::exists(dir.file("npz/.xy.x.npy"))) << "the extracted array is removed";

  // Real-numbered labels: refused as classes, stored as a regression's targets with --task regression.
  std::vector<double> targets(500);
  for (size_t i = 0; i < targets.size(); ++i) targets[i] = 0.5 * static_cast<double>(i) - 7.25;
  testing::write_npy(dir.file("t.npy"), "<f8", "(500,)", targets.data(), targets.size() * sizeof(double));
  const std::string values = " shard --npy " + dir.file("x.npy") + " --labels " + dir.file("t.npy") + " --output ";
  Outcome as_classes = run(kBinary + values + dir.file("classes"));
  EXPECT_NE(as_classes.output.find("labels must be integers, not dtype <f8 (for real-numbered targets: --task "
                                   "regression)"),
            std::string::npos)
      << as_classes.output;
  ASSERT_EQ(run(mpi(2) + kBinary + values + dir.file("values") + " --task regression").exit_code, 0);
  const ShardIndex regression(dir.file("values"));
  EXPECT_TRUE(regression.layout().regression);
  ShardReader reader(regression.shards().back().path);
  std::vector<float> x(6);
  int32_t target = 0;
  reader.read(reader.info().samples - 1, 1, x.data(), &target);
  EXPECT_EQ(*targets_of(&target), static_cast<float>(targets.back()));
}

}  // namespace
}  // namespace rt
