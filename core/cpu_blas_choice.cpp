#include "core/cpu_blas_choice.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/base/check.h"
#include "core/base/hash.h"

namespace rt {

namespace fs = std::filesystem;

namespace {
std::string processor_model() {
  std::ifstream in("/proc/cpuinfo");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("model name", 0) == 0) return line.substr(line.find(':') + 2);
  }
  return "unknown processor";
}

fs::path cache_file() {
  const char* xdg = std::getenv("XDG_CACHE_HOME");
  const char* home = std::getenv("HOME");
  if (xdg != nullptr && *xdg != '\0') return fs::path(xdg) / "ringtrain" / "cpu-blas.json";
  if (home != nullptr && *home != '\0') return fs::path(home) / ".cache" / "ringtrain" / "cpu-blas.json";
  return {};
}

nlohmann::json read_cache(const fs::path& file) {
  std::ifstream in(file);
  const nlohmann::json cache = nlohmann::json::parse(in, nullptr, false);
  return cache.is_object() ? cache : nlohmann::json::object();
}

// Best effort: a cache that cannot be written only means measuring again next time.
void write_cache(const fs::path& file, const std::string& key, const CpuBlasChoice& choice) {
  std::error_code error;
  fs::create_directories(file.parent_path(), error);
  nlohmann::json cache = read_cache(file);
  cache[key] = {{"blas", choice.blas == kernels::CpuBlas::kOpenBlas ? "openblas" : "eigen"},
                {"eigen_ms", choice.eigen_ms},
                {"openblas_ms", std::isfinite(choice.openblas_ms) ? nlohmann::json(choice.openblas_ms) : nlohmann::json()}};
  const fs::path partial = file.string() + ".partial";
  {
    std::ofstream out(partial, std::ios::trunc);
    out << cache.dump(2) << '\n';
    if (!out.good()) return;
  }
  fs::rename(partial, file, error);
}

constexpr int kRounds = 3;

// Runs that make about 1 GFLOP of products a round (at least 1, at most 100): long enough to time,
// short beside a run; the same count on every rank.
int repetitions_for(const std::vector<kernels::GemmShape>& shapes) {
  double flops = 0;
  for (const kernels::GemmShape& s : shapes) flops += 2.0 * static_cast<double>(s.m * s.n * s.k);
  return static_cast<int>(std::clamp(1e9 / std::max(flops, 1.0), 1.0, 100.0));
}
}  // namespace

std::string CpuBlasChoice::describe() const {
  return fmt::format("{} (runtime.cpu_blas = \"auto\": the model's {} product shapes took {:.2f} ms with Eigen, {} "
                     "with OpenBLAS{})",
                     blas == kernels::CpuBlas::kOpenBlas ? "OpenBLAS" : "Eigen", shapes, eigen_ms,
                     std::isfinite(openblas_ms) ? fmt::format("{:.2f} ms", openblas_ms) : std::string("unavailable"),
                     cached ? ", as measured before on this processor" : "");
}

CpuBlasChoice choose_cpu_blas(Model& model, int64_t rows, Communicator& comm) {
  // The model's products, over one pass of a batch of zeros.
  std::vector<kernels::GemmShape> shapes;
  kernels::set_cpu_blas(kernels::CpuBlas::kEigen);
  kernels::record_cpu_gemm_shapes(&shapes);
  try {
    model.set_mode(true, 0);
    const Tensor input = Tensor::zeros({rows, model.input_features()});
    const Tensor& output = model.forward(input);
    model.backward(Tensor::zeros(output.shape()));
  } catch (...) {
    kernels::record_cpu_gemm_shapes(nullptr);
    throw;
  }
  kernels::record_cpu_gemm_shapes(nullptr);
  CpuBlasChoice choice;
  choice.shapes = static_cast<int64_t>(shapes.size());
  if (shapes.empty()) return choice;

  std::string shape_text;
  for (const kernels::GemmShape& s : shapes) {
    shape_text += fmt::format("{}{}{}x{}x{};", s.transpose_a ? 'T' : 'N', s.transpose_b ? 'T' : 'N', s.m, s.n, s.k);
  }
  const std::string text = fmt::format("{}|{} threads|{} ranks|{}", processor_model(), kernels::cpu_threads(), comm.size(),
                                       shape_text);
  const std::string key = fmt::format("{:016x}", fnv1a(text.data(), text.size()));
  const fs::path file = cache_file();

  // Rank 0's cache decides for every rank: [found, openblas, eigen_ms, openblas_ms].
  double cached[4] = {0, 0, 0, 0};
  if (comm.rank() == 0 && !file.empty()) {
    const nlohmann::json cache = read_cache(file);
    if (cache.contains(key) && cache[key].is_object()) {
      const nlohmann::json& entry = cache[key];
      cached[0] = 1;
      cached[1] = entry.value("blas", std::string()) == "openblas" ? 1 : 0;
      cached[2] = entry.value("eigen_ms", 0.0);
      cached[3] = entry.contains("openblas_ms") && entry["openblas_ms"].is_number()
                      ? entry["openblas_ms"].get<double>()
                      : std::numeric_limits<double>::infinity();
    }
  }
  comm.broadcast(Span<double>(cached, 4), 0);
  if (cached[0] != 0) {
    choice.blas = cached[1] != 0 ? kernels::CpuBlas::kOpenBlas : kernels::CpuBlas::kEigen;
    choice.eigen_ms = cached[2];
    choice.openblas_ms = cached[3];
    choice.cached = true;
  } else {
    // Rounds of both, alternating, each library's fastest round counted: another process's burst
    // of work slows one round, not the choice.
    const int repetitions = repetitions_for(shapes);
    double seconds[2] = {std::numeric_limits<double>::infinity(), std::numeric_limits<double>::infinity()};
    bool openblas = true;
    for (int round = 0; round < kRounds; ++round) {
      seconds[0] = std::min(seconds[0], kernels::time_cpu_gemms(kernels::CpuBlas::kEigen, shapes, repetitions));
      if (!openblas) continue;
      try {
        seconds[1] = std::min(seconds[1], kernels::time_cpu_gemms(kernels::CpuBlas::kOpenBlas, shapes, repetitions));
      } catch (const Error&) {  // not loadable here: Eigen it is
        openblas = false;
      }
    }
    comm.all_reduce(Span<double>(seconds, 2), ReduceOp::kSum);
    choice.eigen_ms = 1e3 * seconds[0] / repetitions;
    choice.openblas_ms = 1e3 * seconds[1] / repetitions;
    choice.blas = seconds[1] < seconds[0] ? kernels::CpuBlas::kOpenBlas : kernels::CpuBlas::kEigen;
    if (comm.rank() == 0 && !file.empty()) write_cache(file, key, choice);
  }
  kernels::set_cpu_blas(choice.blas);
  return choice;
}

}  // namespace rt
