// Convolution as matrix products on the GPU: im2col (a thread per column entry), col2im (a thread
// per input pixel, gathering every column entry taken from it: no atomics, deterministic), the axis
// swap between channel-major and sample-major layouts, and the per-channel bias and its gradient
// on channel-major data (a block per channel, reduced in shared memory). The kernels:
// conv_kernels.cuh.
#include "kernels/cuda/context.h"
#include "kernels/cuda/cuda_kernels.h"
#include "kernels/cuda/conv_kernels.cuh"

namespace rt::kernels::cuda {

void im2col(const ConvGeometry& g, const float* x, int64_t rows, float* cols) {
  conv::launch_im2col(StreamLaunch{}, g, x, rows, cols);
}

void col2im(const ConvGeometry& g, const float* cols, int64_t rows, float* dx) {
  conv::launch_col2im(StreamLaunch{}, g, cols, rows, dx);
}

void swap_leading_axes(const float* x, int64_t a, int64_t b, int64_t c, float* y) {
  conv::launch_swap_leading_axes(StreamLaunch{}, x, a, b, c, y);
}

void add_channel_bias(float* y, const float* bias, int64_t channels, int64_t count) {
  conv::launch_add_channel_bias(StreamLaunch{}, y, bias, channels, count);
}

void channel_bias_grad(const float* dy, int64_t channels, int64_t count, float beta, float* dbias) {
  conv::launch_channel_bias_grad(StreamLaunch{}, dy, channels, count, beta, dbias);
}

}  // namespace rt::kernels::cuda
