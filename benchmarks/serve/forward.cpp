// The ceiling of served rows/s: the checkpoint's forward pass in process (Predictor::score, what
// the server's batcher calls), at a batch size, on this machine's cores.
//   build/benchmarks/serve_forward CHECKPOINT BATCH [THREADS]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "core/serving/predictor.h"
#include "kernels/kernels.h"

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s CHECKPOINT BATCH [THREADS]\n", argv[0]);
    return 2;
  }
  const int64_t batch = std::atoll(argv[2]);
  rt::kernels::set_cpu_threads(argc > 3 ? std::atoi(argv[3]) : 1);
  std::unique_ptr<rt::Predictor> predictor = rt::Predictor::load(argv[1], batch);
  std::vector<float> rows(static_cast<size_t>(batch * predictor->input_size()));
  for (size_t i = 0; i < rows.size(); ++i) rows[i] = static_cast<float>((i * 7) % 256);
  using Clock = std::chrono::steady_clock;
  for (int i = 0; i < 20; ++i) predictor->score(rt::Span<const float>(rows.data(), rows.size()), batch);  // warm up
  int64_t passes = 0;
  const auto start = Clock::now();
  double seconds = 0;
  while (seconds < 2.0) {
    predictor->score(rt::Span<const float>(rows.data(), rows.size()), batch);
    ++passes;
    seconds = std::chrono::duration<double>(Clock::now() - start).count();
  }
  std::printf("forward rows/s at batch %lld: %.0f\n", static_cast<long long>(batch),
              static_cast<double>(passes * batch) / seconds);
  return 0;
}
