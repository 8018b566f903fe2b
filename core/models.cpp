#include "core/models.h"

#include "core/layers/conv2d.h"
#include "core/layers/dropout.h"
#include "core/layers/flatten.h"
#include "core/layers/gelu.h"
#include "core/layers/layer_norm.h"
#include "core/layers/linear.h"
#include "core/layers/max_pool2d.h"
#include "core/layers/relu.h"

namespace rt {

std::unique_ptr<Model> build_mlp(int64_t input_features, const std::vector<int64_t>& hidden, int64_t classes,
                                 Device device, const MlpOptions& options) {
  RT_CHECK(options.activation == "relu" || options.activation == "gelu",
           "unknown activation \"{}\" (expected relu or gelu)", options.activation);
  std::vector<std::unique_ptr<Layer>> layers;
  int64_t width = input_features;
  for (int64_t next : hidden) {
    layers.push_back(std::make_unique<Linear>(width, next, device));
    if (options.layer_norm) layers.push_back(std::make_unique<LayerNorm>(next, device));
    if (options.activation == "gelu") {
      layers.push_back(std::make_unique<Gelu>(device));
    } else {
      layers.push_back(std::make_unique<Relu>(device));
    }
    if (options.dropout > 0.0f) layers.push_back(std::make_unique<Dropout>(options.dropout, device));
    width = next;
  }
  layers.push_back(std::make_unique<Linear>(width, classes, device));
  return std::make_unique<Model>(std::move(layers), input_features, device);
}

std::unique_ptr<Model> build_cnn(const std::vector<int64_t>& image_shape, const std::vector<int64_t>& conv_channels,
                                 const std::vector<int64_t>& hidden, int64_t classes, Device device) {
  RT_CHECK(image_shape.size() == 2 || image_shape.size() == 3,
           "a cnn needs images: samples of shape [height, width] or [channels, height, width], not {}",
           shape_text(image_shape));
  int64_t channels = image_shape.size() == 3 ? image_shape[0] : 1;
  int64_t height = image_shape[image_shape.size() - 2], width = image_shape.back();
  const int64_t input_features = channels * height * width;
  std::vector<std::unique_ptr<Layer>> layers;
  for (int64_t next : conv_channels) {
    kernels::ConvGeometry geometry;
    geometry.channels = channels;
    geometry.height = height;
    geometry.width = width;
    geometry.kernel = 3;
    geometry.stride = 1;
    geometry.padding = 1;
    geometry.channel_major = !layers.empty();  // the image, then what the previous block made
    layers.push_back(std::make_unique<Conv2d>(geometry, next, device));
    // Pooling before ReLU computes the same as after it (both are monotone, and ReLU's gradient
    // at the window's maximum is the one that counts) on a quarter of the elements.
    layers.push_back(std::make_unique<MaxPool2d>(next, height, width, 2, device));
    layers.push_back(std::make_unique<Relu>(device));
    channels = next;
    height /= 2;
    width /= 2;
  }
  int64_t features = channels * height * width;
  if (!conv_channels.empty()) layers.push_back(std::make_unique<Flatten>(channels, height * width, device));
  for (int64_t next : hidden) {
    layers.push_back(std::make_unique<Linear>(features, next, device));
    layers.push_back(std::make_unique<Relu>(device));
    features = next;
  }
  layers.push_back(std::make_unique<Linear>(features, classes, device));
  return std::make_unique<Model>(std::move(layers), input_features, device);
}

}  // namespace rt
