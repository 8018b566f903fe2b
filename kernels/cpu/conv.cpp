// Convolution as matrix products on the CPU: the whole convolution a few samples at a time (so
// that a tile's columns stay in the core's cache, and each thread multiplies its own tiles);
// im2col / col2im, the axis swap between channel-major and sample-major layouts, and the
// per-channel bias (channel-major). Work is split across the rank's OpenMP threads so that
// results do not depend on the thread count.
// GCC 12 warns inside its own AVX-512 intrinsics (the `__m512 __Y = __Y;` idiom) when Eigen packs a
// strided, transposed operand; a known false positive.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <Eigen/Core>
#include <algorithm>
#include <cstring>
#include <vector>

#include "kernels/cpu/cpu_kernels.h"

namespace rt::kernels::cpu {

namespace {
// Which H x W plane of the images holds sample n's channel c.
int64_t image_index(const ConvGeometry& g, int64_t rows, int64_t n, int64_t c) {
  return g.channel_major ? c * rows + n : n * g.channels + c;
}

// The output columns [first, last) whose input column ow * stride - padding + kw lies inside the
// image: the rest read padding.
void inside_range(int64_t out_size, int64_t in_size, int64_t stride, int64_t padding, int64_t offset, int64_t& first,
                  int64_t& last) {
  first = 0;
  while (first < out_size && first * stride - padding + offset < 0) ++first;
  last = out_size;
  while (last > first && (last - 1) * stride - padding + offset >= in_size) --last;
}

// A "same" convolution (stride 1, output as large as the input): patch entry (c, kh, kw)'s row of
// the columns is channel c's plane shifted by (kh - padding) rows and (kw - padding) columns, so
// it is one contiguous copy, with the entries that wrapped around a row edge or fell off the
// plane then zeroed. This is the CNN's case; whole-plane copies instead of one per image row.
bool same_size(const ConvGeometry& g) { return g.stride == 1 && g.out_height() == g.height && g.out_width() == g.width; }

// The plane positions [lo, hi) that both the shifted row and its source cover.
struct PlaneShift {
  int64_t dh, dw, shift, lo, hi, row_first, row_last;
  PlaneShift(const ConvGeometry& g, int64_t kh, int64_t kw)
      : dh(kh - g.padding), dw(kw - g.padding), shift(dh * g.width + dw) {
    // Clamped for images smaller than the kernel's reach, where a shift leaves nothing.
    row_first = std::min(g.height, std::max<int64_t>(0, -dh));
    row_last = std::max(row_first, std::min(g.height, g.height - dh));
    lo = std::min(g.height * g.width, row_first * g.width + std::max<int64_t>(0, -dw));
    hi = std::max(lo, row_last * g.width - std::max<int64_t>(0, dw));
  }
};

void im2col_sample_same(const ConvGeometry& g, const float* x, int64_t rows, int64_t n, float* cols, int64_t width) {
  const int64_t plane = g.height * g.width;
  for (int64_t c = 0; c < g.channels; ++c) {
    const float* image = x + image_index(g, rows, n, c) * plane;
    for (int64_t kh = 0; kh < g.kernel; ++kh) {
      for (int64_t kw = 0; kw < g.kernel; ++kw) {
        const PlaneShift s(g, kh, kw);
        float* out = cols + ((c * g.kernel + kh) * g.kernel + kw) * width;
        std::fill(out, out + s.lo, 0.0f);
        std::copy(image + s.lo + s.shift, image + s.hi + s.shift, out + s.lo);
        std::fill(out + s.hi, out + plane, 0.0f);
        // The columns that wrapped, column by column: a loop along a row would become a memset
        // call per row for one or two floats (that doubled this function's time).
        for (int64_t ow = 0; ow < -s.dw; ++ow) {
          for (int64_t oh = s.row_first; oh < s.row_last; ++oh) out[oh * g.width + ow] = 0.0f;
        }
        for (int64_t ow = g.width - s.dw; ow < g.width; ++ow) {
          for (int64_t oh = s.row_first; oh < s.row_last; ++oh) out[oh * g.width + ow] = 0.0f;
        }
      }
    }
  }
}

// keep[(kw * H + h) * W + w] is 1 where column w of a row shifted by kw - padding stays inside the
// image; the calling thread's, rebuilt when the geometry changes.
const float* column_keep_masks(const ConvGeometry& g) {
  thread_local std::vector<float> keep;
  thread_local int64_t height = 0, width = 0, kernel = 0, padding = -1;
  if (height != g.height || width != g.width || kernel != g.kernel || padding != g.padding) {
    height = g.height, width = g.width, kernel = g.kernel, padding = g.padding;
    keep.resize(static_cast<size_t>(kernel * height * width));
    for (int64_t kw = 0; kw < kernel; ++kw)
      for (int64_t i = 0; i < height * width; ++i) {
        const int64_t w = i % width + kw - padding;
        keep[static_cast<size_t>(kw * height * width + i)] = w >= 0 && w < width ? 1.0f : 0.0f;
      }
  }
  return keep.data();
}

void col2im_sample_same(const ConvGeometry& g, const float* cols, int64_t width, int64_t rows, int64_t n, float* dx) {
  const int64_t plane = g.height * g.width;
  const float* keep_masks = column_keep_masks(g);
  for (int64_t c = 0; c < g.channels; ++c) {
    float* image = dx + image_index(g, rows, n, c) * plane;
    std::fill(image, image + plane, 0.0f);
    for (int64_t kh = 0; kh < g.kernel; ++kh) {
      for (int64_t kw = 0; kw < g.kernel; ++kw) {
        const PlaneShift s(g, kh, kw);
        const float* in = cols + ((c * g.kernel + kh) * g.kernel + kw) * width;
        const float* keep = keep_masks + kw * plane;
        // A select, not a product with the mask: an infinite gradient at a wrapped position must
        // not become NaN here.
#pragma omp simd
        for (int64_t i = s.lo; i < s.hi; ++i) image[i + s.shift] += keep[i] != 0.0f ? in[i] : 0.0f;
      }
    }
  }
}

// Sample n's columns: cols[r * width + p] for patch entry r and output position p of the sample
// (cols points at the sample's first column).
void im2col_sample(const ConvGeometry& g, const float* x, int64_t rows, int64_t n, float* cols, int64_t width) {
  if (same_size(g)) return im2col_sample_same(g, x, rows, n, cols, width);
  const int64_t oh_n = g.out_height(), ow_n = g.out_width();
  for (int64_t r = 0; r < g.patch(); ++r) {
    const int64_t c = r / (g.kernel * g.kernel), kh = r / g.kernel % g.kernel, kw = r % g.kernel;
    const float* image = x + image_index(g, rows, n, c) * g.height * g.width;
    float* out = cols + r * width;
    int64_t first = 0, last = 0;
    inside_range(ow_n, g.width, g.stride, g.padding, kw, first, last);
    for (int64_t oh = 0; oh < oh_n; ++oh) {
      float* row = out + oh * ow_n;
      const int64_t ih = oh * g.stride - g.padding + kh;
      if (ih < 0 || ih >= g.height) {
        std::fill(row, row + ow_n, 0.0f);
        continue;
      }
      std::fill(row, row + first, 0.0f);
      const float* in = image + ih * g.width - g.padding + kw;
      if (g.stride == 1) {
        std::copy(in + first, in + last, row + first);
      } else {
        for (int64_t ow = first; ow < last; ++ow) row[ow] = in[ow * g.stride];
      }
      std::fill(row + last, row + ow_n, 0.0f);
    }
  }
}

// Sample n's image gradients (all channels, overwritten) from its columns, laid out as
// im2col_sample writes them.
void col2im_sample(const ConvGeometry& g, const float* cols, int64_t width, int64_t rows, int64_t n, float* dx) {
  if (same_size(g)) return col2im_sample_same(g, cols, width, rows, n, dx);
  const int64_t oh_n = g.out_height(), ow_n = g.out_width();
  for (int64_t c = 0; c < g.channels; ++c) {
    float* image = dx + image_index(g, rows, n, c) * g.height * g.width;
    std::fill(image, image + g.height * g.width, 0.0f);
    for (int64_t kh = 0; kh < g.kernel; ++kh) {
      for (int64_t kw = 0; kw < g.kernel; ++kw) {
        const float* in = cols + ((c * g.kernel + kh) * g.kernel + kw) * width;
        int64_t first = 0, last = 0;
        inside_range(ow_n, g.width, g.stride, g.padding, kw, first, last);
        for (int64_t oh = 0; oh < oh_n; ++oh) {
          const int64_t ih = oh * g.stride - g.padding + kh;
          if (ih < 0 || ih >= g.height) continue;
          float* out = image + ih * g.width - g.padding + kw;
          const float* row = in + oh * ow_n;
          if (g.stride == 1) {
#pragma omp simd
            for (int64_t ow = first; ow < last; ++ow) out[ow] += row[ow];
          } else {
            for (int64_t ow = first; ow < last; ++ow) out[ow * g.stride] += row[ow];
          }
        }
      }
    }
  }
}
}  // namespace

void im2col(const ConvGeometry& g, const float* x, int64_t rows, float* cols) {
  const int64_t plane = g.out_height() * g.out_width();
#pragma omp parallel for schedule(static)
  for (int64_t n = 0; n < rows; ++n) im2col_sample(g, x, rows, n, cols + n * plane, rows * plane);
}

void col2im(const ConvGeometry& g, const float* cols, int64_t rows, float* dx) {
  const int64_t plane = g.out_height() * g.out_width();
#pragma omp parallel for schedule(static)
  for (int64_t n = 0; n < rows; ++n) col2im_sample(g, cols + n * plane, rows * plane, rows, n, dx);
}

void swap_leading_axes(const float* x, int64_t a, int64_t b, int64_t c, float* y) {
#pragma omp parallel for collapse(2) schedule(static)
  for (int64_t i = 0; i < a; ++i) {
    for (int64_t j = 0; j < b; ++j) {
      std::memcpy(y + (j * a + i) * c, x + (i * b + j) * c, static_cast<size_t>(c) * sizeof(float));
    }
  }
}

void add_channel_bias(float* y, const float* bias, int64_t channels, int64_t count) {
#pragma omp parallel for schedule(static)
  for (int64_t ch = 0; ch < channels; ++ch) {
    float* out = y + ch * count;
#pragma omp simd
    for (int64_t i = 0; i < count; ++i) out[i] += bias[ch];
  }
}

void channel_bias_grad(const float* dy, int64_t channels, int64_t count, float beta, float* dbias) {
#pragma omp parallel for schedule(static)
  for (int64_t ch = 0; ch < channels; ++ch) {
    const float* in = dy + ch * count;
    float sum = 0.0f;
#pragma omp simd reduction(+ : sum)
    for (int64_t i = 0; i < count; ++i) sum += in[i];
    dbias[ch] = beta == 0.0f ? sum : beta * dbias[ch] + sum;
  }
}

namespace {
using Matrix = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using Strided = Eigen::OuterStride<>;
using StridedMap = Eigen::Map<Matrix, 0, Strided>;
using ConstStridedMap = Eigen::Map<const Matrix, 0, Strided>;
using MatrixMap = Eigen::Map<Matrix>;
using ConstMatrixMap = Eigen::Map<const Matrix>;

// The calling thread's buffer for one tile's columns; grows to the largest tile, then stays.
float* tile_columns(int64_t floats) {
  thread_local std::vector<float> columns;
  if (static_cast<int64_t>(columns.size()) < floats) columns.resize(static_cast<size_t>(floats));
  return columns.data();
}
}  // namespace

int64_t conv_tile_samples(const ConvGeometry& g, int64_t rows) {
  // At most about 512 KiB of columns: in a core's L2 with the weights, where Eigen's product runs
  // far faster than one product over a whole batch's columns from memory (for this project's
  // CNN, 2 samples of the second convolution; docs/performance.md). Then the tiles are evened out
  // (128 rows in tiles of at most 18 become 8 tiles of 16, not 7 of 18 and one of 2).
  constexpr int64_t kTileBytes = 512 * 1024;
  const int64_t sample_bytes = g.patch() * g.out_height() * g.out_width() * static_cast<int64_t>(sizeof(float));
  const int64_t most = std::max<int64_t>(1, kTileBytes / sample_bytes);
  const int64_t tiles = (std::max<int64_t>(rows, 1) + most - 1) / most;
  return (std::max<int64_t>(rows, 1) + tiles - 1) / tiles;
}

// Tiles (and in backward, groups of tiles) depend on the geometry and the batch only, and the
// parameter gradients are summed in a fixed order, so results do not depend on the number of
// threads or on which thread took which tile.
void conv2d_forward(const ConvGeometry& g, const float* x, int64_t rows, const float* weight, const float* bias,
                    int64_t out_channels, float* y) {
  const int64_t plane = g.out_height() * g.out_width(), tile = conv_tile_samples(g, rows);
  const int64_t tiles = (rows + tile - 1) / tile;
#pragma omp parallel for schedule(dynamic, 1)
  for (int64_t t = 0; t < tiles; ++t) {
    const int64_t first = t * tile, count = std::min(tile, rows - first), width = count * plane;
    float* columns = tile_columns(g.patch() * width);
    for (int64_t n = first; n < first + count; ++n) im2col_sample(g, x, rows, n, columns + (n - first) * plane, width);
    // The bias first, then the product added to it (an assignment would have Eigen zero the
    // output first: one more pass over it).
    for (int64_t o = 0; o < out_channels; ++o) {
      std::fill(y + o * rows * plane + first * plane, y + o * rows * plane + first * plane + width, bias[o]);
    }
    StridedMap out(y + first * plane, out_channels, width, Strided(rows * plane));
    out.noalias() += ConstMatrixMap(weight, out_channels, g.patch()) * ConstMatrixMap(columns, g.patch(), width);
  }
}

void conv2d_backward(const ConvGeometry& g, const float* x, int64_t rows, const float* weight, int64_t out_channels,
                     const float* dy, float beta, float* dweight, float* dbias, float* dx) {
  const int64_t plane = g.out_height() * g.out_width(), tile = conv_tile_samples(g, rows);
  const int64_t tiles = (rows + tile - 1) / tile, weights = out_channels * g.patch();
  // The tiles in a fixed number of groups of consecutive tiles, each group's parameter gradients
  // summed tile after tile into its own partial: the work is split by group whatever the thread
  // count, and the partials (memory: groups x the layer's parameters, not tiles x) are added in
  // group order.
  constexpr int64_t kMaxGroups = 16;
  const int64_t groups = std::min(tiles, kMaxGroups);
  const int64_t partial_size = weights + out_channels;  // a group's weight and bias gradients
  thread_local std::vector<float> partials;              // the calling thread's, shared by the team
  if (static_cast<int64_t>(partials.size()) < groups * partial_size) {
    partials.resize(static_cast<size_t>(groups * partial_size));
  }
  float* partial = partials.data();
#pragma omp parallel
  {
#pragma omp for schedule(dynamic, 1)
    for (int64_t group = 0; group < groups; ++group) {
      MatrixMap dweight_group(partial + group * partial_size, out_channels, g.patch());
      Eigen::Map<Eigen::VectorXf> dbias_group(partial + group * partial_size + weights, out_channels);
      const int64_t first_tile = group * tiles / groups, end_tile = (group + 1) * tiles / groups;
      for (int64_t t = first_tile; t < end_tile; ++t) {
        const int64_t first = t * tile, count = std::min(tile, rows - first), width = count * plane;
        float* columns = tile_columns(g.patch() * width);
        for (int64_t n = first; n < first + count; ++n) {
          im2col_sample(g, x, rows, n, columns + (n - first) * plane, width);
        }
        const ConstStridedMap dy_tile(dy + first * plane, out_channels, width, Strided(rows * plane));
        const auto columns_t = ConstMatrixMap(columns, g.patch(), width).transpose();
        if (t == first_tile) {
          dweight_group.noalias() = dy_tile * columns_t;
          dbias_group = dy_tile.rowwise().sum();
        } else {
          dweight_group.noalias() += dy_tile * columns_t;
          dbias_group += dy_tile.rowwise().sum();
        }
        if (dx == nullptr) continue;
        // The columns are spent: they take the input's gradient columns, W^T dy, then fold back.
        MatrixMap(columns, g.patch(), width).noalias() =
            ConstMatrixMap(weight, out_channels, g.patch()).transpose() * dy_tile;
        for (int64_t n = first; n < first + count; ++n) {
          col2im_sample(g, columns + (n - first) * plane, width, rows, n, dx);
        }
      }
    }
    // Group by group into each element, as a stream over the partials.
    constexpr int64_t kChunk = 1024;
#pragma omp for schedule(static)
    for (int64_t chunk = 0; chunk < partial_size; chunk += kChunk) {
      const int64_t end = std::min(partial_size, chunk + kChunk);
      float sum[kChunk];
      std::copy(partial + chunk, partial + end, sum);
      for (int64_t group = 1; group < groups; ++group) {
        const float* p = partial + group * partial_size;
#pragma omp simd
        for (int64_t i = chunk; i < end; ++i) sum[i - chunk] += p[i];
      }
      for (int64_t i = chunk; i < end; ++i) {
        float* out = i < weights ? dweight + i : dbias + (i - weights);
        *out = beta == 0.0f ? sum[i - chunk] : beta * *out + sum[i - chunk];
      }
    }
  }
}

}  // namespace rt::kernels::cpu
