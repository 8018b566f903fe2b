#include <filesystem>
#include <string>

#include "core/base/logging.h"
#include "core/cli/commands.h"
#include "core/cli/parallel_conversion.h"
#include "data/csv_shards.h"
#include "data/image_folder_shards.h"
#include "data/shard_converter.h"
#include "data/text_shards.h"

namespace rt {

namespace {
struct ShardArguments {
  std::string idx_dir;
  std::string images;
  std::string npy;
  std::string npz;
  std::string features_key = "x";
  std::string labels_key = "y";
  std::vector<std::string> csv;
  std::string label;
  std::vector<std::string> features;
  std::vector<std::string> class_names;
  std::string on_bad_row = "stop";
  std::string task = "classification";
  std::string size;
  int channels = 3;
  std::string fit = "crop";
  uint64_t seed = 0;
  std::string labels;
  std::string name = "shard";
  std::string output;
  int64_t shards = 0;
  double shard_mb = 128;
  int64_t train_shards = 8;
  int64_t test_shards = 2;
  int64_t classes = 0;  // 0: 10 for IDX, the largest label + 1 for .npy
  std::vector<std::string> text;
  int64_t context = 128;
  double held_out = 0.1;
};

void log_written(const std::vector<std::string>& paths, const std::string& output) {
  log_info("wrote {} shard(s) to {} ({} ... {})", paths.size(), output, paths.front(), paths.back());
}

void convert(const ShardConversion& conversion) { log_written(convert_idx_to_shards(conversion), conversion.output_dir); }
}  // namespace

CommandRunner add_shard_command(CLI::App& app) {
  auto a = std::make_shared<ShardArguments>();
  CLI::App* command = app.add_subcommand(
      "shard",
      "Convert IDX files (MNIST, Fashion-MNIST; gzip or not), NumPy arrays (--npy), CSV tables (--csv), or text "
      "files (--text), into HDF5 shards (docs/shard-format.md)");
  CLI::Option* idx_dir = command->add_option(
      "--idx-dir", a->idx_dir,
      "Directory with train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz and "
      "t10k-labels-idx1-ubyte.gz: writes OUTPUT/train and OUTPUT/test");
  CLI::Option* images = command->add_option(
      "--images", a->images,
      "A folder of images, one subfolder of PNG and JPEG files per class (with --size), or one IDX image file "
      "(with --labels)");
  command->add_option("--size", a->size,
                      "With an image folder: the stored size, HEIGHTxWIDTH (or one number for a square)");
  command->add_option("--channels", a->channels, "With an image folder: 1 (grey) or 3 (RGB)")
      ->capture_default_str()
      ->check(CLI::IsMember({1, 3}));
  command->add_option("--fit", a->fit,
                      "With an image folder: crop (scale until the image covers the size, keep its centre) or "
                      "resize (stretch to the size)")
      ->capture_default_str()
      ->check(CLI::IsMember({"crop", "resize"}));
  command->add_option("--seed", a->seed, "With an image folder: the images' order in the shards is drawn from it")
      ->capture_default_str();
  CLI::Option* npy = command->add_option(
      "--npy", a->npy,
      "A NumPy .npy array of features [count, ...] (any fixed-size numeric dtype, C order; uint8 is kept as bytes "
      "scaled by 1/255, anything else stored as float32), with --labels LABELS.npy of integer class ids");
  CLI::Option* text = command->add_option(
      "--text", a->text,
      "Text files or directories of them: byte-level token windows for a gpt, written to OUTPUT/train and a held-out "
      "OUTPUT/test");
  command->add_option("--context", a->context, "With --text: tokens per window (the model's context)")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 20));
  command->add_option("--held-out", a->held_out, "With --text: the fraction held out for OUTPUT/test")
      ->capture_default_str()
      ->check(CLI::Range(0.001, 0.999));
  CLI::Option* csv = command->add_option(
      "--csv", a->csv,
      "CSV files with a header line: the --label column's class ids or class names and numeric feature columns "
      "(stored as float32), streamed into shards of about --shard-mb");
  CLI::Option* label = command->add_option("--label", a->label, "With --csv: the label column's name");
  command->add_option("--features", a->features, "With --csv: the feature columns, in order (default: all but the label)");
  CLI::Option* class_names = command->add_option(
      "--class-names", a->class_names,
      "With --csv or an image folder: the class names the labels are, by id (default: the distinct names found, or "
      "the class folders, sorted; give the same list to every part of a data set so that their ids agree)");
  command->add_option("--task", a->task,
                      "With --csv or --npy: classification (labels are classes) or regression (labels are real "
                      "numbers, stored as float32 targets for model.task = \"regression\")")
      ->capture_default_str()
      ->check(CLI::IsMember({"classification", "regression"}));
  command->add_option("--on-bad-row", a->on_bad_row,
                      "With --csv: a row with a missing or malformed value stops the conversion naming its file, line "
                      "and column, or with skip is counted and left out; with an image folder, the same for an "
                      "unreadable image")
      ->capture_default_str()
      ->check(CLI::IsMember({"stop", "skip"}));
  CLI::Option* npz = command->add_option(
      "--npz", a->npz,
      "A NumPy .npz archive (np.savez or np.savez_compressed) holding the features and labels as --npy takes them, "
      "under --features-key and --labels-key");
  command->add_option("--features-key", a->features_key, "With --npz: the features' array")->capture_default_str();
  command->add_option("--labels-key", a->labels_key, "With --npz: the labels' array")->capture_default_str();
  CLI::Option* labels = command->add_option("--labels", a->labels, "Its label file (IDX with --images, .npy with --npy)");
  command->add_option("--name", a->name, "Shard name prefix with --images or --npy")->capture_default_str();
  command->add_option("--shards", a->shards, "Number of shards with --images or --npy (default: cut by --shard-mb)")
      ->check(CLI::PositiveNumber);
  CLI::Option* shard_mb = command->add_option("--shard-mb", a->shard_mb,
                                              "Target shard size in MiB of features, with --images, or with --idx-dir "
                                              "instead of the shard counts")
                              ->capture_default_str()
                              ->check(CLI::PositiveNumber);
  command->add_option("--train-shards", a->train_shards, "Training shards with --idx-dir")->capture_default_str()
      ->check(CLI::PositiveNumber);
  command->add_option("--test-shards", a->test_shards, "Test shards with --idx-dir")->capture_default_str()->check(CLI::PositiveNumber);
  command->add_option("--classes", a->classes, "Number of classes (default: 10 for IDX, the largest label + 1 for --npy)")
      ->check(CLI::PositiveNumber);
  command->add_option("--output", a->output, "Output directory")->required();
  idx_dir->excludes(images);
  text->excludes(idx_dir);
  text->excludes(images);
  npy->excludes(idx_dir);
  npy->excludes(images);
  npy->excludes(text);
  idx_dir->excludes(labels);
  npy->needs(labels);
  for (CLI::Option* other : {idx_dir, images, npy, csv, text, labels}) npz->excludes(other);
  csv->needs(label);
  csv->excludes(idx_dir);
  csv->excludes(images);
  csv->excludes(npy);
  csv->excludes(text);
  csv->excludes(labels);

  return [command, a, idx_dir, images, npy, npz, csv, labels, text, shard_mb, class_names](Communicator& comm) {
    if (!command->parsed()) return -1;
    if (images->count() > 0 && std::filesystem::is_directory(a->images)) {
      if (labels->count() > 0) throw CLI::ValidationError("--labels", "goes with an IDX file, not an image folder");
      ImageFolderConversion conversion;
      conversion.root = a->images;
      conversion.output_dir = a->output;
      conversion.name = a->name;
      std::tie(conversion.height, conversion.width) = parse_image_size(a->size);
      conversion.channels = a->channels;
      conversion.fit = a->fit == "crop" ? ImageFit::kCrop : ImageFit::kResize;
      conversion.shards = a->shards;
      conversion.target_bytes = static_cast<int64_t>(a->shard_mb * 1024 * 1024);
      conversion.seed = a->seed;
      conversion.skip_bad_images = a->on_bad_row == "skip";
      conversion.class_names = a->class_names;
      convert_image_folder(conversion, comm);
      return 0;
    }
    if (images->count() > 0 && labels->count() == 0) {
      throw CLI::ValidationError("--images", a->images + " is not a folder: an IDX image file needs --labels");
    }
    if (class_names->count() > 0 && csv->count() == 0) {
      throw CLI::ValidationError("--class-names", "goes with --csv or an image folder");
    }
    if (idx_dir->count() == 0 && images->count() == 0 && npy->count() == 0 && npz->count() == 0 &&
        csv->count() == 0 && text->count() == 0) {
      throw CLI::RequiredError(
          "--idx-dir, --images with --labels, --npy with --labels, --npz, --csv with --label, or --text");
    }
    if (csv->count() > 0 && a->shards > 0) {
      throw CLI::ValidationError("--shards", "needs the row count; with --csv the shards are cut by --shard-mb");
    }
    if (labels->count() > 0 && images->count() == 0 && npy->count() == 0) {
      throw CLI::ValidationError("--labels", "goes with --images or --npy");
    }
    if (csv->count() > 0) {
      CsvConversion conversion;
      conversion.files = a->csv;
      conversion.label = a->label;
      conversion.features = a->features;
      conversion.output_dir = a->output;
      conversion.name = a->name;
      conversion.target_bytes = static_cast<int64_t>(a->shard_mb * 1024 * 1024);
      conversion.classes = a->classes;
      conversion.class_names = a->class_names;
      conversion.skip_bad_rows = a->on_bad_row == "skip";
      conversion.regression = a->task == "regression";
      convert_csv(conversion, comm);
      return 0;
    }
    if (npy->count() > 0 || npz->count() > 0) {
      convert_arrays({a->npy, a->labels, a->output, a->name, a->shards, static_cast<int64_t>(a->shard_mb * 1024 * 1024),
                      a->classes, "", "", a->task == "regression"},
                     a->npz, a->features_key, a->labels_key, comm);
      return 0;
    }
    if (comm.rank() == 0) {
      const auto target_bytes = static_cast<int64_t>(a->shard_mb * 1024 * 1024);
      const bool by_size = shard_mb->count() > 0;
      if (!a->text.empty()) {
        TextShards shards = convert_text_to_shards({a->text, a->output, a->context, a->held_out, target_bytes});
        log_info("{} tokens of {} file(s) -> {} windows of {}+1 in {} shard(s) in {}/train; held out: {} tokens of {} "
                 "file(s) -> {} windows in {} shard(s) in {}/test",
                 shards.train.tokens, shards.train.files, shards.train.windows, a->context, shards.train.shards,
                 a->output, shards.test.tokens, shards.test.files, shards.test.windows, shards.test.shards, a->output);
      } else {
        const int64_t classes = a->classes > 0 ? a->classes : 10;
        if (!a->idx_dir.empty()) {
          convert({a->idx_dir + "/train-images-idx3-ubyte.gz", a->idx_dir + "/train-labels-idx1-ubyte.gz",
                   a->output + "/train", "train", by_size ? 0 : a->train_shards, target_bytes, classes, "", ""});
          convert({a->idx_dir + "/t10k-images-idx3-ubyte.gz", a->idx_dir + "/t10k-labels-idx1-ubyte.gz",
                   a->output + "/test", "test", by_size ? 0 : a->test_shards, target_bytes, classes, "", ""});
        } else {
          convert({a->images, a->labels, a->output, a->name, a->shards, target_bytes, classes, "", ""});
        }
      }
    }
    comm.barrier();
    return 0;
  };
}

}  // namespace rt
