// The GEMM ceiling of an MLP training step on this CPU: times exactly the matrix products one step
// performs (forward, weight gradients, input gradients except the first layer's) with ringtrain's
// own GEMM kernel, and prints the samples/s a step could reach if it did nothing else. Also prints
// the 1024^3 product for reference.
// Usage: gemm_ceiling BATCH THREADS WIDTH...   e.g. gemm_ceiling 128 2 784 512 256 10
// GEMM_CEILING_BLAS=openblas times the products through OpenBLAS (runtime.cpu_blas) instead of Eigen.
#include <chrono>
#include <functional>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "core/base/random.h"
#include "kernels/kernels.h"

using rt::kernels::Transpose;

namespace {

double time_seconds(int repeats, const std::function<void()>& body) {
  body();  // warm up
  auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < repeats; ++i) body();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() / repeats;
}

std::vector<float> random_matrix(int64_t elements, uint64_t seed) {
  rt::Rng rng(seed);
  std::vector<float> values(static_cast<size_t>(elements));
  for (float& v : values) v = rng.uniform(-1.0f, 1.0f);
  return values;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 5) {
    std::fprintf(stderr, "usage: %s BATCH THREADS WIDTH WIDTH...\n", argv[0]);
    return 2;
  }
  const int64_t batch = std::atoll(argv[1]);
  const int threads = std::atoi(argv[2]);
  std::vector<int64_t> widths;
  for (int i = 3; i < argc; ++i) widths.push_back(std::atoll(argv[i]));
  rt::kernels::set_cpu_threads(threads);
  const char* blas = std::getenv("GEMM_CEILING_BLAS");
  if (blas && std::string(blas) == "openblas") rt::kernels::set_cpu_blas(rt::kernels::CpuBlas::kOpenBlas);
  const rt::Device cpu = rt::Device::kCpu;

  std::vector<std::vector<float>> weights, activations, grads, weight_grads;
  for (size_t l = 0; l + 1 < widths.size(); ++l) {
    weights.push_back(random_matrix(widths[l + 1] * widths[l], l));
    weight_grads.emplace_back(static_cast<size_t>(widths[l + 1] * widths[l]));
  }
  for (size_t l = 0; l < widths.size(); ++l) {
    activations.push_back(random_matrix(batch * widths[l], 100 + l));
    grads.push_back(random_matrix(batch * widths[l], 200 + l));
  }
  double flops = 0;
  for (size_t l = 0; l + 1 < widths.size(); ++l) {
    flops += 2.0 * batch * widths[l] * widths[l + 1] * (l == 0 ? 2 : 3);
  }
  double step = time_seconds(200, [&] {
    for (size_t l = 0; l + 1 < widths.size(); ++l) {  // forward: y = x W^T
      rt::kernels::gemm(cpu, Transpose::kNo, Transpose::kYes, batch, widths[l + 1], widths[l], 1.0f,
                        activations[l].data(), weights[l].data(), 0.0f, activations[l + 1].data());
    }
    for (size_t l = widths.size() - 1; l-- > 0;) {  // backward: dW = dy^T x, dx = dy W
      rt::kernels::gemm(cpu, Transpose::kYes, Transpose::kNo, widths[l + 1], widths[l], batch, 1.0f,
                        grads[l + 1].data(), activations[l].data(), 0.0f, weight_grads[l].data());
      if (l > 0) {
        rt::kernels::gemm(cpu, Transpose::kNo, Transpose::kNo, batch, widths[l], widths[l + 1], 1.0f,
                          grads[l + 1].data(), weights[l].data(), 0.0f, grads[l].data());
      }
    }
  });
  std::vector<float> a = random_matrix(1024 * 1024, 1), b = random_matrix(1024 * 1024, 2), c(1024 * 1024);
  double square = time_seconds(20, [&] {
    rt::kernels::gemm(cpu, Transpose::kNo, Transpose::kNo, 1024, 1024, 1024, 1.0f, a.data(), b.data(), 0.0f, c.data());
  });
  std::printf("gemm_ceiling batch=%lld threads=%d products by %s\n", static_cast<long long>(batch), threads,
              rt::kernels::cpu_blas_description().c_str());
  std::printf("step_gemm_seconds %.6e\nstep_gemm_gflops %.1f\nceiling_samples_per_second %.0f\n", step,
              flops / step / 1e9, batch / step);
  std::printf("flops_per_sample %.0f\nsquare1024_gflops %.1f\n", flops / batch, 2.0 * 1024 * 1024 * 1024 / square / 1e9);
  return 0;
}
