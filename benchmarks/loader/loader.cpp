// How fast the loader delivers one training epoch of a shard directory: samples/s and MB/s of
// stored bytes, and peak RSS; with STEP_MS, a pretend training step of that many milliseconds
// after each batch, and the share of the time spent waiting for data.
// Usage: loader_bench DIR [BATCH] [EPOCHS] [stored|float] [PREFETCH_SHARDS] [STEP_MS]
// ("stored": uint8 features handed out as stored, as on a GPU run, instead of converted to float;
// PREFETCH_SHARDS: whole shards read ahead, 0 for the shard reader reading the files chunk by chunk; default: the loader's
// own choice, 4 on a FUSE or network file system, else 0)
#include <sys/resource.h>

#include <chrono>
#include <thread>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "data/loader.h"

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s SHARD_DIR [BATCH] [EPOCHS] [stored|float] [PREFETCH_SHARDS] [STEP_MS]\n", argv[0]);
    return 2;
  }
  rt::LoaderOptions options;
  options.batch = argc > 2 ? std::atoll(argv[2]) : 128;
  int epochs = argc > 3 ? std::atoi(argv[3]) : 1;
  options.stored_features = argc > 4 && std::string(argv[4]) == "stored";
  if (argc > 5) options.prefetch_shards = std::atoi(argv[5]);
  const double step_ms = argc > 6 ? std::atof(argv[6]) : 0.0;
  rt::Loader loader(rt::ShardIndex(argv[1]), options);
  const double sample_bytes = static_cast<double>(loader.index().layout().feature_bytes() + sizeof(int32_t));
  for (int epoch = 0; epoch < epochs; ++epoch) {
    auto start = std::chrono::steady_clock::now();
    int64_t samples = 0;
    double waiting = 0;
    loader.start_epoch(epoch);
    for (;;) {
      auto wait_start = std::chrono::steady_clock::now();
      const rt::Batch* batch = loader.next();
      waiting += std::chrono::duration<double>(std::chrono::steady_clock::now() - wait_start).count();
      if (!batch) break;
      samples += batch->rows;
      if (step_ms > 0) std::this_thread::sleep_for(std::chrono::duration<double, std::milli>(step_ms));
    }
    double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    rusage usage{};
    getrusage(RUSAGE_SELF, &usage);
    std::printf("epoch %d: %lld samples in %.3f s: %.0f samples/s, %.1f MB/s, peak RSS %.0f MB, waiting for data "
                "%.1f%% of the time\n",
                epoch, static_cast<long long>(samples), seconds, samples / seconds,
                samples * sample_bytes / seconds / 1e6, usage.ru_maxrss / 1024.0, 100.0 * waiting / seconds);
  }
  return 0;
}
