// The kernels of conv.cu and their launches, in a header of their own so that a test can also
// run them on the CPU under the host emulation of tests/kernels/cuda_emulation.h.
#pragma once

#include <cstdint>

#include "kernels/kernels.h"
#include "kernels/cuda/launch.h"

namespace RT_KERNELS_NAMESPACE::conv {

struct Geometry {  // ConvGeometry with the derived sizes, passed by value to kernels
  int64_t channels, height, width, kernel, stride, padding, out_h, out_w;
  bool channel_major;
};
inline Geometry device_geometry(const ConvGeometry& g) {
  return {g.channels, g.height, g.width, g.kernel, g.stride, g.padding, g.out_height(), g.out_width(), g.channel_major};
}
// Which H x W plane of the images holds sample n's channel c.
__device__ inline int64_t image_index(const Geometry& g, int64_t rows, int64_t n, int64_t c) {
  return g.channel_major ? c * rows + n : n * g.channels + c;
}

__global__ void im2col_kernel(Geometry g, const float* x, int64_t rows, float* cols) {
  const int64_t plane = g.out_h * g.out_w, width = rows * plane, total = g.channels * g.kernel * g.kernel * width;
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < total; i += int64_t{gridDim.x} * blockDim.x) {
    const int64_t r = i / width, column = i % width;
    const int64_t n = column / plane, oh = column % plane / g.out_w, ow = column % g.out_w;
    const int64_t c = r / (g.kernel * g.kernel), kh = r / g.kernel % g.kernel, kw = r % g.kernel;
    const int64_t ih = oh * g.stride - g.padding + kh, iw = ow * g.stride - g.padding + kw;
    const bool inside = ih >= 0 && ih < g.height && iw >= 0 && iw < g.width;
    cols[i] = inside ? x[(image_index(g, rows, n, c) * g.height + ih) * g.width + iw] : 0.0f;
  }
}

__global__ void col2im_kernel(Geometry g, const float* cols, int64_t rows, float* dx) {
  const int64_t plane = g.out_h * g.out_w, width = rows * plane, total = rows * g.channels * g.height * g.width;
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < total; i += int64_t{gridDim.x} * blockDim.x) {
    const int64_t iw = i % g.width, ih = i / g.width % g.height, image = i / (g.width * g.height);
    const int64_t c = g.channel_major ? image / rows : image % g.channels;
    const int64_t n = g.channel_major ? image % rows : image / g.channels;
    float sum = 0.0f;
    for (int64_t kh = 0; kh < g.kernel; ++kh) {
      const int64_t top = ih + g.padding - kh;  // oh * stride
      if (top < 0 || top % g.stride != 0 || top / g.stride >= g.out_h) continue;
      for (int64_t kw = 0; kw < g.kernel; ++kw) {
        const int64_t left = iw + g.padding - kw;
        if (left < 0 || left % g.stride != 0 || left / g.stride >= g.out_w) continue;
        const int64_t r = (c * g.kernel + kh) * g.kernel + kw;
        sum += cols[r * width + n * plane + top / g.stride * g.out_w + left / g.stride];
      }
    }
    dx[i] = sum;
  }
}

__global__ void swap_leading_axes_kernel(const float* x, int64_t a, int64_t b, int64_t c, float* y) {
  const int64_t total = a * b * c;
  for (int64_t o = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; o < total; o += int64_t{gridDim.x} * blockDim.x) {
    const int64_t t = o % c, i = o / c % a, j = o / (c * a);  // o indexes y[j, i, t]
    y[o] = x[(i * b + j) * c + t];
  }
}

__global__ void add_channel_bias_kernel(float* y, const float* bias, int64_t channels, int64_t count) {
  const int64_t total = channels * count;
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < total; i += int64_t{gridDim.x} * blockDim.x) {
    y[i] += bias[i / count];
  }
}

__global__ void channel_bias_grad_kernel(const float* dy, int64_t count, float beta, float* dbias) {
  __shared__ float partial[kThreads];
  const int64_t ch = blockIdx.x;
  float sum = 0.0f;
  for (int64_t i = threadIdx.x; i < count; i += blockDim.x) sum += dy[ch * count + i];
  partial[threadIdx.x] = sum;
  __syncthreads();
  for (unsigned stride = blockDim.x / 2; stride > 0; stride /= 2) {
    if (threadIdx.x < stride) partial[threadIdx.x] += partial[threadIdx.x + stride];
    __syncthreads();
  }
  if (threadIdx.x == 0) dbias[ch] = beta == 0.0f ? partial[0] : beta * dbias[ch] + partial[0];
}

template <typename Launch>
void launch_im2col(const Launch& launch, const ConvGeometry& g, const float* x, int64_t rows, float* cols) {
  const int64_t total = g.patch() * rows * g.out_height() * g.out_width();
  if (total == 0) return;
  launch(im2col_kernel, Grid{blocks_for(total)}, kThreads, 0, device_geometry(g), x, rows, cols);
}

template <typename Launch>
void launch_col2im(const Launch& launch, const ConvGeometry& g, const float* cols, int64_t rows, float* dx) {
  const int64_t total = rows * g.channels * g.height * g.width;
  if (total == 0) return;
  launch(col2im_kernel, Grid{blocks_for(total)}, kThreads, 0, device_geometry(g), cols, rows, dx);
}

template <typename Launch>
void launch_swap_leading_axes(const Launch& launch, const float* x, int64_t a, int64_t b, int64_t c, float* y) {
  if (a * b * c == 0) return;
  launch(swap_leading_axes_kernel, Grid{blocks_for(a * b * c)}, kThreads, 0, x, a, b, c, y);
}

template <typename Launch>
void launch_add_channel_bias(const Launch& launch, float* y, const float* bias, int64_t channels, int64_t count) {
  if (channels * count == 0) return;
  launch(add_channel_bias_kernel, Grid{blocks_for(channels * count)}, kThreads, 0, y, bias, channels, count);
}

template <typename Launch>
void launch_channel_bias_grad(const Launch& launch, const float* dy, int64_t channels, int64_t count, float beta,
                              float* dbias) {
  if (channels == 0) return;
  launch(channel_bias_grad_kernel, Grid{static_cast<unsigned>(channels)}, kThreads, 0, dy, count, beta, dbias);
}

}  // namespace RT_KERNELS_NAMESPACE::conv
