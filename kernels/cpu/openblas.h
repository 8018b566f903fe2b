// OpenBLAS, loaded when runtime.cpu_blas asks for it (dlopen of Debian's libopenblas.so.0), so that
// ringtrain runs where it is not installed. Its kernels are chosen for the processor: where
// OPENBLAS_CORETYPE is not set, by the instruction sets the processor reports (SkylakeX with
// AVX-512, Haswell with AVX2 and FMA), because OpenBLAS's own detection reads the processor's model,
// which virtual machines often hide, and then falls back to its SSE3 kernels (3.7x slower here).
#pragma once

#include <cblas.h>

#include <string>

namespace rt::kernels::cpu::openblas {

// Loads the library (once) and sets it to one thread; throws naming what is missing.
void load();
// cblas_sgemm of the loaded library.
void sgemm(CBLAS_TRANSPOSE trans_a, CBLAS_TRANSPOSE trans_b, blasint m, blasint n, blasint k, float alpha,
           const float* a, blasint lda, const float* b, blasint ldb, float beta, float* c, blasint ldc);
// The kernels OpenBLAS runs ("SkylakeX", "Haswell", ...), once loaded.
std::string core_name();

}  // namespace rt::kernels::cpu::openblas
