// The parameter tensors of torchvision's ResNet-50 (161 tensors, 25,557,032 parameters), in
// order of definition: conv weights, batch-norm scale and shift, the final fully connected layer.
#pragma once

#include <cstdint>
#include <vector>

namespace rt::bench {

inline std::vector<int64_t> resnet50_tensor_sizes() {
  std::vector<int64_t> sizes;
  auto conv = [&](int64_t out, int64_t in, int64_t k) { sizes.push_back(out * in * k * k); };
  auto norm = [&](int64_t channels) {
    sizes.push_back(channels);
    sizes.push_back(channels);
  };
  conv(64, 3, 7);
  norm(64);
  int64_t in = 64;
  const int64_t blocks[4] = {3, 4, 6, 3};
  const int64_t widths[4] = {64, 128, 256, 512};
  for (int stage = 0; stage < 4; ++stage) {
    int64_t mid = widths[stage], out = mid * 4;
    for (int64_t b = 0; b < blocks[stage]; ++b) {
      conv(mid, in, 1);
      norm(mid);
      conv(mid, mid, 3);
      norm(mid);
      conv(out, mid, 1);
      norm(out);
      if (b == 0) {
        conv(out, in, 1);  // downsample
        norm(out);
      }
      in = out;
    }
  }
  sizes.push_back(1000 * 2048);
  sizes.push_back(1000);
  return sizes;
}

}  // namespace rt::bench
