// Where the time of one training step on the GPU goes: the trainer's step (forward per layer,
// softmax cross-entropy, backward per layer, the non-finite check, SGD skipped on the GPU if it
// fails) on a batch that is already on the device, each phase timed with CUDA events, then the
// same steps untimed (the host queueing ahead) for throughput.
// Usage: mlp_gpu_step [BATCH] [STEPS] [fp32|tf32]          (run by benchmarks/mlp_gpu/run.sh)
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "core/base/random.h"
#include "core/models.h"
#include "core/sgd.h"
#include "kernels/cuda/cuda_kernels.h"
#include "kernels/cuda/device_buffer.h"
#include "kernels/cuda/stream.h"
#include "benchmarks/gpu_phases.h"
#include "kernels/kernels.h"

namespace cuda = rt::kernels::cuda;

int main(int argc, char** argv) try {
  const int64_t batch = argc > 1 ? std::atoll(argv[1]) : 1024;
  const int steps = argc > 2 ? std::atoi(argv[2]) : 200;
  const std::string precision = argc > 3 ? argv[3] : "fp32";
  const int64_t features = 784, classes = 10;
  if (cuda::device_count() == 0) {
    std::fprintf(stderr, "no GPU visible\n");
    return 1;
  }
  cuda::Stream stream;
  cuda::StreamScope scope(stream.handle());
  cuda::set_tf32(precision == "tf32");

  auto model = rt::build_mlp(features, {1024, 1024}, classes, rt::Device::kCuda);
  model->initialize(1);
  rt::Sgd sgd(model->parameters(), model->gradients(), {0.05f, 0.9f, 0.0f}, rt::Device::kCuda);
  rt::Rng rng(3);
  std::vector<float> host_x(static_cast<size_t>(batch * features));
  for (float& v : host_x) v = rng.uniform(0.0f, 1.0f);
  std::vector<int32_t> host_y(static_cast<size_t>(batch));
  for (int32_t& v : host_y) v = static_cast<int32_t>(rng.next_u64() % classes);
  cuda::DeviceBuffer<float> x(host_x), grad_logits(static_cast<size_t>(batch * classes));
  cuda::DeviceBuffer<int32_t> y(host_y);
  cuda::DeviceBuffer<double> loss(std::vector<double>{0.0});
  cuda::DeviceBuffer<int64_t> correct(std::vector<int64_t>{0});
  cuda::DeviceBuffer<uint32_t> nonfinite(1);
  rt::Tensor input = rt::Tensor::view(x.data(), {batch, features}, rt::DType::kFloat32, rt::Device::kCuda);
  rt::Tensor grad = rt::Tensor::view(grad_logits.data(), {batch, classes}, rt::DType::kFloat32, rt::Device::kCuda);
  const auto& layers = model->layers();
  const size_t n_layers = layers.size();

  // Phases: forward of each layer, loss, backward of each layer, check, optimizer.
  std::vector<std::string> names;
  for (const auto& layer : layers) names.push_back("forward " + layer->name());
  names.push_back("softmax cross-entropy + accuracy");
  for (size_t l = n_layers; l-- > 0;) names.push_back("backward " + layers[l]->name());
  names.push_back("non-finite check");
  names.push_back("SGD momentum");
  rt::bench::PhaseClock clock(names.size(), stream.handle());
  std::vector<double> totals(names.size(), 0.0);

  auto step = [&](bool timed) {
    clock.begin(timed);
    const rt::Tensor* activation = &input;
    for (size_t l = 0; l < n_layers; ++l) {
      activation = &layers[l]->forward(*activation);
      clock.mark();
    }
    rt::kernels::softmax_cross_entropy(rt::Device::kCuda, activation->data<float>(), y.data(), batch, classes,
                                       1.0f / static_cast<float>(batch), grad_logits.data(), loss.data());
    rt::kernels::count_correct(rt::Device::kCuda, activation->data<float>(), y.data(), batch, classes, correct.data());
    clock.mark();
    const rt::Tensor* gradient = &grad;
    for (size_t l = n_layers; l-- > 0;) {
      gradient = &layers[l]->backward(*gradient, l > 0 ? rt::InputGradient::kCompute : rt::InputGradient::kSkip,
                                      rt::GradientWrite::kOverwrite);
      clock.mark();
    }
    rt::Span<float> gradients = model->gradients();
    cuda::nonfinite_flag(gradients.data(), static_cast<int64_t>(gradients.size()), nonfinite.data());
    clock.mark();
    sgd.step(0, nonfinite.data());  // as the trainer: skipped on the GPU if the flag is set, no host wait
    clock.mark();
  };

  for (int i = 0; i < 20; ++i) step(false);  // warm-up: cuBLAS heuristics, caches, clocks
  stream.synchronize();
  for (int i = 0; i < steps; ++i) {
    step(true);
    stream.synchronize();
    for (size_t p = 0; p < names.size(); ++p) {
      totals[p] += clock.milliseconds(p);
    }
  }
  cuda::Event start(true), end(true);
  start.record(stream.handle());
  for (int i = 0; i < steps; ++i) step(false);
  end.record(stream.handle());
  end.synchronize();
  const double step_ms = cuda::elapsed_milliseconds(start.handle(), end.handle()) / steps;

  double sum = 0;
  for (double t : totals) sum += t;
  std::printf("MLP 784-1024-1024-10, batch %lld, %s, %d steps, data already on the GPU\n",
              static_cast<long long>(batch), precision.c_str(), steps);
  std::printf("%-36s %10s %7s\n", "phase", "us/step", "share");
  for (size_t p = 0; p < names.size(); ++p) {
    std::printf("%-36s %10.1f %6.1f%%\n", names[p].c_str(), 1000.0 * totals[p] / steps, 100.0 * totals[p] / sum);
  }
  std::printf("%-36s %10.1f\n", "sum of phases (timed steps)", 1000.0 * sum / steps);
  std::printf("%-36s %10.1f\n", "untimed step", 1000.0 * step_ms);
  std::printf("step_samples_per_second %.0f\n", batch / (step_ms / 1000.0));
  return 0;
} catch (const std::exception& error) {
  std::fprintf(stderr, "mlp_gpu_step: %s\n", error.what());
  return 1;
}
