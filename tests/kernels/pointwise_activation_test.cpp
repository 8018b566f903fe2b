// Every pointwise activation of kernels/pointwise_activations.h, from one table: its CPU kernel
// against a reference formula written here in double, its backward against central differences
// of that formula, its CUDA kernel under the host emulation and on a GPU (where one is visible)
// against the CPU. A new activation adds its row to kReferences; one without a row fails.
// RINGTRAIN_OPS_PERF=1 also prints each CPU kernel's rate.
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "tests/kernels/cuda_emulation.h"
// The CUDA kernels and their launchers, compiled for the emulation:
#include "kernels/cuda/elementwise_kernels.cuh"
#include "core/base/random.h"
#include "kernels/cpu/cpu_kernels.h"
#include "kernels/cuda/device_buffer.h"
#include "kernels/kernels.h"
#include "tests/kernels/expect_close.h"

namespace rt::kernels {
namespace {

struct Reference {
  const char* name;
  double (*function)(double x);
};

const Reference kReferences[] = {
    {"silu", [](double x) { return x / (1.0 + std::exp(-x)); }},
};

const Reference& reference_of(PointwiseActivation activation) {
  for (const Reference& reference : kReferences) {
    if (std::string(reference.name) == pointwise_activation_name(activation)) return reference;
  }
  throw std::runtime_error(std::string("no reference row for ") + pointwise_activation_name(activation));
}

// Points across the range that matters, the far tails and zero; and random values.
std::vector<float> inputs() {
  std::vector<float> x;
  for (int i = -160; i <= 160; ++i) x.push_back(static_cast<float>(i) / 20.0f);
  for (float tail : {-80.0f, -30.0f, 30.0f, 80.0f}) x.push_back(tail);
  Rng rng(11);
  for (int i = 0; i < 1000; ++i) x.push_back(rng.uniform(-6.0f, 6.0f));
  return x;
}

std::vector<float> random_gradient(size_t count) {
  Rng rng(12);
  std::vector<float> dy(count);
  for (float& value : dy) value = rng.uniform(-2.0f, 2.0f);
  return dy;
}

TEST(PointwiseActivations, EachHasANameAndAReferenceRow) {
  ASSERT_FALSE(pointwise_activations().empty());
  for (PointwiseActivation activation : pointwise_activations()) {
    PointwiseActivation found{};
    ASSERT_TRUE(find_pointwise_activation(pointwise_activation_name(activation), &found));
    EXPECT_EQ(found, activation);
    EXPECT_NO_THROW(reference_of(activation));
  }
  PointwiseActivation unused{};
  EXPECT_FALSE(find_pointwise_activation("no-such-activation", &unused));
}

TEST(PointwiseActivations, CpuForwardMatchesTheReference) {
  const std::vector<float> x = inputs();
  for (PointwiseActivation activation : pointwise_activations()) {
    SCOPED_TRACE(pointwise_activation_name(activation));
    std::vector<float> y(x.size()), want(x.size());
    cpu::pointwise_activation_forward(activation, x.data(), y.data(), static_cast<int64_t>(x.size()));
    for (size_t i = 0; i < x.size(); ++i) want[i] = static_cast<float>(reference_of(activation).function(x[i]));
    expect_close(y, want, 1e-6);
  }
}

TEST(PointwiseActivations, CpuBackwardMatchesDifferencesOfTheReference) {
  const std::vector<float> x = inputs();
  const std::vector<float> dy = random_gradient(x.size());
  constexpr double kStep = 1e-4;
  for (PointwiseActivation activation : pointwise_activations()) {
    SCOPED_TRACE(pointwise_activation_name(activation));
    const auto f = reference_of(activation).function;
    std::vector<float> dx(x.size()), want(x.size());
    cpu::pointwise_activation_backward(activation, x.data(), dy.data(), dx.data(), static_cast<int64_t>(x.size()));
    for (size_t i = 0; i < x.size(); ++i) {
      const double slope = (f(x[i] + kStep) - f(x[i] - kStep)) / (2 * kStep);
      want[i] = static_cast<float>(dy[i] * slope);
    }
    expect_close(dx, want, 1e-5);
  }
}

TEST(PointwiseActivations, EmulatedCudaKernelsMatchTheCpu) {
  const std::vector<float> x = inputs();
  const std::vector<float> dy = random_gradient(x.size());
  const int64_t n = static_cast<int64_t>(x.size());
  testing::cuda_emulation::Launch launch;
  for (PointwiseActivation activation : pointwise_activations()) {
    SCOPED_TRACE(pointwise_activation_name(activation));
    std::vector<float> y(n), dx(n), got_y(n, NAN), got_dx(n, NAN);
    cpu::pointwise_activation_forward(activation, x.data(), y.data(), n);
    cpu::pointwise_activation_backward(activation, x.data(), dy.data(), dx.data(), n);
    emulated_cuda::launch_pointwise_activation_forward(launch, activation, x.data(), got_y.data(), n);
    emulated_cuda::launch_pointwise_activation_backward(launch, activation, x.data(), dy.data(), got_dx.data(), n);
    expect_close(got_y, y, 1e-6);
    expect_close(got_dx, dx, 1e-6);
  }
}

TEST(PointwiseActivations, CudaKernelsMatchTheCpu) {
  if (cuda::device_count() == 0) GTEST_SKIP() << "no CUDA device visible (or no CUDA in this build)";
  const std::vector<float> x = inputs();
  const std::vector<float> dy = random_gradient(x.size());
  const int64_t n = static_cast<int64_t>(x.size());
  for (PointwiseActivation activation : pointwise_activations()) {
    SCOPED_TRACE(pointwise_activation_name(activation));
    std::vector<float> y(n), dx(n);
    cpu::pointwise_activation_forward(activation, x.data(), y.data(), n);
    cpu::pointwise_activation_backward(activation, x.data(), dy.data(), dx.data(), n);
    cuda::DeviceBuffer<float> device_x(x), device_dy(dy), device_y(n), device_dx(n);
    device_y.poison();
    device_dx.poison();
    pointwise_activation_forward(Device::kCuda, activation, device_x.data(), device_y.data(), n);
    pointwise_activation_backward(Device::kCuda, activation, device_x.data(), device_dy.data(), device_dx.data(), n);
    // The GPU's expf differs from the host's in the last bits.
    expect_close(device_y.download(), y, 1e-5);
    expect_close(device_dx.download(), dx, 1e-5);
  }
}

TEST(PointwiseActivations, PerformanceWhenAskedFor) {
  if (!std::getenv("RINGTRAIN_OPS_PERF")) GTEST_SKIP() << "set RINGTRAIN_OPS_PERF=1 to time the CPU kernels";
  const int64_t n = int64_t{1} << 24;
  std::vector<float> x(n, 0.5f), dy(n, 1.0f), y(n), dx(n);
  for (PointwiseActivation activation : pointwise_activations()) {
    using Clock = std::chrono::steady_clock;
    cpu::pointwise_activation_forward(activation, x.data(), y.data(), n);  // warm
    auto start = Clock::now();
    cpu::pointwise_activation_forward(activation, x.data(), y.data(), n);
    const double forward = std::chrono::duration<double>(Clock::now() - start).count();
    start = Clock::now();
    cpu::pointwise_activation_backward(activation, x.data(), dy.data(), dx.data(), n);
    const double backward = std::chrono::duration<double>(Clock::now() - start).count();
    std::printf("%s on the CPU: forward %.2f GB/s, backward %.2f GB/s (%lld floats)\n",
                pointwise_activation_name(activation), 8.0 * n / forward / 1e9, 12.0 * n / backward / 1e9,
                static_cast<long long>(n));
  }
}

}  // namespace
}  // namespace rt::kernels
