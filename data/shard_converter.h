// Converts an IDX image/label pair (MNIST, Fashion-MNIST) into shards, streaming: the input is
// read one shard at a time, so a data set of any size needs the memory of one shard only.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace rt {

struct ShardConversion {
  std::string images;      // IDX file of images [count, rows, cols], uint8 (or .npy features: npy_shards.h)
  std::string labels;      // IDX file of labels [count], uint8 (or .npy class ids)
  std::string output_dir;  // created if missing
  std::string name;        // shards are written as NAME-00000.h5 ...
  int64_t shards = 0;          // this many shards of near-equal size; 0: cut by target_bytes
  int64_t target_bytes = int64_t{128} << 20;  // with shards = 0: each shard about this size (its features)
  int64_t classes = 10;
  // How messages name the two files (default: their paths), e.g. the arrays of a .npz archive.
  std::string images_name;
  std::string labels_name;
  bool regression = false;  // .npy labels: real numbers, stored as float32 targets (one output)
};

// Writes the shards and returns their paths, then OUTPUT_DIR/NAME-manifest.json listing every
// shard's file name, size in bytes and sample count (what a loader or an upload can check against).
// Features stay uint8 with feature_scale 1/255.
std::vector<std::string> convert_idx_to_shards(const ShardConversion& conversion);

}  // namespace rt
