// How fast the loader delivers one training epoch of a shard directory, with no training: samples/s
// and MB/s of stored bytes, and peak RSS. Usage: loader_bench DIR [BATCH] [EPOCHS] [stored]
// ("stored": uint8 features handed out as stored, as on a GPU run, instead of converted to float)
#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "data/loader.h"

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s SHARD_DIR [BATCH] [EPOCHS] [stored]\n", argv[0]);
    return 2;
  }
  rt::LoaderOptions options;
  options.batch = argc > 2 ? std::atoll(argv[2]) : 128;
  int epochs = argc > 3 ? std::atoi(argv[3]) : 1;
  options.stored_features = argc > 4 && std::string(argv[4]) == "stored";
  rt::Loader loader(rt::ShardIndex(argv[1]), options);
  const double sample_bytes = static_cast<double>(loader.index().layout().feature_bytes() + sizeof(int32_t));
  for (int epoch = 0; epoch < epochs; ++epoch) {
    auto start = std::chrono::steady_clock::now();
    int64_t samples = 0;
    loader.start_epoch(epoch);
    while (const rt::Batch* batch = loader.next()) samples += batch->rows;
    double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    rusage usage{};
    getrusage(RUSAGE_SELF, &usage);
    std::printf("epoch %d: %lld samples in %.3f s: %.0f samples/s, %.1f MB/s, peak RSS %.0f MB\n", epoch,
                static_cast<long long>(samples), seconds, samples / seconds, samples * sample_bytes / seconds / 1e6,
                usage.ru_maxrss / 1024.0);
  }
  return 0;
}
