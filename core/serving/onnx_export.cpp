#include "core/serving/onnx_export.h"

#include <fstream>
#include <onnx/onnx_pb.h>

#include "core/base/check.h"
#include "core/layers/conv2d.h"
#include "core/layers/layer_norm.h"
#include "core/layers/max_pool2d.h"
#include "core/model_description.h"

namespace rt {

namespace {
constexpr int64_t kOpset = 13;

// The graph being written: initializers, nodes, and names made unique by a running count.
class GraphWriter {
 public:
  explicit GraphWriter(onnx::GraphProto& graph) : graph_(graph) {}

  std::string constant(const std::string& name, const std::vector<int64_t>& dims, const float* values,
                       int64_t count) {
    onnx::TensorProto* tensor = graph_.add_initializer();
    tensor->set_name(name);
    tensor->set_data_type(onnx::TensorProto::FLOAT);
    for (int64_t d : dims) tensor->add_dims(d);
    tensor->mutable_float_data()->Add(values, values + count);
    return name;
  }
  std::string scalar(const std::string& name, float value) { return constant(name, {}, &value, 1); }
  std::string int64s(const std::string& name, const std::vector<int64_t>& values) {
    onnx::TensorProto* tensor = graph_.add_initializer();
    tensor->set_name(name);
    tensor->set_data_type(onnx::TensorProto::INT64);
    tensor->add_dims(static_cast<int64_t>(values.size()));
    tensor->mutable_int64_data()->Add(values.begin(), values.end());
    return name;
  }
  onnx::NodeProto* node(const std::string& op, const std::vector<std::string>& inputs, const std::string& output) {
    onnx::NodeProto* node = graph_.add_node();
    node->set_op_type(op);
    node->set_name(output);
    for (const std::string& input : inputs) node->add_input(input);
    node->add_output(output);
    return node;
  }
  // The output of `op` on `inputs`, named after `base`.
  std::string apply(const std::string& op, const std::vector<std::string>& inputs, const std::string& base) {
    return node(op, inputs, fmt::format("{}.{}{}", base, op, count_++))->output(0);
  }

 private:
  onnx::GraphProto& graph_;
  int count_ = 0;
};

void add_int_attribute(onnx::NodeProto* node, const std::string& name, int64_t value) {
  onnx::AttributeProto* attribute = node->add_attribute();
  attribute->set_name(name);
  attribute->set_type(onnx::AttributeProto::INT);
  attribute->set_i(value);
}

void add_ints_attribute(onnx::NodeProto* node, const std::string& name, const std::vector<int64_t>& values) {
  onnx::AttributeProto* attribute = node->add_attribute();
  attribute->set_name(name);
  attribute->set_type(onnx::AttributeProto::INTS);
  for (int64_t value : values) attribute->add_ints(value);
}

// A float tensor's type with a symbolic batch dimension first.
void set_batch_type(onnx::ValueInfoProto* value, const std::string& name, const std::vector<int64_t>& shape) {
  value->set_name(name);
  onnx::TypeProto_Tensor* tensor = value->mutable_type()->mutable_tensor_type();
  tensor->set_elem_type(onnx::TensorProto::FLOAT);
  tensor->mutable_shape()->add_dim()->set_dim_param("batch");
  for (int64_t extent : shape) tensor->mutable_shape()->add_dim()->set_dim_value(extent);
}

// GELU in the tanh form the kernels compute: 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))).
std::string gelu(GraphWriter& g, const std::string& x, const std::string& base) {
  const std::string cube = g.apply("Mul", {g.apply("Mul", {x, x}, base), x}, base);
  const std::string inner = g.apply("Add", {x, g.apply("Mul", {cube, g.scalar(base + ".cubic", 0.044715f)}, base)}, base);
  const std::string t = g.apply("Tanh", {g.apply("Mul", {inner, g.scalar(base + ".sqrt_2_over_pi", 0.7978845608028654f)}, base)}, base);
  const std::string half_x = g.apply("Mul", {x, g.scalar(base + ".half", 0.5f)}, base);
  return g.apply("Mul", {half_x, g.apply("Add", {t, g.scalar(base + ".one", 1.0f)}, base)}, base);
}

// Layer normalisation over each row (opset 13 has no LayerNormalization): gamma (x - mean) /
// sqrt(var + eps) + beta, var the mean of squared deviations.
std::string layer_norm(GraphWriter& g, const std::string& x, const std::string& gamma, const std::string& beta,
                       float eps, const std::string& base) {
  onnx::NodeProto* mean = g.node("ReduceMean", {x}, base + ".mean");
  add_ints_attribute(mean, "axes", {1});
  const std::string centred = g.apply("Sub", {x, mean->output(0)}, base);
  onnx::NodeProto* variance = g.node("ReduceMean", {g.apply("Mul", {centred, centred}, base)}, base + ".variance");
  add_ints_attribute(variance, "axes", {1});
  const std::string std_dev = g.apply("Sqrt", {g.apply("Add", {variance->output(0), g.scalar(base + ".eps", eps)}, base)}, base);
  const std::string normalised = g.apply("Div", {centred, std_dev}, base);
  return g.apply("Add", {g.apply("Mul", {normalised, gamma}, base), beta}, base);
}
}  // namespace

void export_onnx(const Checkpoint& checkpoint, const std::string& path) {
  const ModelDescription d = parse_model_description(checkpoint.state.model, checkpoint.path);
  RT_CHECK(d.kind == "mlp" || d.kind == "cnn",
           "{} holds a {}: ONNX export covers the MLP and the CNN (a gpt is served by `ringtrain serve`)",
           checkpoint.path, d.kind);
  std::unique_ptr<Model> model = build_described_model(d);
  RT_CHECK(static_cast<int64_t>(checkpoint.parameters.size()) == static_cast<int64_t>(model->parameters().size()),
           "{} holds {} parameters, but the model it describes needs {}", checkpoint.path,
           checkpoint.parameters.size(), model->parameters().size());

  onnx::ModelProto proto;
  proto.set_ir_version(onnx::IR_VERSION);
  proto.set_producer_name("ringtrain");
  proto.set_producer_version(ringtrain_version());
  proto.set_doc_string(fmt::format("{} (step {})", checkpoint.path, checkpoint.state.step));
  onnx::OperatorSetIdProto* opset = proto.add_opset_import();
  opset->set_domain("");
  opset->set_version(kOpset);
  onnx::GraphProto& graph = *proto.mutable_graph();
  graph.set_name(d.kind);
  set_batch_type(graph.add_input(), "input", d.input.shape);
  GraphWriter g(graph);

  // Scaled as training read the samples; an MLP takes rows, a CNN images [batch, C, H, W].
  std::string current = g.apply("Mul", {"input", g.scalar("input_scale", static_cast<float>(d.input.scale))}, "input");
  if (d.kind == "cnn") {
    const std::vector<int64_t>& shape = d.input.shape;
    const int64_t channels = shape.size() == 3 ? shape[0] : 1;
    current = g.apply("Reshape", {current, g.int64s("image_shape", {-1, channels, shape[shape.size() - 2], shape.back()})},
                      "input");
  } else {
    add_int_attribute(g.node("Flatten", {current}, "rows"), "axis", 1);
    current = "rows";
  }
  // Each layer's parameters from its arena slots, in the order the layer lists them.
  const std::vector<ParameterSlot>& slots = model->slots();
  const auto parameters_of = [&](size_t layer, const std::string& base) {
    std::vector<std::string> names;
    for (const ParameterSlot& slot : slots) {
      if (slot.layer != static_cast<int64_t>(layer)) continue;
      names.push_back(g.constant(fmt::format("{}.{}", base, names.size()), slot.shape,
                                 checkpoint.parameters.data() + slot.offset, shape_elements(slot.shape)));
    }
    return names;
  };
  const auto& layers = model->layers();
  for (size_t l = 0; l < layers.size(); ++l) {
    const Layer& layer = *layers[l];
    const std::string name = layer.name();
    const std::string base = fmt::format("layer{}.{}", l, name);
    if (const auto* conv = dynamic_cast<const Conv2d*>(&layer)) {
      const kernels::ConvGeometry& geometry = conv->geometry();
      std::vector<std::string> p = parameters_of(l, base);
      RT_CHECK(p.size() == 2, "layer {} ({}) has no weight and bias", l, name);
      // The weight [out, C*k*k] is PyTorch's [out, C, k, k], flattened: the same numbers.
      const std::string weight =
          g.apply("Reshape", {p[0], g.int64s(base + ".weight_shape", {conv->out_channels(), geometry.channels,
                                                                      geometry.kernel, geometry.kernel})}, base);
      onnx::NodeProto* node = g.node("Conv", {current, weight, p[1]}, base + ".Conv");
      add_ints_attribute(node, "kernel_shape", {geometry.kernel, geometry.kernel});
      add_ints_attribute(node, "strides", {geometry.stride, geometry.stride});
      add_ints_attribute(node, "pads", {geometry.padding, geometry.padding, geometry.padding, geometry.padding});
      current = node->output(0);
    } else if (const auto* pool = dynamic_cast<const MaxPool2d*>(&layer)) {
      onnx::NodeProto* node = g.node("MaxPool", {current}, base + ".MaxPool");
      add_ints_attribute(node, "kernel_shape", {pool->window(), pool->window()});
      add_ints_attribute(node, "strides", {pool->window(), pool->window()});
      current = node->output(0);
    } else if (name == "flatten") {
      onnx::NodeProto* node = g.node("Flatten", {current}, base + ".Flatten");  // NCHW order, as ours
      add_int_attribute(node, "axis", 1);
      current = node->output(0);
    } else if (name.rfind("linear", 0) == 0) {
      std::vector<std::string> p = parameters_of(l, base);
      RT_CHECK(p.size() == 2, "layer {} ({}) has no weight and bias", l, name);
      onnx::NodeProto* gemm = g.node("Gemm", {current, p[0], p[1]}, base + ".Gemm");
      add_int_attribute(gemm, "transB", 1);  // y = x W^T + b, W stored [out, in]
      current = gemm->output(0);
    } else if (const auto* norm = dynamic_cast<const LayerNorm*>(&layer)) {
      std::vector<std::string> p = parameters_of(l, base);
      RT_CHECK(p.size() == 2, "layer {} ({}) has no gamma and beta", l, name);
      current = layer_norm(g, current, p[0], p[1], norm->eps(), base);
    } else if (name == "relu") {
      current = g.apply("Relu", {current}, base);
    } else if (name == "gelu") {
      current = gelu(g, current, base);
    } else if (name == "silu") {
      current = g.apply("Mul", {current, g.apply("Sigmoid", {current}, base)}, base);
    } else {
      RT_CHECK(name.rfind("dropout", 0) == 0, "{}: layer {} ({}) has no ONNX export", checkpoint.path, l, name);
    }
  }
  g.node("Identity", {current}, "logits");
  add_int_attribute(g.node("Softmax", {"logits"}, "probabilities"), "axis", 1);
  set_batch_type(graph.add_output(), "logits", {d.classes});
  set_batch_type(graph.add_output(), "probabilities", {d.classes});

  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  RT_CHECK(out.good() && proto.SerializeToOstream(&out), "cannot write {}", path);
  out.close();
  RT_CHECK(!out.fail(), "cannot write {} (a full disk?)", path);
}

}  // namespace rt
