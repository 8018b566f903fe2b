// Batch scoring: every sample of an input scored by a checkpoint's model, written in input order
// to one file. Inputs: a directory of shards (read by the loader, bounded memory; on a blob mount
// too), a JSON-lines file (a row of numbers per line, as stored, or {"data": row}), a NumPy .npy
// array (a row per first index, memory-mapped) or an IDX file (MNIST's format, gzip or not).
// Outputs by the file's extension: .csv (a header, then row, class[, name], and the probability
// of every class or of the top k), .jsonl (an object per row) or .h5 (prediction_hdf5.h).
// A gpt's checkpoint generates instead: a text file of prompts (a prompt per line; or JSON lines,
// each a string or {"prompt": ...}) in, .jsonl ({"row", "prompt", "text"}) or .csv out; row r is
// drawn with seed + r, so the text does not depend on how many ranks share the prompts. Under several ranks each scores its
// contiguous share into FILE.part-RANK beside FILE, and rank 0 joins the parts in rank order: the
// same file as one rank writes.
#pragma once

#include <cstdint>
#include <string>

#include "comm/communicator.h"
#include "core/serving/predictor.h"

namespace rt {

struct PredictOptions {
  std::string input;   // a directory of shards, a .jsonl, .npy or IDX file
  std::string output;  // .csv, .jsonl or .h5
  int64_t top_k = 0;   // > 0: the k most probable classes (a gpt: draw among the k likeliest tokens); 0: all
  int64_t batch = 1000;
  // A gpt: tokens (bytes) generated per prompt, the sampling temperature (0: greedy), the seed.
  int64_t tokens = 200;
  float temperature = 0.8f;
  uint64_t seed = 1;
};

struct PredictSummary {
  int64_t rows = 0;  // over all ranks
  double seconds = 0;
};

PredictSummary predict(Predictor& predictor, const PredictOptions& options, Communicator& comm);

}  // namespace rt
