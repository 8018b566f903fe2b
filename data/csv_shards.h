// Converts CSV tables into shards: a header line names the columns; the label column holds integer
// class ids or class names, the feature columns numbers (stored as float32). Each file is cut into
// pieces of about `target_bytes` of text at line starts, one shard a piece, fixed before any shard
// is written (data/shard_plan.h): the ranks of a job each convert their part, a rerun with the same
// arguments converts only the shards still missing, and a file larger than memory converts with the
// memory of one piece.
//
// Labels: a regression's are real numbers, stored as float32 targets (shard_info.h). Otherwise,
// where class names are given, each label is one of them (id = its place in the list).
// Otherwise, where any label is a non-negative integer, the labels are class ids (classes: the
// largest + 1, or `classes`; any other label is a bad row); where none is, they are names, the
// classes being the distinct names in sorted order, found by a first pass over the labels
// (survey_csv_labels, each part its pieces). Names are stored in the shards (class_names), and
// evaluate, predict and serve show them.
#pragma once

#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "data/shard_plan.h"

namespace rt {

struct CsvConversion {
  std::vector<std::string> files;      // every header must match the first
  std::string label;                   // the label column's name
  std::vector<std::string> features;   // the feature columns, in this order (empty: all but the label)
  std::string output_dir;
  std::string name = "shard";
  int64_t target_bytes = int64_t{128} << 20;  // text per shard, about
  int64_t classes = 0;                 // 0: the largest label + 1 (a first pass reads the labels)
  std::vector<std::string> class_names;  // the names labels must be, by id (empty: as the first pass finds)
  bool skip_bad_rows = false;          // a row with a missing or malformed value: counted and left out
  bool regression = false;             // the label column holds real numbers: float32 targets, one output
};

struct CsvPiece {
  size_t file = 0;     // index into CsvConversion::files
  int64_t begin = 0;   // bytes [begin, end) of the file: the lines that start there
  int64_t end = 0;
};

struct CsvPlan {
  std::vector<std::string> header;
  size_t label_column = 0;
  std::vector<size_t> feature_columns;
  std::vector<CsvPiece> pieces;  // shard s is piece s
  int64_t input_bytes = 0;
  ShardPlan shards;
};

// Reads every file's header (throws naming a file that lacks one, a header that differs from the
// first's, a named column that is not in it) and cuts the files into pieces.
CsvPlan plan_csv(const CsvConversion& conversion);

// What the labels of some pieces are, for the classes where none are given.
struct CsvLabels {
  int64_t largest_id = -1;
  int64_t ids = 0;     // labels that are class ids
  int64_t others = 0;  // labels that are not: names
  std::set<std::string> names;
  std::string to_json() const;
  static CsvLabels from_json(const std::string& text);
  void add(const CsvLabels& other);
};

// Whether the classes need a first pass over the labels (neither names nor a count given).
bool csv_needs_label_survey(const CsvConversion& conversion);
CsvLabels survey_csv_labels(const CsvConversion& conversion, const CsvPlan& plan, ConversionPart part);

struct CsvClasses {
  int64_t classes = 0;
  std::vector<std::string> names;  // empty: the labels are class ids
  bool mixed_labels = false;       // ids and other labels both seen: the others are bad rows
};

// The classes as the conversion gives them, or as `survey` (every part's labels together) found
// them. Throws where there is no row at all, or more distinct names than classes can be.
CsvClasses csv_classes(const CsvConversion& conversion, const CsvLabels& survey);

struct CsvPart {
  int64_t shards_written = 0;
  int64_t rows = 0;     // written
  int64_t skipped = 0;  // left out (skip_bad_rows)
};

// Converts the part's pieces whose shards are not yet complete. Throws naming the file, line and
// column of a missing or malformed value (unless skipped), a label outside [0, classes), or one not
// among the class names.
CsvPart convert_csv_part(const CsvConversion& conversion, const CsvPlan& plan, const CsvClasses& classes,
                         ConversionPart part);

}  // namespace rt
