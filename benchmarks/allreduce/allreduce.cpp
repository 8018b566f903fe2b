// All-reduce bandwidth of ringtrain's Communicator against raw MPI_Allreduce on the same buffers,
// 4 KiB to 256 MiB of float32, in the manner of nccl-tests: algorithm bandwidth = bytes / time,
// bus bandwidth = algbw * 2(n-1)/n. Run under mpirun (benchmarks/allreduce/run.sh).
#include <mpi.h>

#include <cstdio>
#include <vector>

#include "benchmarks/bench_util.h"
#include "comm/communicator.h"
#include "core/base/environment.h"

namespace {

int run() {
  std::unique_ptr<rt::Communicator> comm = rt::make_world_communicator();
  const int size = comm->size();
  const double bus_factor = 2.0 * (size - 1) / size;
  std::vector<float> buffer(size_t{64} << 20);  // 256 MiB of zeros, shared by both (sums stay 0)
  if (comm->rank() == 0) {
    std::printf("all-reduce (sum, float32), %d ranks\n", size);
    std::printf("%12s %12s %12s %12s %12s %8s\n", "bytes", "raw algbw", "raw busbw", "ours algbw", "ours busbw", "ratio");
    std::printf("%12s %12s %12s %12s %12s %8s\n", "", "GB/s", "GB/s", "GB/s", "GB/s", "");
  }
  double ratio_at_1mib_and_above = 1e9, raw_sum = 0, ours_sum = 0;
  for (size_t bytes = 4096; bytes <= (size_t{256} << 20); bytes *= 4) {
    size_t count = bytes / sizeof(float);
    int repeats = rt::bench::repeats_for(bytes, 0.5, 2e9);
    // The same buffer for both, alternating which goes first, best of 4 rounds each, so that
    // neither gets the machine's quiet moments or a warm cache alone.
    auto time_raw = [&] {
      return rt::bench::time_collective(2, repeats, [&] {
        MPI_Allreduce(MPI_IN_PLACE, buffer.data(), static_cast<int>(count), MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
      });
    };
    auto time_ours = [&] {
      return rt::bench::time_collective(2, repeats, [&] {
        comm->all_reduce(rt::Span<float>(buffer.data(), count), rt::ReduceOp::kSum);
      });
    };
    double raw_seconds = 1e9, ours_seconds = 1e9;
    for (int round = 0; round < 4; ++round) {
      if (round % 2 == 0) raw_seconds = std::min(raw_seconds, time_raw());
      ours_seconds = std::min(ours_seconds, time_ours());
      if (round % 2 == 1) raw_seconds = std::min(raw_seconds, time_raw());
    }
    double raw_algbw = bytes / raw_seconds / 1e9, ours_algbw = bytes / ours_seconds / 1e9;
    double ratio = ours_algbw / raw_algbw;
    if (bytes >= (size_t{1} << 20)) {
      ratio_at_1mib_and_above = std::min(ratio_at_1mib_and_above, ratio);
      raw_sum += raw_algbw * bus_factor;
      ours_sum += ours_algbw * bus_factor;
    }
    if (comm->rank() == 0) {
      std::printf("%12zu %12.2f %12.2f %12.2f %12.2f %8.3f\n", bytes, raw_algbw, raw_algbw * bus_factor, ours_algbw,
                  ours_algbw * bus_factor, ratio);
    }
  }
  if (comm->rank() == 0) {
    std::printf("RESULT allreduce_np%d_min_ratio_1MiB_up: ours %.3f x, raw_mpi 1.000 x, ratio %.3f\n", size,
                ratio_at_1mib_and_above, ratio_at_1mib_and_above);
    std::printf("RESULT allreduce_np%d_mean_busbw_1MiB_up: ours %.2f GB/s, raw_mpi %.2f GB/s, ratio %.3f\n", size,
                ours_sum / 5, raw_sum / 5, ours_sum / raw_sum);
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  return rt::bench::run_mpi_benchmark("allreduce", &argc, &argv, [] { return run(); });
}
