// Causal self-attention alone on one GPU, forward and backward, for each of ringtrain's algorithms
// (plain, fused, tensor_core) at one shape: ms per forward and per backward (CUDA events over
// STEPS calls after warm-up), on random qkv and dy. benchmarks/attention/run.sh puts PyTorch's
// scaled_dot_product_attention (flash attention, bf16) beside it.
// Usage: attention_bench BATCH CONTEXT WIDTH HEADS STEPS ALGORITHM...
//   e.g. attention_bench 16 1024 768 12 20 fused tensor_core plain     (GPT-2 124M's attention)
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "core/base/random.h"
#include "kernels/cuda/cuda_kernels.h"
#include "kernels/cuda/device_buffer.h"
#include "kernels/cuda/stream.h"
#include "kernels/kernels.h"

namespace cuda = rt::kernels::cuda;

int main(int argc, char** argv) try {
  if (argc < 7) {
    std::fprintf(stderr, "usage: attention_bench BATCH CONTEXT WIDTH HEADS STEPS ALGORITHM...\n");
    return 2;
  }
  const rt::kernels::AttentionShape shape{std::atoll(argv[1]), std::atoll(argv[2]), std::atoll(argv[3]),
                                          std::atoll(argv[4])};
  const int steps = std::atoi(argv[5]);
  if (cuda::device_count() == 0) {
    std::fprintf(stderr, "no GPU visible\n");
    return 1;
  }
  cuda::Stream stream;
  cuda::StreamScope scope(stream.handle());
  const int64_t n = shape.rows * shape.context * shape.width;
  rt::Rng rng(5);
  std::vector<float> host(static_cast<size_t>(3 * n));
  for (float& v : host) v = rng.uniform(-1.0f, 1.0f);
  cuda::DeviceBuffer<float> qkv(host), y(static_cast<size_t>(n)), dqkv(static_cast<size_t>(3 * n)),
      lse(static_cast<size_t>(shape.rows * shape.heads * shape.context));
  host.resize(static_cast<size_t>(n));
  for (float& v : host) v = rng.uniform(-1.0f, 1.0f);
  cuda::DeviceBuffer<float> dy(host);
  // Causal: half of the T x T products, two of them forward (S, P V) and five backward.
  const double products = 2.0 * shape.rows * shape.heads * shape.context * shape.context * shape.head_dim() / 2;
  std::printf("causal attention, batch %lld, context %lld, width %lld, %lld heads of %lld, %d steps\n",
              static_cast<long long>(shape.rows), static_cast<long long>(shape.context),
              static_cast<long long>(shape.width), static_cast<long long>(shape.heads),
              static_cast<long long>(shape.head_dim()), steps);
  std::printf("%-14s %12s %12s %14s %14s\n", "algorithm", "forward ms", "backward ms", "forward TFLOP/s",
              "backward TFLOP/s");
  for (int a = 6; a < argc; ++a) {
    const rt::kernels::AttentionAlgorithm algorithm = rt::kernels::attention_algorithm(argv[a]);
    const int64_t floats = rt::kernels::attention_workspace(rt::Device::kCuda, algorithm, shape);
    cuda::DeviceBuffer<float> workspace(static_cast<size_t>(std::max<int64_t>(floats, 1)));
    float* space = floats > 0 ? workspace.data() : nullptr;
    auto forward = [&] {
      rt::kernels::attention_forward(rt::Device::kCuda, algorithm, shape, qkv.data(), y.data(), lse.data(), space);
    };
    auto backward = [&] {
      rt::kernels::attention_backward(rt::Device::kCuda, algorithm, shape, qkv.data(), y.data(), lse.data(), dy.data(),
                                      dqkv.data(), space);
    };
    for (int i = 0; i < 3; ++i) {
      forward();
      backward();
    }
    auto time = [&](auto&& call) {
      cuda::Event start(true), end(true);
      start.record(stream.handle());
      for (int i = 0; i < steps; ++i) call();
      end.record(stream.handle());
      end.synchronize();
      return cuda::elapsed_milliseconds(start.handle(), end.handle()) / steps;
    };
    const double forward_ms = time(forward), backward_ms = time(backward);
    std::printf("%-14s %12.3f %12.3f %14.1f %14.1f\n", argv[a], forward_ms, backward_ms,
                2 * products / (forward_ms * 1e9), 5 * products / (backward_ms * 1e9));
    std::printf("ms %s %.4f %.4f\n", argv[a], forward_ms, backward_ms);
  }
  return 0;
} catch (const std::exception& error) {
  std::fprintf(stderr, "attention_bench: %s\n", error.what());
  return 1;
}
