// Writes a folder of images per class for benchmarks/convert: the Fashion-MNIST training images
// (an IDX pair), each scaled to SIZE x SIZE and tinted by its class into RGB, as PNG or JPEG files
// in OUT/<class>/<n>.png|.jpg, the layout `ringtrain shard --images` reads.
// Usage: make_images IMAGES_IDX LABELS_IDX OUT png|jpeg COUNT SIZE
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "data/idx_file.h"
#include "data/image_file.h"

int main(int argc, char** argv) {
  if (argc != 7) {
    std::fprintf(stderr, "usage: %s IMAGES_IDX LABELS_IDX OUT png|jpeg COUNT SIZE\n", argv[0]);
    return 2;
  }
  const std::string out = argv[3], format = argv[4];
  const int64_t count = std::stoll(argv[5]);
  const int size = std::stoi(argv[6]);
  rt::IdxStream images(argv[1]), labels(argv[2]);
  const int64_t rows = images.shape()[1], cols = images.shape()[2];
  std::vector<uint8_t> pixels(static_cast<size_t>(rows * cols)), rgb(static_cast<size_t>(size * size * 3));
  uint8_t label = 0;
  for (int64_t n = 0; n < count && n < images.shape()[0]; ++n) {
    images.read(1, pixels.data());
    labels.read(1, &label);
    const std::string folder = out + "/class" + std::to_string(label);
    std::filesystem::create_directories(folder);
    for (int y = 0; y < size; ++y) {
      for (int x = 0; x < size; ++x) {
        const uint8_t v = pixels[static_cast<size_t>((y * rows / size) * cols + x * cols / size)];
        for (int c = 0; c < 3; ++c) {
          rgb[static_cast<size_t>((y * size + x) * 3 + c)] = static_cast<uint8_t>(v * (1 + (label + c) % 3) / 3);
        }
      }
    }
    rt::write_image(folder + "/" + std::to_string(n) + (format == "png" ? ".png" : ".jpg"), {size, size, 3, rgb}, 90);
  }
  return 0;
}
