// GELU (tanh form) and layer normalisation on the GPU (their kernels: normalization_kernels.cuh):
// GELU elementwise; layer norm a warp per row (mean and variance reduced by shuffles, in double as
// on the CPU), and the parameter gradients a thread per feature summing the rows in order
// (deterministic).
#include <algorithm>

#include "core/base/check_cuda.h"
#include "kernels/cuda/context.h"
#include "kernels/cuda/cuda_kernels.h"
#include "kernels/cuda/normalization_kernels.cuh"

namespace rt::kernels::cuda {

void gelu_forward(Operand x, float* y, int64_t count) {
  with_values(x, [&](auto in) { launch_gelu_forward(StreamLaunch{}, in, y, count); });
}

void gelu_forward(Operand x, bfloat16* y, int64_t count) {
  with_values(x, [&](auto in) { launch_gelu_forward(StreamLaunch{}, in, device_bf16(y), count); });
}

void gelu_backward(Operand x, const float* dy, float* dx, int64_t count) {
  with_values(x, [&](auto in) { launch_gelu_backward(StreamLaunch{}, in, dy, dx, count); });
}

void gelu_backward(Operand x, const float* dy, bfloat16* dx, int64_t count) {
  with_values(x, [&](auto in) { launch_gelu_backward(StreamLaunch{}, in, dy, device_bf16(dx), count); });
}

void layer_norm_forward(const float* x, const float* gamma, const float* beta, int64_t rows, int64_t features,
                        float eps, float* y, float* mean, float* rstd) {
  launch_layer_norm_forward(StreamLaunch{}, x, gamma, beta, rows, features, eps, y, mean, rstd);
}

void layer_norm_forward(const float* x, const float* gamma, const float* beta, int64_t rows, int64_t features,
                        float eps, bfloat16* y, float* mean, float* rstd) {
  launch_layer_norm_forward(StreamLaunch{}, x, gamma, beta, rows, features, eps, device_bf16(y),
                            mean, rstd);
}

void layer_norm_backward(const float* dy, const float* x, const float* gamma, const float* mean, const float* rstd,
                         int64_t rows, int64_t features, float beta_acc, float* dx, float* dgamma, float* dbeta) {
  if (dx) launch_layer_norm_input_grad(StreamLaunch{}, dy, x, gamma, mean, rstd, rows, features, dx);
  const int64_t chunks = std::max<int64_t>(1, (rows + kParamChunkRows - 1) / kParamChunkRows);
  auto* partial = static_cast<double*>(scratch(static_cast<size_t>(2 * chunks * features) * sizeof(double)));
  if (rows > 0) {
    const dim3 grid(static_cast<unsigned>((features + kThreads - 1) / kThreads), static_cast<unsigned>(chunks));
    layer_norm_param_partial_kernel<<<grid, kThreads, 0, current_stream()>>>(dy, x, mean, rstd, rows, features, partial,
                                                                             partial + chunks * features);
    RT_CHECK_LAUNCH(layer_norm_param_partial_kernel);
  } else {
    fill_bytes(partial, 0, static_cast<size_t>(2 * chunks * features) * sizeof(double));
  }
  layer_norm_param_total_kernel<<<blocks_for(features), kThreads, 0, current_stream()>>>(
      partial, partial + chunks * features, chunks, features, beta_acc, dgamma, dbeta);
  RT_CHECK_LAUNCH(layer_norm_param_total_kernel);
}

}  // namespace rt::kernels::cuda
