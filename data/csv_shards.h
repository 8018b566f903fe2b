// Converts CSV tables into shards, streaming: a header line names the columns; the label column
// holds integer class ids or class names, the feature columns numbers (stored as float32). Files
// larger than memory convert with the memory of one shard.
//
// Labels: where class names are given, each label is one of them (id = its place in the list).
// Otherwise, where any label is a non-negative integer, the labels are class ids (classes: the
// largest + 1, or `classes`; any other label is a bad row); where none is, they are names, the
// classes being the distinct names in sorted order, found by a first pass. Names are stored in the
// shards (class_names), and evaluate, predict and serve show them.
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
  std::vector<std::string> class_names;  // the names labels must be, by id (empty: as the first pass finds)
  bool skip_bad_rows = false;          // a row with a missing or malformed value: counted and left out
};

struct CsvShards {
  std::vector<std::string> paths;
  int64_t rows = 0;      // written
  int64_t skipped = 0;   // left out (skip_bad_rows)
  std::vector<std::string> class_names;  // as stored (empty: the labels were class ids)
};

// Throws naming the file, line and column of a missing or malformed value (unless skipped), a
// header that lacks a named column, a label outside [0, classes), or one not among class_names.
CsvShards convert_csv_to_shards(const CsvConversion& conversion);

}  // namespace rt
