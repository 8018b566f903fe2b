// How much of the gradient communication the overlap with backward hides, on real training steps
// of an MLP (synthetic data) under mpirun. Each rank times the same steps three ways:
//   compute only  (forward, loss, backward, optimizer; no synchronisation),
//   sync after backward (comm.overlap = false),
//   sync overlapped with backward (comm.overlap = true),
// exposed communication = step time - compute-only step time, and hidden = 1 - overlapped/after.
// The three take turns step by step (each step starts at a barrier and counts as long as its
// slowest rank), and each is reported as the median of its STEPS steps: on a shared machine whose
// speed drifts for seconds at a time, modes timed in turn meet the same slow spells.
// OVERLAP_TIMELINE=path.json writes each rank's timeline (layers, buckets) of all the steps;
// OVERLAP_STEPS=1 prints every step's three times; OVERLAP_NONBLOCKING=auto|on|off is comm.nonblocking.
// Usage: mpirun -np 2 overlap BATCH_PER_RANK STEPS BUCKET_MB WIDTH...
#include <mpi.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "benchmarks/bench_util.h"
#include "comm/gradient_sync.h"
#include "core/base/environment.h"
#include "core/base/random.h"
#include "core/models.h"
#include "core/sgd.h"
#include "kernels/kernels.h"

namespace {

enum class Mode { kComputeOnly, kAfterBackward, kOverlapped };

// One step, timed on its slowest rank.
double run_step(rt::Model& model, rt::Sgd& sgd, rt::HostGradientSynchronizer* sync, const rt::Tensor& input,
                const std::vector<int32_t>& labels, std::vector<float>& grad_logits, int ranks) {
  const int64_t rows = input.dim(0), classes = model.output_features();
  MPI_Barrier(MPI_COMM_WORLD);
  auto start = std::chrono::steady_clock::now();
  const rt::Tensor& logits = model.forward(input);
  double loss = 0;
  rt::kernels::softmax_cross_entropy(rt::Device::kCpu, logits.data<float>(), labels.data(), rows, classes,
                                     1.0f / static_cast<float>(rows * ranks), grad_logits.data(), &loss);
  model.backward(rt::Tensor::view(grad_logits.data(), {rows, classes}));
  if (sync) sync->wait();
  sgd.step();
  double mine = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  double slowest = 0;
  MPI_Allreduce(&mine, &slowest, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
  return slowest;
}

double median(std::vector<double> values) {
  std::nth_element(values.begin(), values.begin() + values.size() / 2, values.end());
  return values[values.size() / 2];
}

int run(int argc, char** argv) {
  if (argc < 6) {
    std::fprintf(stderr, "usage: %s BATCH_PER_RANK STEPS BUCKET_MB WIDTH WIDTH...\n", argv[0]);
    return 2;
  }
  const int64_t batch = std::atoll(argv[1]);
  const int steps = std::atoi(argv[2]);
  const double bucket_mb = std::atof(argv[3]);
  std::vector<int64_t> widths;
  for (int i = 4; i < argc; ++i) widths.push_back(std::atoll(argv[i]));
  rt::CommunicatorOptions comm_options;
  const char* nonblocking = std::getenv("OVERLAP_NONBLOCKING");
  comm_options.started_all_reduces = rt::parse_started_all_reduces(nonblocking ? nonblocking : "auto");
  std::unique_ptr<rt::Communicator> comm = rt::make_world_communicator(comm_options);
  rt::kernels::set_cpu_threads(1);

  std::vector<int64_t> hidden(widths.begin() + 1, widths.end() - 1);
  std::unique_ptr<rt::Model> model = rt::build_mlp(widths.front(), hidden, widths.back());
  model->initialize(1);
  rt::Sgd sgd(model->parameters(), model->gradients(), rt::SgdOptions{0.001f, 0.9f, 0.0f});
  rt::Rng rng(7, static_cast<uint64_t>(comm->rank()));
  std::vector<float> features(static_cast<size_t>(batch * widths.front()));
  for (float& f : features) f = rng.uniform(0.0f, 1.0f);
  std::vector<int32_t> labels(static_cast<size_t>(batch));
  for (int32_t& l : labels) l = static_cast<int32_t>(rng.below(static_cast<uint64_t>(widths.back())));
  std::vector<float> grad_logits(static_cast<size_t>(batch * widths.back()));
  rt::Tensor input = rt::Tensor::view(features.data(), {batch, widths.front()});

  const char* trace = std::getenv("OVERLAP_TIMELINE");
  rt::Timeline timeline(trace ? trace : "", comm->rank());
  model->set_timeline(&timeline);
  rt::GradientSyncOptions options;
  options.bucket_bytes = static_cast<size_t>(bucket_mb * (1 << 20));
  options.first_bucket_bytes = std::min<size_t>(options.bucket_bytes, size_t{1} << 20);
  options.overlap = false;
  rt::HostGradientSynchronizer after_backward(*comm, model->gradients(), options, &timeline);
  options.overlap = true;
  rt::HostGradientSynchronizer overlapped(*comm, model->gradients(), options, &timeline);
  auto announce = [&](size_t n) { overlapped.gradients_ready(n); };

  std::vector<double> times[3];
  for (int step = 0; step < 3 * (steps + 1); ++step) {
    const int mode = step % 3;
    rt::HostGradientSynchronizer* sync = mode == static_cast<int>(Mode::kAfterBackward) ? &after_backward
                                     : mode == static_cast<int>(Mode::kOverlapped)  ? &overlapped
                                                                                    : nullptr;
    model->set_gradients_final_callback(sync == &overlapped ? std::function<void(size_t)>(announce) : nullptr);
    double seconds = run_step(*model, sgd, sync, input, labels, grad_logits, comm->size());
    if (step >= 3) times[mode].push_back(seconds);  // the first step of each mode warms up
  }
  model->set_gradients_final_callback(nullptr);
  if (timeline.enabled()) timeline.write();
  if (std::getenv("OVERLAP_STEPS") && comm->rank() == 0) {
    for (size_t i = 0; i < times[0].size(); ++i) std::printf("%.1f %.1f %.1f\n", times[0][i] * 1e3, times[1][i] * 1e3, times[2][i] * 1e3);
  }
  double seconds[3];
  for (int mode = 0; mode < 3; ++mode) seconds[mode] = median(times[mode]);
  if (comm->rank() == 0) {
    double compute = seconds[0], after = seconds[1], overlapped = seconds[2];
    double exposed_after = after - compute, exposed_overlapped = std::max(0.0, overlapped - compute);
    std::printf("MLP %s, %lld samples per rank, %d ranks, 1 math thread each, buckets of %.2f MiB, %.1f MB of gradients, "
                "median of %d steps each\n",
                fmt::format("{}", fmt::join(widths, "-")).c_str(), static_cast<long long>(batch), comm->size(), bucket_mb,
                model->parameters().size() * 4 / 1e6, steps);
    std::printf("buckets %s, summed by %s\n",
                comm->starts_all_reduces() ? "started without waiting (non-blocking all-reduces)"
                                           : "summed one after another (blocking all-reduces)",
                comm->backend().c_str());
    std::printf("%-32s %10s %14s\n", "", "ms/step", "exposed comm");
    std::printf("%-32s %10.2f %14s\n", "compute only", compute * 1e3, "-");
    std::printf("%-32s %10.2f %14.2f\n", "sync after backward", after * 1e3, exposed_after * 1e3);
    std::printf("%-32s %10.2f %14.2f\n", "sync overlapped with backward", overlapped * 1e3, exposed_overlapped * 1e3);
    double hidden = exposed_after > 0 ? 1.0 - exposed_overlapped / exposed_after : 0.0;
    std::printf("RESULT overlap_hidden_fraction_np%d: ours %.2f hidden, goal 0.70 hidden, ratio %.2f\n", comm->size(),
                hidden, hidden / 0.70);
    std::printf("RESULT overlap_step_time_np%d: ours %.2f ms, no_overlap %.2f ms, ratio %.3f\n", comm->size(),
                overlapped * 1e3, after * 1e3, after / overlapped);
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  return rt::bench::run_mpi_benchmark("overlap", &argc, &argv, [&] { return run(argc, argv); });
}
