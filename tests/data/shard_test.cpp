// The shard format: a written shard reads back exactly, and every kind of bad file is refused
// with an error that names the file and what is wrong.
#include <gtest/gtest.h>
#include <hdf5.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>

#include "core/base/check.h"
#include "data/loader.h"
#include "data/shard_format.h"
#include "data/shard_image.h"
#include "data/shard_index.h"
#include "data/shard_reader.h"
#include "data/shard_writer.h"
#include "tests/test_support.h"

namespace rt {
namespace {

using testing::TempDir;

using testing::error_message;

ShardInfo small_shard(const std::string& path, std::vector<uint8_t>& features, std::vector<int32_t>& labels) {
  ShardInfo info;
  info.path = path;
  info.samples = 5;
  info.feature_shape = {2, 3};
  info.classes = 4;
  info.feature_dtype = DType::kUInt8;
  info.feature_scale = 0.5;
  features.resize(30);
  for (size_t i = 0; i < features.size(); ++i) features[i] = static_cast<uint8_t>(i * 7);
  labels = {0, 3, 1, 2, 3};
  return info;
}

// The bytes of the file at `path`, as the prefetcher hands a shard to its reader.
std::shared_ptr<ShardImage> image_of(const std::string& path) {
  const auto size = static_cast<size_t>(std::filesystem::file_size(path));
  auto image = std::make_shared<ShardImage>(size);
  std::ifstream(path, std::ios::binary).read(reinterpret_cast<char*>(image->data()), static_cast<std::streamsize>(size));
  return image;
}

// Opens a valid shard for writing and lets `edit` damage it.
void edit_shard(const std::string& path, const std::function<void(hid_t)>& edit) {
  hid_t file = H5Fopen(path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
  ASSERT_GE(file, 0);
  edit(file);
  H5Fclose(file);
}

void replace_int64_attribute(hid_t file, const char* name, int64_t value) {
  H5Adelete(file, name);
  hid_t space = H5Screate(H5S_SCALAR);
  hid_t attribute = H5Acreate2(file, name, H5T_STD_I64LE, space, H5P_DEFAULT, H5P_DEFAULT);
  H5Awrite(attribute, H5T_NATIVE_INT64, &value);
  H5Aclose(attribute);
  H5Sclose(space);
}

void replace_dataset(hid_t file, const char* name, hid_t type, std::vector<hsize_t> dims) {
  H5Ldelete(file, name, H5P_DEFAULT);
  hid_t space = H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr);
  hid_t dataset = H5Dcreate2(file, name, type, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  H5Dclose(dataset);
  H5Sclose(space);
}

class ShardFile : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = dir_.file("good.h5");
    ShardInfo info = small_shard(path_, features_, labels_);
    write_shard(info, features_.data(), labels_.data());
  }
  std::string open_error() {
    return error_message([&] { ShardReader reader(path_); });
  }
  TempDir dir_;
  std::string path_;
  std::vector<uint8_t> features_;
  std::vector<int32_t> labels_;
};

TEST_F(ShardFile, ReadsBackWhatWasWritten) {
  ShardReader reader(path_);
  EXPECT_EQ(reader.info().samples, 5);
  EXPECT_EQ(reader.info().feature_shape, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(reader.info().classes, 4);
  EXPECT_EQ(reader.info().feature_dtype, DType::kUInt8);
  EXPECT_DOUBLE_EQ(reader.info().feature_scale, 0.5);
  std::vector<uint8_t> features(18);
  std::vector<int32_t> labels(3);
  reader.read(1, 3, features.data(), labels.data());
  EXPECT_EQ(features, std::vector<uint8_t>(features_.begin() + 6, features_.begin() + 24));
  EXPECT_EQ(labels, (std::vector<int32_t>{3, 1, 2}));
  EXPECT_FALSE(std::filesystem::exists(path_ + ".partial"));
}

TEST_F(ShardFile, ReadingPastTheEndIsRefused) {
  ShardReader reader(path_);
  std::vector<uint8_t> features(36);
  std::vector<int32_t> labels(6);
  std::string text = error_message([&] { reader.read(2, 4, features.data(), labels.data()); });
  EXPECT_NE(text.find("rows [2, 6) are outside its 5 samples"), std::string::npos) << text;
}

TEST_F(ShardFile, MissingFileIsNamed) {
  std::string text = error_message([&] { ShardReader reader(dir_.file("absent.h5")); });
  EXPECT_NE(text.find("absent.h5 does not exist"), std::string::npos) << text;
}

TEST_F(ShardFile, NonHdf5FileIsNamed) {
  std::ofstream(path_, std::ios::trunc) << "this is not HDF5";
  std::string text = open_error();
  EXPECT_NE(text.find(path_ + " is not an HDF5 file"), std::string::npos) << text;
}

TEST_F(ShardFile, TruncatedFileIsNamed) {
  std::filesystem::resize_file(path_, std::filesystem::file_size(path_) / 2);
  std::string text = error_message([&] {
    ShardReader reader(path_);
    std::vector<uint8_t> features(30);
    std::vector<int32_t> labels(5);
    reader.read(0, 5, features.data(), labels.data());
  });
  EXPECT_NE(text.find(path_), std::string::npos) << text;
  EXPECT_EQ(text.find("(no error)"), std::string::npos);
}

// Class names: read back in id order; a count that is not num_classes, text that is not a JSON
// array of names, or a repeated name is refused naming the shard; a writer given the wrong count
// refuses it too.
TEST_F(ShardFile, ClassNamesAreReadBackAndBadOnesRefused) {
  EXPECT_TRUE(ShardReader(path_).info().class_names.empty());
  ShardInfo info = small_shard(dir_.file("named.h5"), features_, labels_);
  info.class_names = {"cat", "dog", "emu", "yak"};
  write_shard(info, features_.data(), labels_.data());
  EXPECT_EQ(ShardReader(info.path).info().class_names, info.class_names);
  for (const auto& [text, says] : std::vector<std::pair<std::string, std::string>>{
           {"[\"cat\", \"dog\"]", "2 class names for num_classes = 4"},
           {"cat,dog,emu,yak", "is not JSON"},
           {"[\"cat\", 1, \"emu\", \"yak\"]", "class name 1 is not text"},
           {"[\"cat\", \"cat\", \"emu\", \"yak\"]", "class names repeat"}}) {
    edit_shard(info.path, [&, text = text](hid_t file) {
      H5Adelete(file, shard_format::kAttrClassNames);
      hid_t type = H5Tcopy(H5T_C_S1);
      H5Tset_size(type, text.size());
      hid_t space = H5Screate(H5S_SCALAR);
      hid_t attribute = H5Acreate2(file, shard_format::kAttrClassNames, type, space, H5P_DEFAULT, H5P_DEFAULT);
      H5Awrite(attribute, type, text.data());
      H5Aclose(attribute);
      H5Sclose(space);
      H5Tclose(type);
    });
    const std::string message = error_message([&] { ShardReader reader(info.path); });
    EXPECT_NE(message.find(says), std::string::npos) << message;
    EXPECT_NE(message.find(info.path), std::string::npos) << message;
  }
  info.class_names = {"cat", "dog"};
  EXPECT_NE(error_message([&] { write_shard(info, features_.data(), labels_.data()); }).find("2 class names for 4 classes"),
            std::string::npos);
}

TEST_F(ShardFile, UnsupportedVersionIsNamed) {
  edit_shard(path_, [](hid_t file) { replace_int64_attribute(file, shard_format::kAttrVersion, 99); });
  std::string text = open_error();
  EXPECT_NE(text.find("format version 99 is not supported"), std::string::npos) << text;
  EXPECT_NE(text.find(path_), std::string::npos) << text;
}

TEST_F(ShardFile, MissingAttributeIsNamed) {
  edit_shard(path_, [](hid_t file) { H5Adelete(file, shard_format::kAttrClasses); });
  std::string text = open_error();
  EXPECT_NE(text.find("attribute 'num_classes' is missing"), std::string::npos) << text;
}

TEST_F(ShardFile, WrongFeatureDtypeIsNamed) {
  edit_shard(path_, [](hid_t file) { replace_dataset(file, shard_format::kFeatures, H5T_IEEE_F64LE, {5, 2, 3}); });
  std::string text = open_error();
  EXPECT_NE(text.find("dataset 'features' has type float64, expected uint8 or float32"), std::string::npos) << text;
}

TEST_F(ShardFile, WrongFeatureShapeIsNamed) {
  edit_shard(path_, [](hid_t file) { replace_dataset(file, shard_format::kFeatures, H5T_STD_U8LE, {5, 6}); });
  std::string text = open_error();
  EXPECT_NE(text.find("dataset 'features' has shape [5, 6], the attributes say [5, 2, 3]"), std::string::npos) << text;
}

TEST_F(ShardFile, WrongLabelDtypeIsNamed) {
  edit_shard(path_, [](hid_t file) { replace_dataset(file, shard_format::kLabels, H5T_STD_I64LE, {5}); });
  std::string text = open_error();
  EXPECT_NE(text.find("dataset 'labels' has type int64, expected int32"), std::string::npos) << text;
}

// A regression's shard: float32 targets under "labels", task = "regression", one output; read back
// in the 4 bytes a class id takes; a non-finite target refused; mixed with class shards, named.
TEST(RegressionShard, TargetsReadBackAndMismatchesAreNamed) {
  TempDir dir;
  ShardInfo info;
  info.path = dir.file("values/a.h5");
  info.samples = 4;
  info.feature_shape = {2};
  info.classes = 1;
  info.feature_dtype = DType::kFloat32;
  info.regression = true;
  std::filesystem::create_directories(dir.file("values"));
  const std::vector<float> features{1, 2, 3, 4, 5, 6, 7, 8}, targets{-1.5f, 0.25f, 1e6f, 3.0f};
  write_shard(info, features.data(), targets.data());
  {
    ShardReader reader(info.path);
    EXPECT_TRUE(reader.info().regression);
    EXPECT_EQ(reader.info().classes, 1);
    std::vector<float> got_features(4);
    std::vector<int32_t> got(2);
    reader.read(2, 2, got_features.data(), got.data());
    EXPECT_EQ(targets_of(got.data())[0], 1e6f);
    EXPECT_EQ(targets_of(got.data())[1], 3.0f);
  }

  const std::vector<float> nan_target{0, 0, 0, NAN};
  info.path = dir.file("values/b.h5");
  EXPECT_NE(error_message([&] { write_shard(info, features.data(), nan_target.data()); }).find("the target of sample 3"),
            std::string::npos);
  info.classes = 3;
  EXPECT_NE(error_message([&] { write_shard(info, features.data(), targets.data()); })
                .find("a regression shard has one output and no class names"),
            std::string::npos);

  // A class shard beside it: the directory is refused, naming both.
  ShardInfo classes = info;
  classes.regression = false;
  classes.path = dir.file("values/c.h5");
  const std::vector<int32_t> ids{0, 1, 2, 0};
  write_shard(classes, features.data(), ids.data());
  const std::string mixed = error_message([&] { ShardIndex index(dir.file("values")); });
  EXPECT_NE(mixed.find("holds class labels but"), std::string::npos) << mixed;
  // A regression shard whose targets are stored as integers.
  edit_shard(dir.file("values/a.h5"),
             [](hid_t file) { replace_dataset(file, shard_format::kLabels, H5T_STD_I32LE, {4}); });
  EXPECT_NE(error_message([&] { ShardReader bad(dir.file("values/a.h5")); })
                .find("dataset 'labels' has type int32, expected float32 (task = regression)"),
            std::string::npos);
}

TEST_F(ShardFile, LabelOutOfRangeIsNamedWhenRead) {
  edit_shard(path_, [](hid_t file) {
    hid_t labels = H5Dopen2(file, shard_format::kLabels, H5P_DEFAULT);
    int32_t bad[5] = {0, 1, 7, 2, 3};
    H5Dwrite(labels, H5T_NATIVE_INT32, H5S_ALL, H5S_ALL, H5P_DEFAULT, bad);
    H5Dclose(labels);
  });
  ShardReader reader(path_);
  std::vector<uint8_t> features(30);
  std::vector<int32_t> labels(5);
  std::string text = error_message([&] { reader.read(0, 5, features.data(), labels.data()); });
  EXPECT_NE(text.find("label 7 of row 2 is outside [0, 4)"), std::string::npos) << text;
  EXPECT_NE(text.find(path_), std::string::npos) << text;
}

// Rows of a byte shard (write_byte_shards: sample i, feature f holds (7 i + f) % 256, label i % 5)
// read in the given pieces, one after another, each checked against what was written.
void expect_pieces_read_back(ShardReader& reader, const std::vector<std::pair<int64_t, int64_t>>& pieces,
                             int64_t width, const std::string& what) {
  for (const auto& [first, count] : pieces) {
    std::vector<uint8_t> features(static_cast<size_t>(count * width), 0xee);
    std::vector<int32_t> labels(static_cast<size_t>(count), -1);
    reader.read(first, count, features.data(), labels.data());
    for (int64_t r = 0; r < count; ++r) {
      const int64_t sample = first + r;
      ASSERT_EQ(labels[static_cast<size_t>(r)], sample % 5) << what << ": row " << sample;
      for (int64_t f = 0; f < width; ++f) {
        ASSERT_EQ(features[static_cast<size_t>(r * width + f)], (7 * sample + f) % 256)
            << what << ": row " << sample << " feature " << f << " of rows [" << first << ", " << first + count << ")";
      }
    }
  }
}

// A shard of 2500 rows is 3 chunks of 1024 (the last one short): rows read straight from the
// chunks (whole ones into place, parts through the staging chunk, kept between reads) come back
// as written, from the file and from an image of it in memory.
TEST(ShardDirectReads, RowsReadStraightFromTheChunksAreTheRowsWritten) {
  TempDir dir;
  const int64_t width = 37;  // odd: chunks of an odd number of bytes
  testing::write_byte_shards(dir.path(), {2500}, width, 5);
  const std::string path = dir.file("shard-00000.h5");
  const std::vector<std::pair<int64_t, int64_t>> pieces = {
      {0, 2500}, {0, 1024}, {1024, 1024}, {2048, 452}, {1000, 100}, {5, 1}, {2499, 1},  // whole, edge, across
      {0, 300},  {300, 1200}, {1500, 1000},                                             // one after another
      {700, 2}, {100, 2}, {0, 0}};  // back within a chunk already staged, and nothing
  ShardReader from_file(path, ReadRetries{0, 0});
  expect_pieces_read_back(from_file, pieces, width, "from the file");
  EXPECT_TRUE(from_file.reads_chunks_directly());

  ShardReader from_image(path, ReadRetries{0, 0}, image_of(path));
  expect_pieces_read_back(from_image, pieces, width, "from an image");
  EXPECT_TRUE(from_image.reads_chunks_directly());
}

// A shard stored another way (features compressed, labels without a checksum, in one contiguous
// block) is read by HDF5 instead, with the same results.
TEST(ShardDirectReads, AShardStoredOtherwiseIsReadByHdf5) {
  TempDir dir;
  const int64_t rows = 2500, width = 37;
  testing::write_byte_shards(dir.path(), {rows}, width, 5);
  const std::string path = dir.file("shard-00000.h5");
  std::vector<uint8_t> features(static_cast<size_t>(rows * width));
  std::vector<int32_t> labels(static_cast<size_t>(rows));
  {
    ShardReader reader(path);
    reader.read(0, rows, features.data(), labels.data());
  }
  edit_shard(path, [&](hid_t file) {
    H5Ldelete(file, shard_format::kFeatures, H5P_DEFAULT);
    const hsize_t dims[2] = {static_cast<hsize_t>(rows), static_cast<hsize_t>(width)}, chunk[2] = {500, 37};
    hid_t space = H5Screate_simple(2, dims, nullptr);
    hid_t properties = H5Pcreate(H5P_DATASET_CREATE);
    H5Pset_chunk(properties, 2, chunk);
    H5Pset_deflate(properties, 4);
    hid_t dataset = H5Dcreate2(file, shard_format::kFeatures, H5T_STD_U8LE, space, H5P_DEFAULT, properties,
                               H5P_DEFAULT);
    H5Dwrite(dataset, H5T_NATIVE_UINT8, H5S_ALL, H5S_ALL, H5P_DEFAULT, features.data());
    H5Dclose(dataset);
    H5Pclose(properties);
    H5Ldelete(file, shard_format::kLabels, H5P_DEFAULT);
    hid_t label_space = H5Screate_simple(1, dims, nullptr);
    hid_t label_set = H5Dcreate2(file, shard_format::kLabels, H5T_STD_I32LE, label_space, H5P_DEFAULT, H5P_DEFAULT,
                                 H5P_DEFAULT);
    H5Dwrite(label_set, H5T_NATIVE_INT32, H5S_ALL, H5S_ALL, H5P_DEFAULT, labels.data());
    H5Dclose(label_set);
    H5Sclose(label_space);
    H5Sclose(space);
  });
  ShardReader reader(path, ReadRetries{0, 0});
  expect_pieces_read_back(reader, {{0, rows}, {1000, 100}, {2499, 1}}, width, "read by HDF5");
  EXPECT_FALSE(reader.reads_chunks_directly());
}

TEST(ShardChecksum, ACorruptChunkFailsItsReadNamingTheFile) {
  TempDir dir;
  std::vector<int64_t> sizes{3000};
  testing::write_indexed_shards(dir.path(), sizes, 16, 3);
  std::string path = dir.file("shard-00000.h5");
  {  // change one byte in the middle of the file: inside the features' chunks
    std::fstream file(path, std::ios::in | std::ios::out | std::ios::binary);
    auto middle = static_cast<std::streamoff>(std::filesystem::file_size(path) / 2);
    file.seekg(middle);
    char c = 0;
    file.get(c);
    file.seekp(middle);
    file.put(static_cast<char>(c ^ 0x01));
  }
  // Retries are for I/O errors: a checksum fails again however often it is read, so it is not retried.
  ShardReader reader(path, ReadRetries{3, 1});
  std::vector<float> features(3000 * 16);
  std::vector<int32_t> labels(3000);
  std::string text;
  try {
    reader.read(0, 3000, features.data(), labels.data());
  } catch (const IntegrityError& error) {
    text = error.what();
  }
  EXPECT_NE(text.find(path), std::string::npos) << text;
  EXPECT_NE(text.find("Fletcher32"), std::string::npos) << text;
  EXPECT_EQ(text.find("time(s)"), std::string::npos) << "retried: " << text;
}

// A chunk missing from HDF5's chunk index (as one flipped bit there leaves it) reads as zeros in
// HDF5; the reader refuses its rows, naming the shard, the chunk and the rows, and reads the rest.
TEST(ShardChunkAudit, AChunkMissingFromTheIndexIsDamageNotZeros) {
  TempDir dir;
  const int64_t rows = 3000, width = 16;
  testing::write_indexed_shards(dir.path(), {rows}, width, 3);
  const std::string path = dir.file("shard-00000.h5");
  std::vector<float> features(static_cast<size_t>(rows * width));
  std::vector<int32_t> labels(static_cast<size_t>(rows));
  ShardReader(path).read(0, rows, features.data(), labels.data());
  edit_shard(path, [&](hid_t file) {  // the features again, chunk 1 (rows [1024, 2048)) never written
    H5Ldelete(file, shard_format::kFeatures, H5P_DEFAULT);
    const hsize_t dims[2] = {static_cast<hsize_t>(rows), static_cast<hsize_t>(width)}, chunk[2] = {1024, 16};
    hid_t space = H5Screate_simple(2, dims, nullptr);
    hid_t properties = H5Pcreate(H5P_DATASET_CREATE);
    H5Pset_chunk(properties, 2, chunk);
    H5Pset_fletcher32(properties);
    hid_t dataset = H5Dcreate2(file, shard_format::kFeatures, H5T_IEEE_F32LE, space, H5P_DEFAULT, properties,
                               H5P_DEFAULT);
    for (hsize_t first : {hsize_t{0}, hsize_t{2048}}) {
      const hsize_t start[2] = {first, 0}, count[2] = {std::min<hsize_t>(1024, rows - first), 16};
      hid_t selected = H5Scopy(space);
      H5Sselect_hyperslab(selected, H5S_SELECT_SET, start, nullptr, count, nullptr);
      hid_t memory = H5Screate_simple(2, count, nullptr);
      H5Dwrite(dataset, H5T_NATIVE_FLOAT, memory, selected, H5P_DEFAULT, features.data() + first * width);
      H5Sclose(memory);
      H5Sclose(selected);
    }
    H5Dclose(dataset);
    H5Pclose(properties);
    H5Sclose(space);
  });
  for (bool from_image : {false, true}) {
    ShardReader reader =
        from_image ? ShardReader(path, ReadRetries{0, 0}, image_of(path)) : ShardReader(path, ReadRetries{0, 0});
    std::vector<float> got(static_cast<size_t>(rows * width));
    std::vector<int32_t> got_labels(static_cast<size_t>(rows));
    std::string text = error_message([&] { reader.read(1000, 100, got.data(), got_labels.data()); });
    EXPECT_NE(text.find(path + ": rows [1024, 2048) are damaged: chunk 1 of dataset 'features' is missing from the "
                               "chunk index"),
              std::string::npos) << text;
    reader.read(0, 1024, got.data(), got_labels.data());
    reader.read(2048, rows - 2048, got.data() + 2048 * width, got_labels.data() + 2048);
    EXPECT_TRUE(std::equal(got.begin(), got.begin() + 1024 * width, features.begin()));
    EXPECT_TRUE(std::equal(got.begin() + 2048 * width, got.end(), features.begin() + 2048 * width));
  }
}

// Every bit of the start of a shard (superblock, object headers, chunk index) flipped in turn: the
// shard either fails to open or read with an rt::Error, or reads back exactly the rows written.
// Never other rows, never zeros.
TEST(ShardChunkAudit, NoSingleBitFlipInTheHeaderReadsOtherRows) {
  TempDir dir;
  const int64_t rows = 3000, width = 16;
  testing::write_indexed_shards(dir.path(), {rows}, width, 3);
  const std::string original = dir.file("shard-00000.h5");
  std::ifstream in(original, std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::vector<float> expected(static_cast<size_t>(rows * width)), got(expected.size());
  std::vector<int32_t> expected_labels(static_cast<size_t>(rows)), got_labels(expected_labels.size());
  ShardReader(original).read(0, rows, expected.data(), expected_labels.data());
  const size_t header = std::min<size_t>(bytes.size(), 4096);
  int refused = 0, same = 0;
  for (size_t at = 0; at < header; ++at) {
    const auto image = std::make_shared<ShardImage>(bytes.size());
    std::memcpy(image->data(), bytes.data(), bytes.size());
    image->data()[at] ^= static_cast<uint8_t>(1u << (at * 5 % 8));  // a different bit at each byte
    try {
      ShardReader reader(original, ReadRetries{0, 0}, image);
      reader.read(0, rows, got.data(), got_labels.data());
    } catch (const Error&) {
      ++refused;
      continue;
    }
    ++same;
    if (!(got == expected && got_labels == expected_labels)) {
      size_t bad = 0;
      while (bad < got.size() && got[bad] == expected[bad]) ++bad;
      size_t bad_label = 0;
      while (bad_label < got_labels.size() && got_labels[bad_label] == expected_labels[bad_label]) ++bad_label;
      FAIL() << "a flip at byte " << at << " read other rows: feature " << bad << " label " << bad_label
             << (bad < got.size() ? " got " + std::to_string(got[bad]) + " expected " + std::to_string(expected[bad]) : "");
    }
  }
  EXPECT_EQ(refused + same, static_cast<int>(header));
  EXPECT_GT(refused, 0);
}

TEST(ShardRetries, TransientReadErrorsAreRetriedThenReportedNamingTheFile) {
  TempDir dir;
  testing::write_indexed_shards(dir.path(), {10}, 4, 3);
  std::string path = dir.file("shard-00000.h5");
  ShardReader reader(path, ReadRetries{3, 1});
  std::vector<float> features(40);
  std::vector<int32_t> labels(10);
  ShardReader::inject_read_failures(3);  // as many as the retries: the fourth attempt succeeds
  reader.read(0, 10, features.data(), labels.data());
  EXPECT_EQ(features[4], 1.0f);  // sample 1's first feature is its index
  ShardReader::inject_read_failures(4);  // one more than the retries
  std::string text = error_message([&] { reader.read(0, 10, features.data(), labels.data()); });
  ShardReader::inject_read_failures(0);
  EXPECT_NE(text.find(path + ": reading rows [0, 10) failed 4 time(s)"), std::string::npos) << text;
}

TEST(ShardIndex, TheSkipPolicyLeavesBadShardsOutTheStopPolicyNamesThem) {
  TempDir dir;
  testing::write_indexed_shards(dir.path(), {3, 4});
  std::ofstream(dir.file("shard-00002.h5"), std::ios::trunc) << "garbage";
  EXPECT_THROW(ShardIndex index(dir.path(), BadShardPolicy::kStop), Error);
  ShardIndex index(dir.path(), BadShardPolicy::kSkip);
  EXPECT_EQ(index.shard_sizes(), (std::vector<int64_t>{3, 4}));
  EXPECT_EQ(index.skipped(), (std::vector<std::string>{dir.file("shard-00002.h5")}));
  TempDir bad;
  std::ofstream(bad.file("only.h5")) << "garbage";
  EXPECT_NE(error_message([&] { ShardIndex index(bad.path(), BadShardPolicy::kSkip); }).find("no usable shard"),
            std::string::npos);
}

TEST(ShardWriter, RefusesLabelsOutsideTheClasses) {
  TempDir dir;
  std::vector<uint8_t> features;
  std::vector<int32_t> labels;
  ShardInfo info = small_shard(dir.file("x.h5"), features, labels);
  labels[4] = 4;
  EXPECT_THROW(write_shard(info, features.data(), labels.data()), Error);
  EXPECT_FALSE(std::filesystem::exists(dir.file("x.h5")));
}

TEST(ShardIndex, ListsShardsInNameOrder) {
  TempDir dir;
  testing::write_indexed_shards(dir.path(), {3, 5, 2});
  std::ofstream(dir.file("README.txt")) << "not a shard";
  ShardIndex index(dir.path());
  ASSERT_EQ(index.shards().size(), 3u);
  EXPECT_EQ(index.shard_sizes(), (std::vector<int64_t>{3, 5, 2}));
  EXPECT_EQ(index.total_samples(), 10);
  EXPECT_EQ(index.layout().feature_size(), 4);
}

TEST(ShardIndex, MissingAndEmptyDirectoriesAreNamed) {
  TempDir dir;
  EXPECT_NE(error_message([&] { ShardIndex index(dir.file("nope")); }).find("data directory " + dir.file("nope") + " does not exist"),
            std::string::npos);
  EXPECT_NE(error_message([&] { ShardIndex index(dir.path()); }).find("holds no shards"), std::string::npos);
}

TEST(ShardIndex, ShardsThatDisagreeAreNamed) {
  TempDir dir;
  testing::write_indexed_shards(dir.path(), {3}, 4, 3);
  TempDir other;
  testing::write_indexed_shards(other.path(), {3}, 5, 3);
  std::filesystem::copy_file(other.file("shard-00000.h5"), dir.file("shard-00001.h5"));
  std::string text = error_message([&] { ShardIndex index(dir.path()); });
  EXPECT_NE(text.find("shard-00001.h5 does not match"), std::string::npos) << text;
}

TEST(ShardIndex, OneBadFileInTheDirectoryIsNamed) {
  TempDir dir;
  testing::write_indexed_shards(dir.path(), {3, 3});
  std::ofstream(dir.file("shard-00001.h5"), std::ios::trunc) << "garbage";
  std::string text = error_message([&] { ShardIndex index(dir.path()); });
  EXPECT_NE(text.find("shard-00001.h5 is not an HDF5 file"), std::string::npos) << text;
}

}  // namespace
}  // namespace rt
