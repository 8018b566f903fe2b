// Helpers shared by the tests: temporary directories and synthetic shards.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "comm/communicator.h"
#include "data/shard_info.h"

namespace rt::testing {

// What a shell command did: exit code (128 + signal if killed), stdout and stderr together, time.
struct Outcome {
  int exit_code = -1;
  std::string output;
  double seconds = 0;
};
Outcome run(const std::string& command);

// The parameter fingerprint a training run's last line gives ("parameter fingerprint HEX"), or "".
std::string fingerprint_of(const std::string& output);
// The percentage of a run's "done: test accuracy X%" line, as written; "" when there is none.
std::string test_accuracy_of(const std::string& output);
// Writes a NumPy .npy file (version 1.0): `descr` as NumPy spells it ("<f4", "|u1"), `shape` as
// a Python tuple ("(200, 16)"), then the data as given.
void write_npy(const std::string& path, const std::string& descr, const std::string& shape, const void* data,
               size_t bytes, bool fortran = false);
// Checks that the "train" rows of a metrics file not marked superseded cover steps 1..last_step
// each exactly once, in order: "" when they do, else what is wrong.
std::string train_rows_cover_each_step_once(const std::string& metrics_path, int64_t last_step);

// The message of the rt::Error that `action` throws, or "(no error)".
std::string error_message(const std::function<void()>& action);

// A fresh directory, removed with everything in it when the object dies.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// Every sample of the uint8 shards in `dir`, in shard order: its feature bytes, then its label as
// one more byte.
std::vector<std::vector<uint8_t>> stored_byte_samples(const std::string& dir);

// Writes shards of the given sizes as DIR/shard-NNNNN.h5 with float32 features [features]; the
// first feature of every sample is its global index (0, 1, 2, ... across shards in name order),
// so tests can tell exactly which samples a loader returned. Labels are index % classes.
void write_indexed_shards(const std::string& dir, const std::vector<int64_t>& sizes, int64_t features = 4,
                          int64_t classes = 3);

// As write_indexed_shards, with uint8 features (sample i, feature f: (7 i + f) % 256) scaled by 1/255,
// as images are stored.
void write_byte_shards(const std::string& dir, const std::vector<int64_t>& sizes, int64_t features = 4,
                       int64_t classes = 3);

// Writes a learnable synthetic classification problem: `classes` clusters in `features`
// dimensions whose centres come from `problem_seed`, and `samples` samples around them drawn from
// `sample_seed`, split over `shards` shards. Training and test sets share the problem seed.
// `shape`: the samples' shape in the shards (e.g. {1, 6, 6} for images; default {features}).
void write_cluster_shards(const std::string& dir, int64_t samples, int64_t shards, int64_t features,
                          int64_t classes, uint64_t problem_seed, uint64_t sample_seed,
                          const std::vector<int64_t>& shape = {});

// Text with structure for a small GPT to learn (words from a small set in a repeating order, with
// noise), in four files in `dir`, as byte-token shards of 16-token windows: DIR/shards/train and
// DIR/shards/test (a quarter held out).
void write_word_text_shards(const std::string& dir);
// Rank 0 writes them into a temporary directory that `owner` keeps; every rank gets its path.
std::string share_word_text_shards(Communicator& comm, std::unique_ptr<TempDir>& owner);

// Gathers `values` from every rank of `comm` and expects each rank's to be bitwise rank 0's.
void expect_bitwise_identical_across_ranks(Communicator& comm, const std::vector<float>& values);

// One shard DIR/poisoned.h5 of `samples` float samples of 12 features in 4 easy classes, sample
// `poisoned` with a NaN feature: the step that holds it has non-finite gradients.
// Changes the byte in the middle of a file (in a shard: inside its data chunks, which then fail
// their Fletcher32 checksum when read).
void flip_middle_byte(const std::string& path);

// Replaces the file `name` of a checkpoint directory with `bytes` and makes its manifest's size
// and CRC-32 match, as a damage that checksums cannot see would.
void rewrite_with_matching_checksum(const std::string& checkpoint, const std::string& name, const std::string& bytes);

void write_poisoned_shards(const std::string& dir, int64_t samples, int64_t poisoned);

}  // namespace rt::testing
