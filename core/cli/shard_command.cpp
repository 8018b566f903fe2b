#include <string>

#include "core/base/logging.h"
#include "core/cli/commands.h"
#include "data/shard_converter.h"

namespace rt {

namespace {
struct ShardArguments {
  std::string idx_dir;
  std::string images;
  std::string labels;
  std::string name = "shard";
  std::string output;
  int64_t shards = 0;
  double shard_mb = 128;
  int64_t train_shards = 8;
  int64_t test_shards = 2;
  int64_t classes = 10;
};

void convert(const ShardConversion& conversion) {
  std::vector<std::string> paths = convert_idx_to_shards(conversion);
  log_info("wrote {} shard(s) to {} ({} ... {})", paths.size(), conversion.output_dir, paths.front(), paths.back());
}
}  // namespace

CommandRunner add_shard_command(CLI::App& app) {
  auto a = std::make_shared<ShardArguments>();
  CLI::App* command = app.add_subcommand(
      "shard", "Convert IDX files (MNIST, Fashion-MNIST; gzip or not) into HDF5 shards (docs/shard-format.md)");
  CLI::Option* idx_dir = command->add_option(
      "--idx-dir", a->idx_dir,
      "Directory with train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz and "
      "t10k-labels-idx1-ubyte.gz: writes OUTPUT/train and OUTPUT/test");
  CLI::Option* images = command->add_option("--images", a->images, "One IDX image file (instead of --idx-dir)");
  CLI::Option* labels = command->add_option("--labels", a->labels, "Its IDX label file");
  command->add_option("--name", a->name, "Shard name prefix with --images")->capture_default_str();
  command->add_option("--shards", a->shards, "Number of shards with --images (default: cut by --shard-mb)")
      ->check(CLI::PositiveNumber);
  CLI::Option* shard_mb = command->add_option("--shard-mb", a->shard_mb,
                                              "Target shard size in MiB of features, with --images, or with --idx-dir "
                                              "instead of the shard counts")
                              ->capture_default_str()
                              ->check(CLI::PositiveNumber);
  command->add_option("--train-shards", a->train_shards, "Training shards with --idx-dir")->capture_default_str()
      ->check(CLI::PositiveNumber);
  command->add_option("--test-shards", a->test_shards, "Test shards with --idx-dir")->capture_default_str()->check(CLI::PositiveNumber);
  command->add_option("--classes", a->classes, "Number of classes")->capture_default_str()->check(CLI::PositiveNumber);
  command->add_option("--output", a->output, "Output directory")->required();
  idx_dir->excludes(images);
  idx_dir->excludes(labels);
  images->needs(labels);
  labels->needs(images);

  return [command, a, idx_dir, images, shard_mb](Communicator& comm) {
    if (!command->parsed()) return -1;
    if (idx_dir->count() == 0 && images->count() == 0) {
      throw CLI::RequiredError("--idx-dir or --images with --labels");
    }
    if (comm.rank() == 0) {
      const auto target_bytes = static_cast<int64_t>(a->shard_mb * 1024 * 1024);
      const bool by_size = shard_mb->count() > 0;
      if (!a->idx_dir.empty()) {
        convert({a->idx_dir + "/train-images-idx3-ubyte.gz", a->idx_dir + "/train-labels-idx1-ubyte.gz",
                 a->output + "/train", "train", by_size ? 0 : a->train_shards, target_bytes, a->classes});
        convert({a->idx_dir + "/t10k-images-idx3-ubyte.gz", a->idx_dir + "/t10k-labels-idx1-ubyte.gz",
                 a->output + "/test", "test", by_size ? 0 : a->test_shards, target_bytes, a->classes});
      } else {
        convert({a->images, a->labels, a->output, a->name, a->shards, target_bytes, a->classes});
      }
    }
    comm.barrier();
    return 0;
  };
}

}  // namespace rt
