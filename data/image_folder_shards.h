// Converts a folder of images, one subfolder per class (the layout of torchvision's ImageFolder),
// into shards of uint8 pixels [channels, height, width] scaled by 1/255, which the cnn reads as
// they are. PNG and JPEG files are decoded (data/image_file.h) and fitted to one size
// (data/image_fit.h). The images are put in an order drawn from `seed` before they are cut into
// shards, so that every shard mixes the classes (the loader shuffles within a bounded window).
//
// The shards are fixed before any is written (data/shard_plan.h): the ranks of a job each convert
// their part, and a rerun with the same arguments converts only the shards still missing.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "data/image_fit.h"
#include "data/shard_plan.h"

namespace rt {

struct ImageFolderConversion {
  std::string root;                       // ROOT/CLASS/IMAGE.png|.jpg|.jpeg
  std::string output_dir;
  std::string name = "shard";
  int64_t height = 0;
  int64_t width = 0;
  int channels = 3;                       // 1: grey, 3: RGB
  ImageFit fit = ImageFit::kCrop;
  int64_t shards = 0;                     // 0: cut by target_bytes
  int64_t target_bytes = int64_t{128} << 20;
  uint64_t seed = 0;                      // the images' order in the shards
  bool skip_bad_images = false;           // an unreadable image: counted and left out
  std::vector<std::string> class_names;   // the classes by id (empty: ROOT's subfolders, sorted)
};

// The images found, in shard order, and the shards they are cut into.
struct ImageFolderPlan {
  std::vector<std::string> class_names;
  std::vector<std::string> files;   // paths, in the order they are stored
  std::vector<int32_t> labels;      // class ids, by file
  std::vector<int64_t> first_file;  // per shard, its first file; one more entry: files.size()
  int64_t input_bytes = 0;          // the files' sizes together
  ShardPlan shards;
};

// Lists ROOT (every worker alike: the same order on every machine). Throws naming ROOT where it
// has no subfolder or no image, or a subfolder that is not one of the given class names.
ImageFolderPlan plan_image_folder(const ImageFolderConversion& conversion);

struct ImageFolderPart {
  int64_t shards_written = 0;
  int64_t images = 0;   // stored
  int64_t skipped = 0;  // unreadable, left out (skip_bad_images)
};

// Converts the part's shards that are not yet complete. Throws naming an unreadable image (unless
// skipped).
ImageFolderPart convert_image_folder_part(const ImageFolderConversion& conversion, const ImageFolderPlan& plan,
                                          ConversionPart part);

}  // namespace rt
