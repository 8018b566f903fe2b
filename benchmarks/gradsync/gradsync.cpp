// Synchronising a realistic gradient set, ResNet-50's 161 tensors (25.6 M parameters, 102 MB),
// per tensor with MPI_Allreduce (one call each, as a framework without fusion does) against
// ringtrain's HostGradientSynchronizer over the flat arena, at several bucket sizes, and with bf16 on
// the wire; beside them one MPI_Allreduce of the whole arena, the default buckets through MPI's
// messages rather than the shared-memory window, and the memory floor (every rank reading its
// gradients once and writing them once). Run under mpirun (benchmarks/gradsync/run.sh);
// GRADSYNC_NONBLOCKING=auto|on|off is comm.nonblocking (auto: non-blocking buckets where each rank
// has a host to itself); GRADSYNC_HIERARCHICAL=1 is comm.hierarchical (reduce within each host,
// all-reduce among the hosts' leaders, broadcast).
#include <mpi.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <cstdlib>

#include <fmt/format.h>
#include <numeric>
#include <string>
#include <vector>

#include "benchmarks/bench_util.h"
#include "benchmarks/gradsync/resnet50_shapes.h"
#include "comm/gradient_sync.h"
#include "core/base/environment.h"

namespace {

int run() {
  rt::CommunicatorOptions comm_options;
  const char* nonblocking = std::getenv("GRADSYNC_NONBLOCKING");
  comm_options.started_all_reduces = rt::parse_started_all_reduces(nonblocking ? nonblocking : "auto");
  const char* hierarchical = std::getenv("GRADSYNC_HIERARCHICAL");
  comm_options.hierarchical = hierarchical != nullptr && std::string(hierarchical) == "1";
  std::unique_ptr<rt::Communicator> comm = rt::make_world_communicator(comm_options);
  std::vector<int64_t> sizes = rt::bench::resnet50_tensor_sizes();
  const int64_t total = std::accumulate(sizes.begin(), sizes.end(), int64_t{0});
  std::vector<float> arena(static_cast<size_t>(total), 0.0f);  // zeros: repeated averaging keeps them finite
  const int repeats = 10;

  double per_tensor = rt::bench::time_collective(2, repeats, [&] {
    int64_t offset = 0;
    for (int64_t size : sizes) {
      MPI_Allreduce(MPI_IN_PLACE, arena.data() + offset, static_cast<int>(size), MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
      offset += size;
    }
  });
  // One MPI_Allreduce of the whole arena, the least a synchroniser could ask of MPI.
  double whole_arena = rt::bench::time_collective(2, repeats, [&] {
    MPI_Allreduce(MPI_IN_PLACE, arena.data(), static_cast<int>(arena.size()), MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
  });
  // The memory floor of an in-place all-reduce: each rank reads its gradients once and writes the
  // sums back once, here through a cache-sized buffer (adding 1), every rank at once.
  std::vector<float> cached(size_t{1} << 16);
  double floor = rt::bench::time_collective(2, repeats, [&] {
    for (size_t offset = 0; offset < arena.size(); offset += cached.size()) {
      const size_t n = std::min(cached.size(), arena.size() - offset);
      std::memcpy(cached.data(), arena.data() + offset, n * sizeof(float));
      for (size_t i = 0; i < n; ++i) cached[i] += 1.0f;
      std::memcpy(arena.data() + offset, cached.data(), n * sizeof(float));
    }
  });
  std::fill(arena.begin(), arena.end(), 0.0f);
  if (comm->rank() == 0) {
    std::printf("ResNet-50 gradients: %zu tensors, %lld parameters, %.1f MB, %d ranks\n", sizes.size(),
                static_cast<long long>(total), total * 4 / 1e6, comm->size());
    std::printf("ringtrain buckets: summed by %s\n", comm->backend().c_str());
    std::printf("%-34s %10s %8s %14s\n", "method", "ms/sync", "calls", "vs per tensor");
    std::printf("%-34s %10.2f %8zu %14.2f\n", "MPI_Allreduce per tensor", per_tensor * 1e3, sizes.size(), 1.0);
    std::printf("%-34s %10.2f %8d %14.2f\n", "floor: read and write it once", floor * 1e3, 0, per_tensor / floor);
    std::printf("%-34s %10.2f %8d %14.2f\n", "MPI_Allreduce of the whole arena", whole_arena * 1e3, 1,
                per_tensor / whole_arena);
  }
  // Times a synchroniser over `through` with `options` and prints its row (rank 0).
  auto time_synchroniser = [&](rt::Communicator& through, const rt::GradientSyncOptions& options,
                               const std::string& name) {
    rt::HostGradientSynchronizer sync(through, rt::Span<float>(arena), options);
    const double seconds = rt::bench::time_collective(2, repeats, [&] {
      sync.gradients_ready(arena.size());
      sync.wait();
    });
    if (comm->rank() == 0) {
      std::printf("%-34s %10.2f %8zu %14.2f\n", name.c_str(), seconds * 1e3, sync.buckets().size(),
                  per_tensor / seconds);
    }
    return seconds;
  };
  double default_buckets = 0, best = 1e9;
  for (double megabytes : {0.25, 1.0, 4.0, 25.0, 0.0}) {
    rt::GradientSyncOptions options;
    options.bucket_bytes = static_cast<size_t>(megabytes * (1 << 20));
    options.first_bucket_bytes = std::min<size_t>(options.bucket_bytes, size_t{1} << 20);
    const std::string name =
        megabytes > 0 ? fmt::format("ringtrain buckets of {} MiB", megabytes) : "ringtrain one bucket (whole arena)";
    const double seconds = time_synchroniser(*comm, options, name);
    if (megabytes == 25.0) default_buckets = seconds;
    best = std::min(best, seconds);
  }
  // The default buckets summed through MPI's messages (comm.shared_memory = false), where the
  // communicator would sum them in a shared-memory window.
  if (comm->backend().find("shared memory") != std::string::npos) {
    rt::CommunicatorOptions messages_options = comm_options;
    messages_options.shared_memory_sums = false;
    std::unique_ptr<rt::Communicator> messages = rt::make_world_communicator(messages_options);
    time_synchroniser(*messages, rt::GradientSyncOptions{}, "25 MiB buckets, MPI's messages");
  }
  // The same with the gradients sent as bf16 (comm.wire = "bf16": half the bytes, summed in 16 bits).
  rt::GradientSyncOptions bf16_wire;
  bf16_wire.wire = rt::WireFormat::kBFloat16;
  const double compressed = time_synchroniser(*comm, bf16_wire, "ringtrain 25 MiB buckets, bf16 wire");
  if (comm->rank() == 0) {
    std::printf("RESULT gradsync_np%d_bf16_wire: ours %.2f ms, per_tensor %.2f ms, ratio %.2f\n", comm->size(),
                compressed * 1e3, per_tensor * 1e3, per_tensor / compressed);
    std::printf("RESULT gradsync_np%d_default_25MiB: ours %.2f ms, per_tensor %.2f ms, ratio %.2f\n", comm->size(),
                default_buckets * 1e3, per_tensor * 1e3, per_tensor / default_buckets);
    std::printf("RESULT gradsync_np%d_default_vs_one_call: ours %.2f ms, whole_arena_MPI_Allreduce %.2f ms, ratio %.2f\n",
                comm->size(), default_buckets * 1e3, whole_arena * 1e3, whole_arena / default_buckets);
    std::printf("RESULT gradsync_np%d_default_vs_memory_floor: ours %.2f ms, floor %.2f ms, ratio %.2f\n", comm->size(),
                default_buckets * 1e3, floor * 1e3, floor / default_buckets);
    std::printf("RESULT gradsync_np%d_best_bucket: ours %.2f ms, per_tensor %.2f ms, ratio %.2f\n", comm->size(),
                best * 1e3, per_tensor * 1e3, per_tensor / best);
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  return rt::bench::run_mpi_benchmark("gradsync", &argc, &argv, [] { return run(); });
}
