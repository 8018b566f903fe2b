// Converts CSV tables into shards, streaming: a header line names the columns; the label column
// holds integer class ids, the feature columns numbers (stored as float32). Files larger than
// memory convert with the memory of one shard.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace rt {

struct CsvConversion {
  std::vector<std::string> files;      // read in order; every header must match the first
  std::string label;                   // the label column's name
  std::vector<std::string> features;   // the feature columns, in this order (empty: all but the label)
  std::string output_dir;
  std::string name = "shard";
  int64_t target_bytes = int64_t{128} << 20;  // features per shard, about
  int64_t classes = 0;                 // 0: the largest label + 1 (a first pass reads the labels)
  bool skip_bad_rows = false;          // a row with a missing or malformed value: counted and left out
};

struct CsvShards {
  std::vector<std::string> paths;
  int64_t rows = 0;      // written
  int64_t skipped = 0;   // left out (skip_bad_rows)
};

// Throws naming the file, line and column of a missing or malformed value (unless skipped), a
// header that lacks a named column, or a label outside [0, classes).
CsvShards convert_csv_to_shards(const CsvConversion& conversion);

}  // namespace rt
