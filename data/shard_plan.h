// The shards a conversion writes, fixed by its inputs and options before any is written, so that
// the ranks of a job can share them out (each converts the shards of its part) and a rerun with
// the same arguments keeps every shard an interrupted conversion finished.
//
// OUTPUT/NAME-plan.json records what the plan is of (the converter, its inputs with their sizes
// and times, its options). A shard is under its final name only once complete (data/shard_writer.h).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace rt {

// Which shards one worker converts: shard s belongs to part s % parts.
struct ConversionPart {
  int index = 0;
  int parts = 1;
  bool owns(int64_t shard) const { return shard % parts == index; }
};

class ShardPlan {
 public:
  // `identity`: a text that differs whenever the conversion would write other shards.
  ShardPlan(std::string output_dir, std::string name, int64_t shards, std::string identity);

  int64_t shards() const { return shards_; }
  std::string path(int64_t shard) const;  // OUTPUT/NAME-00000.h5 ...

  // Run by one worker before any shard is written. Where the output's plan file records this plan,
  // its shards are kept (returns how many are complete); otherwise the output's shards of NAME,
  // its partial files, manifest and plan are removed and this plan is written (returns 0).
  int64_t prepare() const;

  // Whether shard `shard` is complete: under its final name, its header readable and whole.
  bool complete(int64_t shard) const;

  // Run by one worker after every part is done: checks every shard is complete, writes
  // OUTPUT/NAME-manifest.json from their headers, and returns their paths and total samples.
  std::vector<std::string> finish(int64_t* samples = nullptr) const;

 private:
  std::string plan_path() const;
  std::string output_dir_;
  std::string name_;
  int64_t shards_;
  std::string identity_;
};

}  // namespace rt
