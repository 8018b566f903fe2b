// Conv2d and MaxPool2d on the CPU: forward against a direct (nested-loop) convolution and pooling,
// backward against central finite differences of L = sum(output * probe), for shapes with stride,
// padding and windows that do not divide the image; and a small CNN's gradients end to end.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <vector>

#include "core/layers/conv2d.h"
#include "core/layers/flatten.h"
#include "core/layers/max_pool2d.h"
#include "core/models.h"
#include "kernels/kernels.h"

#include "tests/core/gradient_check.h"

namespace rt {
namespace {

using testing::expect_gradient;
using testing::probe_loss;
using testing::random_values;

// y[o, n, oh, ow] (channel-major, as Conv2d gives it) = b[o] + sum over c, kh, kw of
// w[o, c, kh, kw] x[n, c, oh*s - p + kh, ow*s - p + kw], x in NCHW.
std::vector<float> direct_convolution(const kernels::ConvGeometry& g, int64_t out_channels, int64_t rows,
                                      const std::vector<float>& x, const std::vector<float>& w,
                                      const std::vector<float>& b) {
  const int64_t oh_n = g.out_height(), ow_n = g.out_width();
  std::vector<float> y(static_cast<size_t>(rows * out_channels * oh_n * ow_n));
  for (int64_t n = 0; n < rows; ++n)
    for (int64_t o = 0; o < out_channels; ++o)
      for (int64_t oh = 0; oh < oh_n; ++oh)
        for (int64_t ow = 0; ow < ow_n; ++ow) {
          double sum = b[o];
          for (int64_t c = 0; c < g.channels; ++c)
            for (int64_t kh = 0; kh < g.kernel; ++kh)
              for (int64_t kw = 0; kw < g.kernel; ++kw) {
                int64_t ih = oh * g.stride - g.padding + kh, iw = ow * g.stride - g.padding + kw;
                if (ih < 0 || ih >= g.height || iw < 0 || iw >= g.width) continue;
                sum += static_cast<double>(w[((o * g.channels + c) * g.kernel + kh) * g.kernel + kw]) *
                       x[((n * g.channels + c) * g.height + ih) * g.width + iw];
              }
          y[((o * rows + n) * oh_n + oh) * ow_n + ow] = static_cast<float>(sum);
        }
  return y;
}

struct ConvCase {
  kernels::ConvGeometry g;
  int64_t out_channels;
  int64_t rows;
};

class ConvLayer : public ::testing::TestWithParam<ConvCase> {};

TEST_P(ConvLayer, ForwardMatchesADirectConvolutionAndBackwardFiniteDifferences) {
  const ConvCase c = GetParam();
  const kernels::ConvGeometry& g = c.g;
  Conv2d layer(g, c.out_channels);
  const int64_t in = g.channels * g.height * g.width, out = c.out_channels * g.out_height() * g.out_width();
  ASSERT_EQ(layer.output_features(in), out);
  std::vector<float> w = random_values(c.out_channels * g.patch(), 1), b = random_values(c.out_channels, 2);
  std::vector<float> dw(w.size(), NAN), db(b.size(), NAN);  // poisoned: backward must write every element
  layer.bind_parameters({Tensor::view(w.data(), {c.out_channels, g.patch()}), Tensor::view(b.data(), {c.out_channels})},
                        {Tensor::view(dw.data(), {c.out_channels, g.patch()}), Tensor::view(db.data(), {c.out_channels})});
  std::vector<float> x = random_values(c.rows * in, 3), probe = random_values(c.rows * out, 4);
  std::vector<float> expected = direct_convolution(g, c.out_channels, c.rows, x, w, b);  // x is NCHW
  if (g.channel_major) {  // the layer reads [C, rows, H, W]
    std::vector<float> nchw = x;
    kernels::swap_leading_axes(Device::kCpu, nchw.data(), c.rows, g.channels, g.height * g.width, x.data());
  }
  Tensor input = Tensor::view(x.data(), {c.rows, in});

  const Tensor& y = layer.forward(input);
  for (int64_t i = 0; i < out * c.rows; ++i) ASSERT_NEAR(y.data<float>()[i], expected[i], 1e-5) << "output " << i;

  const Tensor& grad_input =
      layer.backward(Tensor::view(probe.data(), {c.rows, out}), InputGradient::kCompute, GradientWrite::kOverwrite);
  std::vector<float> dx(grad_input.data<float>(), grad_input.data<float>() + c.rows * in);
  auto loss = [&] { return probe_loss(layer.forward(input), probe); };
  expect_gradient(w, dw, loss, "weight");
  expect_gradient(b, db, loss, "bias");
  expect_gradient(x, dx, loss, "input");
}

INSTANTIATE_TEST_SUITE_P(Shapes, ConvLayer,
                         ::testing::Values(ConvCase{{1, 6, 6, 3, 1, 1, false}, 4, 3},  // as the cnn's first
                                           ConvCase{{3, 6, 4, 3, 1, 1, true}, 2, 3},   // as its second: channel-major in
                                           ConvCase{{3, 7, 5, 3, 2, 1, false}, 2, 2},  // stride 2, odd sizes
                                           ConvCase{{2, 7, 5, 3, 2, 1, true}, 2, 2},
                                           ConvCase{{2, 5, 5, 2, 1, 0, false}, 3, 2},  // even kernel, no padding
                                           ConvCase{{2, 4, 4, 5, 1, 2, false}, 2, 1}));  // kernel > padding + 1

TEST(MaxPoolLayer, ForwardTakesEachWindowsMaximumAndBackwardRoutesToIt) {
  const int64_t rows = 2, channels = 3, height = 5, width = 7, window = 2;  // odd sizes: edge rows dropped
  MaxPool2d layer(channels, height, width, window);
  const int64_t in = channels * height * width, out = channels * (height / window) * (width / window);
  ASSERT_EQ(layer.output_features(in), out);
  std::vector<float> x = random_values(rows * in, 7), probe = random_values(rows * out, 8);
  Tensor input = Tensor::view(x.data(), {rows, in});
  const Tensor& y = layer.forward(input);
  for (int64_t n = 0; n < rows; ++n)
    for (int64_t c = 0; c < channels; ++c)
      for (int64_t oh = 0; oh < height / window; ++oh)
        for (int64_t ow = 0; ow < width / window; ++ow) {
          float best = -INFINITY;
          for (int64_t i = 0; i < window; ++i)
            for (int64_t j = 0; j < window; ++j)
              best = std::max(best, x[((n * channels + c) * height + oh * window + i) * width + ow * window + j]);
          ASSERT_EQ(y.data<float>()[((n * channels + c) * (height / window) + oh) * (width / window) + ow], best);
        }
  const Tensor& grad_input =
      layer.backward(Tensor::view(probe.data(), {rows, out}), InputGradient::kCompute, GradientWrite::kOverwrite);
  std::vector<float> dx(grad_input.data<float>(), grad_input.data<float>() + rows * in);
  auto loss = [&] { return probe_loss(layer.forward(input), probe); };
  expect_gradient(x, dx, loss, "input");  // random inputs: no ties, so the maximum moves only far away
}

TEST(SmallCnn, ParameterGradientsMatchFiniteDifferences) {
  auto model = build_cnn({1, 6, 6}, {3, 4}, {5}, 3);
  EXPECT_NE(model->summary().find("36 -> conv3x3_1to3 -> maxpool2 -> relu -> conv3x3_3to4 -> maxpool2 -> relu -> "
                                  "flatten -> linear4x5 -> relu -> linear5x3"),
            std::string::npos)
      << model->summary();
  model->initialize(3);
  const int64_t rows = 2;
  std::vector<float> x = random_values(rows * 36, 9), probe = random_values(rows * 3, 10);
  Tensor input = Tensor::view(x.data(), {rows, 36});
  auto loss = [&] { return probe_loss(model->forward(input), probe); };
  model->forward(input);
  model->backward(Tensor::view(probe.data(), {rows, 3}));
  Span<float> grads = model->gradients();
  std::vector<float> analytic(grads.begin(), grads.end());
  expect_gradient(model->parameters(), analytic, loss, "parameter");
}

TEST(FlattenLayer, MakesRowsOfChannelMajorImagesAndBackwardUndoesIt) {
  const int64_t channels = 3, rows = 2, spatial = 4;
  Flatten layer(channels, spatial);
  std::vector<float> x(channels * rows * spatial);
  for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(i);  // x[c, n, s] = (c * rows + n) * spatial + s
  const Tensor& y = layer.forward(Tensor::view(x.data(), {rows, channels * spatial}));
  for (int64_t n = 0; n < rows; ++n)
    for (int64_t c = 0; c < channels; ++c)
      for (int64_t s = 0; s < spatial; ++s)
        ASSERT_EQ(y.data<float>()[(n * channels + c) * spatial + s], static_cast<float>((c * rows + n) * spatial + s));
  std::vector<float> dy(y.data<float>(), y.data<float>() + y.elements());
  const Tensor& dx =
      layer.backward(Tensor::view(dy.data(), {rows, channels * spatial}), InputGradient::kCompute, GradientWrite::kOverwrite);
  EXPECT_EQ(std::vector<float>(dx.data<float>(), dx.data<float>() + dx.elements()), x);
}

TEST(ConvLayer, RejectsAKernelThatDoesNotFit) {
  kernels::ConvGeometry g{1, 2, 2, 5, 1, 0, false};
  EXPECT_THROW(Conv2d(g, 4), Error);
}

}  // namespace
}  // namespace rt
