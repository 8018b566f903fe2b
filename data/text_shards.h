// Text files into token shards for language models, streaming (the memory of about two shards):
// byte-level tokens (vocabulary 256), cut into windows of context + 1 tokens that overlap by one
// (window k holds tokens k*context .. k*context + context), so each token but the first is a
// target exactly once. Features are the windows as uint8 [context + 1] with scale 1; labels are 0
// (the targets are in the windows); num_classes is the vocabulary.
//
// Held-out split: with several input files, a fraction of the files, spread evenly over their
// sorted order, goes to OUTPUT/test and the rest to OUTPUT/train; a single file gives its last
// fraction to test.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace rt {

struct TextConversion {
  std::vector<std::string> inputs;  // files, or directories (every regular file inside, sorted)
  std::string output_dir;           // OUTPUT/train and OUTPUT/test are written
  int64_t context = 128;
  double held_out = 0.1;
  int64_t target_bytes = int64_t{128} << 20;  // per shard, about
};

struct TextSplit {
  int64_t files = 0;
  int64_t tokens = 0;
  int64_t windows = 0;
  int64_t shards = 0;
};

struct TextShards {
  TextSplit train, test;
};

TextShards convert_text_to_shards(const TextConversion& conversion);

}  // namespace rt
