#include "data/text_shards.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>

#include "core/base/check.h"
#include "data/shard_manifest.h"
#include "data/shard_writer.h"

namespace rt {

namespace {

constexpr int64_t kVocabulary = 256;
constexpr size_t kReadBytes = size_t{1} << 20;

// Collects a token stream and writes it as shards of windows.
class WindowWriter {
 public:
  WindowWriter(std::string dir, std::string name, int64_t context, int64_t windows_per_shard, TextSplit& split)
      : dir_(std::move(dir)), name_(std::move(name)), context_(context), windows_per_shard_(windows_per_shard),
        split_(split) {
    std::error_code error;
    std::filesystem::create_directories(dir_, error);
    RT_CHECK(!error, "cannot create {}: {}", dir_, error.message());
  }

  void append(const uint8_t* tokens, size_t count) {
    pending_.insert(pending_.end(), tokens, tokens + count);
    split_.tokens += static_cast<int64_t>(count);
    const size_t full = static_cast<size_t>(windows_per_shard_ * context_ + 1);
    while (pending_.size() >= full) write(windows_per_shard_);
  }

  void finish() {
    const int64_t windows = pending_.size() > 0 ? (static_cast<int64_t>(pending_.size()) - 1) / context_ : 0;
    if (windows > 0) write(windows);
    manifest_.write(dir_, name_);
  }

 private:
  void write(int64_t windows) {
    const int64_t width = context_ + 1;
    features_.resize(static_cast<size_t>(windows * width));
    for (int64_t w = 0; w < windows; ++w) {
      std::copy_n(pending_.begin() + w * context_, width, features_.begin() + w * width);
    }
    labels_.assign(static_cast<size_t>(windows), 0);
    ShardInfo info;
    info.path = fmt::format("{}/{}-{:05d}.h5", dir_, name_, split_.shards);
    info.samples = windows;
    info.feature_shape = {width};
    info.classes = kVocabulary;
    info.feature_dtype = DType::kUInt8;
    info.feature_scale = 1.0;
    write_shard(info, features_.data(), labels_.data());
    manifest_.add(info.path, windows);
    // The last token of the last window starts the next one.
    pending_.erase(pending_.begin(), pending_.begin() + windows * context_);
    split_.windows += windows;
    ++split_.shards;
  }

  std::string dir_, name_;
  int64_t context_, windows_per_shard_;
  TextSplit& split_;
  std::vector<uint8_t> pending_, features_;
  std::vector<int32_t> labels_;
  ShardManifest manifest_;
};

std::vector<std::string> list_inputs(const std::vector<std::string>& inputs) {
  std::vector<std::string> files;
  for (const std::string& input : inputs) {
    std::error_code error;
    if (std::filesystem::is_directory(input, error)) {
      std::vector<std::string> inside;
      for (const auto& entry : std::filesystem::directory_iterator(input)) {
        if (entry.is_regular_file()) inside.push_back(entry.path().string());
      }
      RT_CHECK(!inside.empty(), "{} holds no files", input);
      std::sort(inside.begin(), inside.end());
      files.insert(files.end(), inside.begin(), inside.end());
    } else {
      RT_CHECK(std::filesystem::is_regular_file(input, error), "{} is neither a text file nor a directory", input);
      files.push_back(input);
    }
  }
  RT_CHECK(!files.empty(), "no text files given");
  return files;
}

// Streams bytes [begin, end) of a file into a writer.
void stream_file(const std::string& path, uint64_t begin, uint64_t end, WindowWriter& writer, std::vector<char>& buffer) {
  std::ifstream in(path, std::ios::binary);
  RT_CHECK(in.good(), "cannot open {}", path);
  in.seekg(static_cast<std::streamoff>(begin));
  uint64_t left = end - begin;
  while (left > 0) {
    const size_t want = static_cast<size_t>(std::min<uint64_t>(left, buffer.size()));
    in.read(buffer.data(), static_cast<std::streamsize>(want));
    RT_CHECK(static_cast<size_t>(in.gcount()) == want, "{}: read {} of {} bytes", path, in.gcount(), want);
    writer.append(reinterpret_cast<const uint8_t*>(buffer.data()), want);
    left -= want;
  }
}

}  // namespace

TextShards convert_text_to_shards(const TextConversion& c) {
  RT_CHECK(c.context >= 1, "the context must be at least 1 token, not {}", c.context);
  RT_CHECK(c.held_out > 0 && c.held_out < 1, "the held-out fraction must be in (0, 1), not {}", c.held_out);
  RT_CHECK(c.target_bytes > 0, "a shard's target size must be positive, not {}", c.target_bytes);
  const std::vector<std::string> files = list_inputs(c.inputs);
  const int64_t windows_per_shard = std::max<int64_t>(1, c.target_bytes / (c.context + 1));
  TextShards result;
  WindowWriter train(c.output_dir + "/train", "train", c.context, windows_per_shard, result.train);
  WindowWriter test(c.output_dir + "/test", "test", c.context, windows_per_shard, result.test);
  std::vector<char> buffer(kReadBytes);
  if (files.size() == 1) {
    const uint64_t size = std::filesystem::file_size(files[0]);
    const auto cut = static_cast<uint64_t>(std::llround(static_cast<double>(size) * (1.0 - c.held_out)));
    stream_file(files[0], 0, cut, train, buffer);
    stream_file(files[0], cut, size, test, buffer);
    result.train.files = result.test.files = 1;
  } else {
    for (size_t i = 0; i < files.size(); ++i) {
      // Evenly spread: file i is held out when the running count of held-out files steps up at it.
      const bool held_out = std::floor(static_cast<double>(i + 1) * c.held_out) > std::floor(static_cast<double>(i) * c.held_out);
      stream_file(files[i], 0, std::filesystem::file_size(files[i]), held_out ? test : train, buffer);
      ++(held_out ? result.test : result.train).files;
    }
  }
  train.finish();
  test.finish();
  RT_CHECK(result.train.windows > 0 && result.test.windows > 0,
           "too little text for windows of {} tokens: {} training and {} held-out tokens ({} and {} files)",
           c.context + 1, result.train.tokens, result.test.tokens, result.train.files, result.test.files);
  return result;
}

}  // namespace rt
