// Matrix products through cuBLAS (column-major) on our row-major buffers: a row-major C = A B is
// the column-major C^T = B^T A^T, so every call swaps the operands and the sizes. A linear layer's
// bias is added by its product's epilogue (cuBLASLt), so its output is written once instead of
// written, read and written again (set_fused_bias(false): our own kernel after the product,
// matmul_kernels.cuh); its gradient, a column sum, is a matrix-vector product with ones.
//
// bf16 products (set_matmul_precision(kBf16)) round both operands to bf16 into buffers of their
// own and multiply those, with fp32 sums and an fp32 result (or a bf16 one, the sums rounded once,
// where a layer stores bf16 activations). cuBLAS's own fast-bf16 mode on fp32
// operands does the same arithmetic at its TF32 rate (on an H200, 16384 x 768 x 3072: 324 TFLOP/s
// either way, against 698 with bf16 operands); the rounding passes cost a read and a half-size
// write of each operand, little beside the product. An operand a layer already stores in bf16
// (kernels/operand.h) is multiplied as it is.
#include <cuda_bf16.h>

#include <map>
#include <memory>
#include <tuple>

#include "core/base/check_cuda.h"
#include "kernels/cuda/context.h"
#include "kernels/cuda/cuda_kernels.h"
#include "kernels/cuda/matmul_kernels.cuh"

namespace rt::kernels::cuda {

namespace {

// Which source each operand buffer holds rounded, and whether a SameOperands scope lets products
// reuse it (kernels.h).
struct RoundedOperands {
  bool reuse = false;
  const float* source[2] = {nullptr, nullptr};
  int64_t count[2] = {0, 0};
};
thread_local RoundedOperands rounded_operands;

const __nv_bfloat16* rounded_to_bf16(const float* values, int64_t count, int buffer) {
  auto* out = static_cast<__nv_bfloat16*>(operand_buffer(buffer, static_cast<size_t>(count) * sizeof(__nv_bfloat16)));
  RoundedOperands& rounded = rounded_operands;
  if (rounded.reuse && rounded.source[buffer] == values && rounded.count[buffer] == count) return out;
  launch_round_to_bf16(StreamLaunch{}, values, out, count);
  rounded.source[buffer] = values;
  rounded.count[buffer] = count;
  return out;
}

// Whether this thread's products multiply bf16 operands: bf16 products asked for, on a GPU that has
// them (below compute capability 8.0 cuBLAS has no bf16 operands; its fast-bf16 mode stands in).
bool bf16_operand_products() {
  static const bool bf16_operands = compute_capability_major() >= 8;
  return bf16_products() && bf16_operands;
}

const __nv_bfloat16* bf16_operand(Operand operand, int64_t count, int buffer) {
  if (operand.bf16) return static_cast<const __nv_bfloat16*>(operand.data);
  return rounded_to_bf16(static_cast<const float*>(operand.data), count, buffer);
}

// The largest power of two, up to 256, that divides the address: the alignment cuBLASLt's choice
// of kernel may count on (it assumes 256 unless told).
uint32_t alignment_of(const void* pointer) {
  uint32_t alignment = 256;
  while (alignment > 1 && reinterpret_cast<uintptr_t>(pointer) % alignment != 0) alignment /= 2;
  return alignment;
}

// A linear layer's y [rows, out] = x W^T + bias in cuBLAS's column-major terms: D [out x rows] =
// op(A) B + bias, with A = W stored as [in x out] and transposed, B = x stored as [in x rows], and
// the bias (one per row of D) broadcast along D's columns. Its descriptors and cuBLASLt's choice
// of kernel, found once per thread for each shape, types and alignments.
struct BiasProductKey {
  int64_t rows, in, out;
  bool bf16, bf16_output;  // bf16 operands; y stored in bf16
  int compute;
  uint32_t align_w, align_x, align_y, align_bias;
  bool operator<(const BiasProductKey& o) const {
    return std::tie(rows, in, out, bf16, bf16_output, compute, align_w, align_x, align_y, align_bias) <
           std::tie(o.rows, o.in, o.out, o.bf16, o.bf16_output, o.compute, o.align_w, o.align_x, o.align_y,
                    o.align_bias);
  }
};

struct BiasProduct {
  cublasLtMatmulDesc_t desc = nullptr;
  cublasLtMatrixLayout_t w = nullptr, x = nullptr, y = nullptr;
  cublasLtMatmulAlgo_t algo{};
  bool found = false;  // whether cuBLASLt has a kernel for it (else: the product, then the bias kernel)
  BiasProduct() = default;
  BiasProduct(const BiasProduct&) = delete;
  BiasProduct& operator=(const BiasProduct&) = delete;
  ~BiasProduct() {
    for (cublasLtMatrixLayout_t layout : {w, x, y}) {
      if (layout) cublasLtMatrixLayoutDestroy(layout);
    }
    if (desc) cublasLtMatmulDescDestroy(desc);
  }
};

const BiasProduct& bias_product(const BiasProductKey& key, const float* bias) {
  thread_local std::map<BiasProductKey, std::unique_ptr<BiasProduct>> plans;
  std::unique_ptr<BiasProduct>& plan = plans[key];
  if (plan) return *plan;
  plan = std::make_unique<BiasProduct>();
  BiasProduct& p = *plan;
  const cudaDataType_t operands = key.bf16 ? CUDA_R_16BF : CUDA_R_32F;
  RT_CHECK_CUBLAS(cublasLtMatmulDescCreate(&p.desc, static_cast<cublasComputeType_t>(key.compute), CUDA_R_32F));
  const cublasOperation_t transpose = CUBLAS_OP_T, keep = CUBLAS_OP_N;
  const cublasLtEpilogue_t epilogue = CUBLASLT_EPILOGUE_BIAS;
  const cudaDataType_t bias_type = CUDA_R_32F;
  RT_CHECK_CUBLAS(cublasLtMatmulDescSetAttribute(p.desc, CUBLASLT_MATMUL_DESC_TRANSA, &transpose, sizeof transpose));
  RT_CHECK_CUBLAS(cublasLtMatmulDescSetAttribute(p.desc, CUBLASLT_MATMUL_DESC_TRANSB, &keep, sizeof keep));
  RT_CHECK_CUBLAS(cublasLtMatmulDescSetAttribute(p.desc, CUBLASLT_MATMUL_DESC_EPILOGUE, &epilogue, sizeof epilogue));
  RT_CHECK_CUBLAS(
      cublasLtMatmulDescSetAttribute(p.desc, CUBLASLT_MATMUL_DESC_BIAS_DATA_TYPE, &bias_type, sizeof bias_type));
  // The heuristic reads the bias pointer's alignment from it (cublasLt.h).
  RT_CHECK_CUBLAS(cublasLtMatmulDescSetAttribute(p.desc, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &bias, sizeof bias));
  const auto in = static_cast<uint64_t>(key.in), out = static_cast<uint64_t>(key.out);
  const auto rows = static_cast<uint64_t>(key.rows);
  RT_CHECK_CUBLAS(cublasLtMatrixLayoutCreate(&p.w, operands, in, out, static_cast<int64_t>(in)));
  RT_CHECK_CUBLAS(cublasLtMatrixLayoutCreate(&p.x, operands, in, rows, static_cast<int64_t>(in)));
  const cudaDataType_t y_type = key.bf16_output ? CUDA_R_16BF : CUDA_R_32F;  // the bias stays fp32
  RT_CHECK_CUBLAS(cublasLtMatrixLayoutCreate(&p.y, y_type, out, rows, static_cast<int64_t>(out)));
  cublasLtMatmulPreference_t preference = nullptr;
  RT_CHECK_CUBLAS(cublasLtMatmulPreferenceCreate(&preference));
  const uint64_t workspace = kMatmulWorkspaceBytes;
  const std::pair<cublasLtMatmulPreferenceAttributes_t, uint32_t> alignments[] = {
      {CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, key.align_w},
      {CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES, key.align_x},
      {CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, key.align_y},
      {CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES, key.align_y}};
  cublasStatus_t status = cublasLtMatmulPreferenceSetAttribute(
      preference, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &workspace, sizeof workspace);
  for (const auto& [attribute, bytes] : alignments) {
    if (status == CUBLAS_STATUS_SUCCESS) {
      status = cublasLtMatmulPreferenceSetAttribute(preference, attribute, &bytes, sizeof bytes);
    }
  }
  cublasLtMatmulHeuristicResult_t result{};
  int found = 0;
  if (status == CUBLAS_STATUS_SUCCESS) {
    status = cublasLtMatmulAlgoGetHeuristic(blas_lt_handle(), p.desc, p.w, p.x, p.y, p.y, preference, 1, &result,
                                            &found);
  }
  cublasLtMatmulPreferenceDestroy(preference);
  if (status != CUBLAS_STATUS_NOT_SUPPORTED) RT_CHECK_CUBLAS(status);  // not supported: not found
  p.found = status == CUBLAS_STATUS_SUCCESS && found > 0;
  if (p.found) p.algo = result.algo;
  return p;
}

}  // namespace

void begin_same_operands() {
  rounded_operands = RoundedOperands{};
  rounded_operands.reuse = true;
}
void end_same_operands() noexcept { rounded_operands = RoundedOperands{}; }

namespace {

// C (c_type: fp32 or bf16) = alpha op(A) op(B) + beta C by cuBLAS: with bf16 products, both
// operands as bf16 (rounded into their buffers unless stored so) and fp32 sums; else fp32 operands
// at this thread's compute type.
void gemm_ex(Transpose trans_a, Transpose trans_b, int64_t m, int64_t n, int64_t k, float alpha, Operand a, Operand b,
             float beta, void* c, cudaDataType_t c_type) {
  bool ta = trans_a == Transpose::kYes, tb = trans_b == Transpose::kYes;
  int lda = static_cast<int>(ta ? m : k), ldb = static_cast<int>(tb ? k : n);
  const cublasOperation_t op_b = tb ? CUBLAS_OP_T : CUBLAS_OP_N, op_a = ta ? CUBLAS_OP_T : CUBLAS_OP_N;
  const bool bf16 = bf16_operand_products();
  RT_CHECK(bf16 || (!a.bf16 && !b.bf16 && c_type == CUDA_R_32F),
           "a product of a bf16 operand, or stored in bf16, needs bf16 products (runtime.precision = \"bf16\") on "
           "a GPU of compute capability 8.0 or more");
  const void* a_data = bf16 ? static_cast<const void*>(bf16_operand(a, m * k, 0)) : a.data;
  const void* b_data = bf16 ? static_cast<const void*>(bf16_operand(b, k * n, 1)) : b.data;
  const cudaDataType_t operands = bf16 ? CUDA_R_16BF : CUDA_R_32F;
  RT_CHECK_CUBLAS(cublasGemmEx(blas_handle(), op_b, op_a, static_cast<int>(n), static_cast<int>(m),
                               static_cast<int>(k), &alpha, b_data, operands, ldb, a_data, operands, lda, &beta, c,
                               c_type, static_cast<int>(n), bf16 ? CUBLAS_COMPUTE_32F : compute_type(),
                               CUBLAS_GEMM_DEFAULT));
}

}  // namespace

void gemm(Transpose trans_a, Transpose trans_b, int64_t m, int64_t n, int64_t k, float alpha, Operand a, Operand b,
          float beta, float* c) {
  gemm_ex(trans_a, trans_b, m, n, k, alpha, a, b, beta, c, CUDA_R_32F);
}

void gemm(Transpose trans_a, Transpose trans_b, int64_t m, int64_t n, int64_t k, float alpha, Operand a, Operand b,
          bfloat16* c) {
  gemm_ex(trans_a, trans_b, m, n, k, alpha, a, b, 0.0f, c, CUDA_R_16BF);
}

namespace {

// The epilogue's kernels may read the bias 16 bytes at a time. cuBLASLt's alignment preferences
// cover A, B, C and D, not the bias, and its heuristic has been seen to choose such a kernel for a
// bias aligned to a float only ("misaligned address"; PyTorch falls back in that case too). A
// model's biases are arena slices aligned to 64 bytes (core/model.cpp), so this is for other
// callers.
constexpr uint32_t kEpilogueBiasAlignment = 16;

thread_local BiasEpilogueCounts bias_counts;

// y = x W^T + bias by cuBLASLt with the bias in the product's epilogue (the fp32 sums plus the
// bias, stored once: rounded to bf16 when bf16_output). False where cuBLASLt has no kernel for it,
// or the bias is not aligned for one.
bool linear_forward_in_epilogue(Operand x, const float* weight, const float* bias, int64_t rows, int64_t in,
                                int64_t out, void* y, bool bf16_output) {
  if (alignment_of(bias) < kEpilogueBiasAlignment) return false;
  const bool bf16 = bf16_operand_products();
  // The operands as gemm() takes them: x in buffer 0, the weight in buffer 1.
  const void* x_data = bf16 ? static_cast<const void*>(bf16_operand(x, rows * in, 0)) : x.data;
  const void* w_data = bf16 ? static_cast<const void*>(bf16_operand(weight, out * in, 1)) : weight;
  const BiasProductKey key{rows,
                           in,
                           out,
                           bf16,
                           bf16_output,
                           static_cast<int>(bf16 ? CUBLAS_COMPUTE_32F : compute_type()),
                           alignment_of(w_data),
                           alignment_of(x_data),
                           alignment_of(y),
                           alignment_of(bias)};
  const BiasProduct& product = bias_product(key, bias);
  if (!product.found) return false;
  RT_CHECK_CUBLAS(cublasLtMatmulDescSetAttribute(product.desc, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &bias, sizeof bias));
  const float one = 1.0f, zero = 0.0f;
  RT_CHECK_CUBLAS(cublasLtMatmul(blas_lt_handle(), product.desc, &one, w_data, product.w, x_data, product.x, &zero, y,
                                 product.y, y, product.y, &product.algo, matmul_workspace(), kMatmulWorkspaceBytes,
                                 current_stream()));
  ++bias_counts.in_epilogue;
  return true;
}

}  // namespace

void linear_forward(Operand x, const float* weight, const float* bias, int64_t rows, int64_t in, int64_t out, float* y) {
  if (rows == 0) return;
  if (fused_bias() && (bf16_operand_products() || !x.bf16) &&
      linear_forward_in_epilogue(x, weight, bias, rows, in, out, y, false)) {
    return;
  }
  gemm(Transpose::kNo, Transpose::kYes, rows, out, in, 1.0f, x, weight, 0.0f, y);
  launch_add_bias(StreamLaunch{}, y, bias, rows, out);
  ++bias_counts.by_kernel;
}

void linear_forward(Operand x, const float* weight, const float* bias, int64_t rows, int64_t in, int64_t out,
                    bfloat16* y) {
  if (rows == 0) return;
  RT_CHECK(bf16_operand_products(),
           "a linear layer's bf16 output needs bf16 products (runtime.precision = \"bf16\") on a GPU of compute "
           "capability 8.0 or more");
  auto* y16 = device_bf16(y);
  if (fused_bias() && linear_forward_in_epilogue(x, weight, bias, rows, in, out, y16, true)) return;
  // As the epilogue: the fp32 sums plus the bias, rounded once.
  auto* sums = static_cast<float*>(scratch(static_cast<size_t>(rows * out) * sizeof(float)));
  gemm(Transpose::kNo, Transpose::kYes, rows, out, in, 1.0f, x, weight, 0.0f, sums);
  launch_add_bias_to_bf16(StreamLaunch{}, sums, bias, y16, rows, out);
  ++bias_counts.by_kernel;
}

BiasEpilogueCounts bias_epilogue_counts() { return bias_counts; }

void linear_backward_input(Operand dy, const float* weight, int64_t rows, int64_t in, int64_t out, float* dx) {
  gemm(Transpose::kNo, Transpose::kNo, rows, in, out, 1.0f, dy, weight, 0.0f, dx);
}

void linear_backward_params(Operand dy, Operand x, int64_t rows, int64_t in, int64_t out, float beta,
                            float* dweight, float* dbias) {
  gemm(Transpose::kYes, Transpose::kNo, out, in, rows, 1.0f, dy, x, beta, dweight);
  // dbias = beta * dbias + dy^T 1: row-major dy [rows, out] is column-major [out, rows], so this is
  // one matrix-vector product (cuBLAS reads every element once, across the whole GPU; beta == 0
  // ignores dbias's old contents). A bf16 dy: the same product with bf16 ones, fp32 sums.
  const float one = 1.0f;
  if (dy.bf16) {
    RT_CHECK_CUBLAS(cublasGemmEx(blas_handle(), CUBLAS_OP_N, CUBLAS_OP_N, static_cast<int>(out), 1,
                                 static_cast<int>(rows), &one, dy.data, CUDA_R_16BF, static_cast<int>(out),
                                 ones_bf16(rows), CUDA_R_16BF, static_cast<int>(rows), &beta, dbias, CUDA_R_32F,
                                 static_cast<int>(out), CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
    return;
  }
  RT_CHECK_CUBLAS(cublasSgemv(blas_handle(), CUBLAS_OP_N, static_cast<int>(out), static_cast<int>(rows), &one,
                              static_cast<const float*>(dy.data), static_cast<int>(out), ones(rows), 1, &beta, dbias,
                              1));
}

}  // namespace rt::kernels::cuda
