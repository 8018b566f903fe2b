#include "core/serving/prediction.h"

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/base/check.h"
#include "core/base/logging.h"
#include "core/serving/prediction_hdf5.h"
#include "core/serving/prediction_rows.h"
#include "data/idx_file.h"
#include "data/npy_file.h"
#include "core/generation.h"
#include "data/loader.h"

namespace rt {

namespace {
using Clock = std::chrono::steady_clock;

bool ends_with(const std::string& text, const std::string& end) {
  return text.size() >= end.size() && text.compare(text.size() - end.size(), end.size(), end) == 0;
}

using Format = PredictionFormat;
enum class Input { kShards, kJsonLines, kNpy, kIdx };

// Where rank `rank` writes its rows before rank 0 joins them into `output`.
std::string part_path(const std::string& output, int rank, int size) {
  return size == 1 ? output + ".part" : fmt::format("{}.part-{:05d}", output, rank);
}

// This rank's contiguous share [begin, end) of `total` rows (as the loader's evaluation plan cuts them).
std::pair<int64_t, int64_t> share(int64_t total, int rank, int size) {
  const int64_t base = total / size, extra = total % size;
  const int64_t begin = rank * base + std::min<int64_t>(rank, extra);
  return {begin, begin + base + (rank < extra ? 1 : 0)};
}

// Logs progress at most every few seconds.
class Progress {
 public:
  explicit Progress(int64_t total) : total_(total), start_(Clock::now()), last_(start_) {}
  void add(int64_t rows) {
    done_ += rows;
    const auto now = Clock::now();
    if (now - last_ < std::chrono::seconds(5)) return;
    last_ = now;
    const double seconds = std::chrono::duration<double>(now - start_).count();
    log_info("scored {} of {} rows of this rank ({:.0f} rows/s)", done_, total_, static_cast<double>(done_) / seconds);
  }

 private:
  int64_t total_, done_ = 0;
  Clock::time_point start_, last_;
};

// Scores this rank's share of a JSON-lines file: a row per line, as stored.
void predict_json_lines(Predictor& predictor, const PredictOptions& options, Communicator& comm, RowWriter& writer,
                        int64_t& rows_here) {
  std::ifstream in(options.input);
  RT_CHECK(in.good(), "cannot read {}", options.input);
  int64_t total = 0;
  std::string line;
  while (std::getline(in, line)) total += line.find_first_not_of(" \t\r") != std::string::npos;
  const auto [begin, end] = share(total, comm.rank(), comm.size());
  in.clear();
  in.seekg(0);
  const int64_t size = predictor.input_size();
  std::vector<float> values;
  int64_t row = 0, line_number = 0, first_in_batch = begin;
  Progress progress(end - begin);
  auto flush = [&] {
    if (values.empty()) return;
    const int64_t n = static_cast<int64_t>(values.size()) / size;
    writer.write(predictor.score(Span<const float>(values.data(), values.size()), n), first_in_batch);
    progress.add(n);
    first_in_batch += n;
    values.clear();
  };
  while (std::getline(in, line) && row < end) {
    ++line_number;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    if (row++ < begin) continue;
    nlohmann::json parsed = nlohmann::json::parse(line, nullptr, false);
    if (parsed.is_object() && parsed.contains("data")) parsed = parsed["data"];
    std::vector<float> numbers;
    std::vector<const nlohmann::json*> stack = {&parsed};
    bool numeric = !parsed.is_discarded();
    while (numeric && !stack.empty()) {  // flattened, in order
      const nlohmann::json* value = stack.back();
      stack.pop_back();
      if (value->is_number()) {
        numbers.push_back(value->get<float>());
      } else if (value->is_array()) {
        for (auto it = value->rbegin(); it != value->rend(); ++it) stack.push_back(&*it);
      } else {
        numeric = false;
      }
    }
    RT_CHECK(numeric && static_cast<int64_t>(numbers.size()) == size,
             "{}, line {}: not a row of {} numbers (the model's input is {})", options.input, line_number, size,
             shape_text(predictor.description().input.shape));
    const std::string wrong = predictor.check_input(Span<const float>(numbers.data(), numbers.size()));
    RT_CHECK(wrong.empty(), "{}, line {}: {}", options.input, line_number, wrong);
    values.insert(values.end(), numbers.begin(), numbers.end());
    if (static_cast<int64_t>(values.size()) >= options.batch * size) flush();
  }
  flush();
  rows_here = end - begin;
}

// Scores this rank's share of rows that `read` gives (first, count, out: count x input_size
// values as stored), a batch at a time.
template <typename Read>
void predict_rows(Predictor& predictor, const PredictOptions& options, Communicator& comm, RowWriter& writer,
                  int64_t total, Read read, int64_t& rows_here) {
  const auto [begin, end] = share(total, comm.rank(), comm.size());
  const int64_t size = predictor.input_size();
  std::vector<float> values(static_cast<size_t>(options.batch * size));
  Progress progress(end - begin);
  for (int64_t first = begin; first < end; first += options.batch) {
    const int64_t n = std::min(options.batch, end - first);
    const Span<const float> batch(values.data(), static_cast<size_t>(n * size));
    read(first, n, values.data());
    const std::string wrong = predictor.check_input(batch);
    RT_CHECK(wrong.empty(), "{}, rows [{}, {}): {}", options.input, first, first + n, wrong);
    writer.write(predictor.score(batch, n), first);
    progress.add(n);
  }
  rows_here = end - begin;
}

// A NumPy .npy array: a row per first index, memory-mapped.
void predict_npy(Predictor& predictor, const PredictOptions& options, Communicator& comm, RowWriter& writer,
                 int64_t& rows_here) {
  NpyFile array(options.input);
  RT_CHECK(array.row_size() == predictor.input_size(), "{} holds rows of {} values (dtype {}); the model reads {}",
           options.input, array.row_size(), array.dtype(), shape_text(predictor.description().input.shape));
  predict_rows(predictor, options, comm, writer, array.rows(),
               [&](int64_t first, int64_t n, float* out) { array.read_rows(first, n, out); }, rows_here);
}

// An IDX file (MNIST's format, optionally gzip-compressed): unsigned bytes, read in order.
void predict_idx(Predictor& predictor, const PredictOptions& options, Communicator& comm, RowWriter& writer,
                 int64_t& rows_here) {
  IdxStream stream(options.input);
  RT_CHECK(stream.item_bytes() == predictor.input_size(), "{} holds items of {} bytes; the model reads {}",
           options.input, stream.item_bytes(), shape_text(predictor.description().input.shape));
  int64_t position = 0;
  std::vector<uint8_t> bytes;
  predict_rows(predictor, options, comm, writer, stream.shape()[0],
               [&](int64_t first, int64_t n, float* out) {
                 for (; position < first; position += 1) {  // a stream: skip to this rank's share
                   bytes.resize(static_cast<size_t>(stream.item_bytes()));
                   stream.read(1, bytes.data());
                 }
                 bytes.resize(static_cast<size_t>(n * stream.item_bytes()));
                 stream.read(n, bytes.data());
                 position += n;
                 std::copy(bytes.begin(), bytes.end(), out);
               },
               rows_here);
}

// A gpt: generates the continuation of this rank's share of the prompts.
void predict_prompts(Predictor& predictor, const PredictOptions& options, Communicator& comm, RowWriter& writer,
                     int64_t& rows_here) {
  std::ifstream in(options.input);
  RT_CHECK(in.good(), "cannot read {}", options.input);
  const bool json_lines = ends_with(options.input, ".jsonl");
  std::vector<std::pair<int64_t, std::string>> prompts;  // line number, prompt
  std::string line;
  for (int64_t number = 1; std::getline(in, line); ++number) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.find_first_not_of(" \t") == std::string::npos) continue;
    if (json_lines) {
      nlohmann::json parsed = nlohmann::json::parse(line, nullptr, false);
      if (parsed.is_object() && parsed.contains("prompt")) parsed = parsed["prompt"];
      RT_CHECK(parsed.is_string(), "{}, line {}: not a prompt (a JSON string, or {{\"prompt\": \"...\"}})",
               options.input, number);
      line = parsed.get<std::string>();
      RT_CHECK(!line.empty(), "{}, line {}: the prompt is empty", options.input, number);
    }
    prompts.emplace_back(number, line);
  }
  const auto [begin, end] = share(static_cast<int64_t>(prompts.size()), comm.rank(), comm.size());
  Progress progress(end - begin);
  for (int64_t row = begin; row < end; ++row) {
    const SamplingOptions sampling{options.temperature, options.top_k, options.seed + static_cast<uint64_t>(row)};
    writer.write_text(row, prompts[static_cast<size_t>(row)].second,
                      predictor.generate(prompts[static_cast<size_t>(row)].second, options.tokens, sampling));
    progress.add(1);
  }
  rows_here = end - begin;
}

// Scores this rank's share of a directory of shards.
void predict_shards(Predictor& predictor, const PredictOptions& options, Communicator& comm, RowWriter& writer,
                    int64_t& rows_here) {
  const ModelDescription& model = predictor.description();
  ShardIndex index(options.input);
  RT_CHECK(index.layout().feature_size() == model.input.size(), "{} holds samples of shape {}; the model reads {}",
           options.input, shape_text(index.layout().feature_shape), shape_text(model.input.shape));
  LoaderOptions loader_options;
  loader_options.mode = LoaderMode::kEvaluation;
  loader_options.batch = options.batch;
  loader_options.rank = comm.rank();
  loader_options.size = comm.size();
  int64_t total = 0;
  for (const ShardInfo& shard : index.shards()) total += shard.samples;
  const auto [begin, end] = share(total, comm.rank(), comm.size());
  Loader loader(std::move(index), loader_options);
  loader.start_epoch(0);
  int64_t row = begin;
  Progress progress(end - begin);
  while (const Batch* batch = loader.next()) {
    writer.write(predictor.score_scaled(Span<const float>(batch->features,
                                                          static_cast<size_t>(batch->rows * batch->feature_size)),
                                        batch->rows),
                 row);
    row += batch->rows;
    progress.add(batch->rows);
  }
  RT_CHECK(row == end, "read {} rows of {} where the plan says {}", row - begin, options.input, end - begin);
  rows_here = end - begin;
}
}  // namespace

PredictSummary predict(Predictor& predictor, const PredictOptions& options, Communicator& comm) {
  const auto start = Clock::now();
  Format format;
  if (ends_with(options.output, ".csv")) {
    format = Format::kCsv;
  } else if (ends_with(options.output, ".h5") || ends_with(options.output, ".hdf5")) {
    format = Format::kHdf5;
  } else {
    RT_CHECK(ends_with(options.output, ".jsonl"), "--output {}: write .csv, .jsonl or .h5", options.output);
    format = Format::kJsonLines;
  }
  RT_CHECK(std::filesystem::exists(options.input), "--input {} does not exist", options.input);
  const bool generates = predictor.generates_text();
  RT_CHECK(!generates || format != Format::kHdf5, "--output {}: a gpt's text goes to .jsonl or .csv", options.output);
  RT_CHECK(!generates || !std::filesystem::is_directory(options.input),
           "--input {}: a gpt continues prompts: give a text file (a prompt per line) or .jsonl", options.input);
  const Input input = std::filesystem::is_directory(options.input) ? Input::kShards
                      : ends_with(options.input, ".jsonl")         ? Input::kJsonLines
                      : ends_with(options.input, ".npy")           ? Input::kNpy
                                                                   : Input::kIdx;
  RT_CHECK(!predictor.description().regression || options.top_k == 0,
           "--top-k ranks classes; {} holds a regression model, which predicts one value a row",
           predictor.checkpoint_path());
  const std::string part = part_path(options.output, comm.rank(), comm.size());
  int64_t rows_here = 0;
  try {
    RowWriter writer(part, format, predictor.description(), options.top_k);
    if (generates) {
      predict_prompts(predictor, options, comm, writer, rows_here);
    } else switch (input) {
      case Input::kShards: predict_shards(predictor, options, comm, writer, rows_here); break;
      case Input::kJsonLines: predict_json_lines(predictor, options, comm, writer, rows_here); break;
      case Input::kNpy: predict_npy(predictor, options, comm, writer, rows_here); break;
      case Input::kIdx: predict_idx(predictor, options, comm, writer, rows_here); break;
    }
    writer.close();
  } catch (...) {
    std::error_code ignored;
    std::filesystem::remove(part, ignored);  // no part of a failed run is left beside the output
    throw;
  }
  comm.barrier();  // every part written
  const int64_t total_rows = comm.all_reduce_value(rows_here, ReduceOp::kSum);
  if (comm.rank() == 0 && format == Format::kHdf5) {
    std::vector<std::string> parts;
    for (int r = 0; r < comm.size(); ++r) parts.push_back(part_path(options.output, r, comm.size()));
    const PredictionRecord record{predictor.classes(),
                                  options.top_k > 0 ? std::min(options.top_k, predictor.classes()) : 0};
    join_predictions_hdf5(parts, total_rows, record, predictor.description(), options.output);
    for (const std::string& path : parts) std::filesystem::remove(path);
  } else if (comm.rank() == 0) {
    // One file: the header, then the parts in rank order; in place only once complete.
    const std::string joined = options.output + ".joining";
    {
      std::ofstream out(joined, std::ios::trunc | std::ios::binary);
      RT_CHECK(out.good(), "cannot write {}", joined);
      if (format == Format::kCsv) {
        out << (generates ? std::string("row,prompt,text\n")
                          : prediction_csv_header(predictor.description(), predictor.classes(), options.top_k));
      }
      for (int r = 0; r < comm.size(); ++r) {
        const std::string path = part_path(options.output, r, comm.size());
        std::ifstream in(path, std::ios::binary);
        RT_CHECK(in.good(), "cannot read {} (rank {}'s part: is {} on a file system every rank shares?)", path, r,
                 options.output);
        out << in.rdbuf();
        in.close();
        std::filesystem::remove(path);
      }
      out.close();
      RT_CHECK(!out.fail(), "cannot write {} (a full disk?)", joined);
    }
    std::filesystem::rename(joined, options.output);
  }
  comm.barrier();
  PredictSummary summary;
  summary.rows = total_rows;
  summary.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  return summary;
}

}  // namespace rt
