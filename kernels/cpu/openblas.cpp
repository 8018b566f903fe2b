#include "kernels/cpu/openblas.h"

#include <dlfcn.h>

#include <cstdlib>
#include <mutex>

#include "core/base/check.h"

namespace rt::kernels::cpu::openblas {

namespace {

using Sgemm = void (*)(CBLAS_ORDER, CBLAS_TRANSPOSE, CBLAS_TRANSPOSE, blasint, blasint, blasint, float, const float*,
                       blasint, const float*, blasint, float, float*, blasint);
using SetThreads = void (*)(int);
using CoreName = char* (*)();

struct Library {
  Sgemm sgemm = nullptr;
  CoreName core_name = nullptr;
};

Library& library() {
  static Library loaded;
  return loaded;
}

// The kernels for this processor's instruction sets, where OpenBLAS's detection by model may fail.
const char* core_type_for_this_processor() {
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512bw") &&
      __builtin_cpu_supports("avx512vl")) {
    return "SkylakeX";
  }
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return "Haswell";
  return nullptr;
}

}  // namespace

void load() {
  static std::once_flag once;
  std::call_once(once, [] {
    // Read by the library as it loads.
    if (const char* core = core_type_for_this_processor()) setenv("OPENBLAS_CORETYPE", core, 0);
    void* handle = dlopen("libopenblas.so.0", RTLD_NOW | RTLD_LOCAL);
    RT_CHECK(handle != nullptr, "runtime.cpu_blas = \"openblas\" needs OpenBLAS (Debian's libopenblas0): {}",
             dlerror());
    Library& lib = library();
    lib.sgemm = reinterpret_cast<Sgemm>(dlsym(handle, "cblas_sgemm"));
    lib.core_name = reinterpret_cast<CoreName>(dlsym(handle, "openblas_get_corename"));
    auto set_threads = reinterpret_cast<SetThreads>(dlsym(handle, "openblas_set_num_threads"));
    RT_CHECK(lib.sgemm && lib.core_name && set_threads, "libopenblas.so.0 lacks cblas_sgemm or its thread settings");
    set_threads(1);  // one thread a block: the rank's threads split each product (matmul.cpp)
  });
}

void sgemm(CBLAS_TRANSPOSE trans_a, CBLAS_TRANSPOSE trans_b, blasint m, blasint n, blasint k, float alpha,
           const float* a, blasint lda, const float* b, blasint ldb, float beta, float* c, blasint ldc) {
  library().sgemm(CblasRowMajor, trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

std::string core_name() { return library().core_name ? library().core_name() : ""; }

}  // namespace rt::kernels::cpu::openblas
