// Where the time of one CNN training step on the CPU goes: forward and backward of each layer of
// the Fashion-MNIST CNN (conv32-pool-conv64-pool-fc128-fc10) and the loss, on one resident batch,
// each phase timed with a steady clock; the median of the steps after a warm-up one.
// Usage: cnn_cpu_step [BATCH] [STEPS] [THREADS]      (run by benchmarks/cnn_cpu/run.sh)
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "core/base/random.h"
#include "core/models.h"
#include "kernels/kernels.h"

int main(int argc, char** argv) try {
  const int64_t batch = argc > 1 ? std::atoll(argv[1]) : 128;
  const int steps = argc > 2 ? std::atoi(argv[2]) : 30;
  const int threads = argc > 3 ? std::atoi(argv[3]) : 2;
  const int64_t features = 784, classes = 10;
  rt::kernels::set_cpu_threads(threads);
  auto model = rt::build_cnn({1, 28, 28}, {32, 64}, {128}, classes);
  model->initialize(1);
  rt::Rng rng(3);
  std::vector<float> x(static_cast<size_t>(batch * features)), dlogits(static_cast<size_t>(batch * classes));
  for (float& v : x) v = rng.uniform(0.0f, 1.0f);
  std::vector<int32_t> labels(static_cast<size_t>(batch));
  for (int32_t& v : labels) v = static_cast<int32_t>(rng.next_u64() % classes);
  rt::Tensor input = rt::Tensor::view(x.data(), {batch, features});
  rt::Tensor grad = rt::Tensor::view(dlogits.data(), {batch, classes});
  const auto& layers = model->layers();
  const size_t n = layers.size();

  std::vector<std::string> names;
  for (const auto& layer : layers) names.push_back("forward " + layer->name());
  names.push_back("softmax cross-entropy");
  for (size_t l = n; l-- > 0;) names.push_back("backward " + layers[l]->name());
  std::vector<std::vector<double>> times(names.size());
  using Clock = std::chrono::steady_clock;
  for (int s = 0; s <= steps; ++s) {
    size_t phase = 0;
    auto last = Clock::now();
    auto mark = [&] {
      const auto now = Clock::now();
      if (s > 0) times[phase].push_back(std::chrono::duration<double, std::micro>(now - last).count());
      ++phase;
      last = now;
    };
    const rt::Tensor* activation = &input;
    for (size_t l = 0; l < n; ++l) {
      activation = &layers[l]->forward(*activation);
      mark();
    }
    double loss = 0.0;
    rt::kernels::softmax_cross_entropy(rt::Device::kCpu, activation->data<float>(), labels.data(), batch, classes,
                                       1.0f / static_cast<float>(batch), dlogits.data(), &loss);
    mark();
    const rt::Tensor* gradient = &grad;
    for (size_t l = n; l-- > 0;) {
      gradient = &layers[l]->backward(*gradient, l > 0 ? rt::InputGradient::kCompute : rt::InputGradient::kSkip,
                                      rt::GradientWrite::kOverwrite);
      mark();
    }
  }
  double total = 0.0;
  std::vector<double> medians;
  for (auto& t : times) {
    std::sort(t.begin(), t.end());
    medians.push_back(t[t.size() / 2]);
    total += medians.back();
  }
  std::printf("CNN step on the CPU: batch %lld, %d threads, median of %d steps\n\n", static_cast<long long>(batch),
              threads, steps);
  std::printf("%-36s %10s %7s\n", "phase", "us/step", "share");
  for (size_t p = 0; p < names.size(); ++p) {
    std::printf("%-36s %10.0f %6.1f%%\n", names[p].c_str(), medians[p], 100.0 * medians[p] / total);
  }
  std::printf("%-36s %10.0f\n", "step (sum of medians)", total);
  std::printf("samples/s (bare step, no optimizer): %.0f\n", 1e6 * static_cast<double>(batch) / total);
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "cnn_cpu_step: %s\n", e.what());
  return 1;
}
