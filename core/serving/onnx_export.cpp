#include "core/serving/onnx_export.h"

#include <fstream>
#include <onnx/onnx_pb.h>

#include "core/base/check.h"
#include "core/model_description.h"

namespace rt {

namespace {
constexpr int64_t kOpset = 13;

void add_float_initializer(onnx::GraphProto& graph, const std::string& name, const std::vector<int64_t>& dims,
                           const float* values, int64_t count) {
  onnx::TensorProto* tensor = graph.add_initializer();
  tensor->set_name(name);
  tensor->set_data_type(onnx::TensorProto::FLOAT);
  for (int64_t d : dims) tensor->add_dims(d);
  tensor->mutable_float_data()->Add(values, values + count);
}

onnx::NodeProto* add_node(onnx::GraphProto& graph, const std::string& op, const std::vector<std::string>& inputs,
                          const std::string& output) {
  onnx::NodeProto* node = graph.add_node();
  node->set_op_type(op);
  node->set_name(output);
  for (const std::string& input : inputs) node->add_input(input);
  node->add_output(output);
  return node;
}

void add_int_attribute(onnx::NodeProto* node, const std::string& name, int64_t value) {
  onnx::AttributeProto* attribute = node->add_attribute();
  attribute->set_name(name);
  attribute->set_type(onnx::AttributeProto::INT);
  attribute->set_i(value);
}

// A float tensor's type with a symbolic batch dimension first.
void set_batch_type(onnx::ValueInfoProto* value, const std::string& name, const std::vector<int64_t>& shape) {
  value->set_name(name);
  onnx::TypeProto_Tensor* tensor = value->mutable_type()->mutable_tensor_type();
  tensor->set_elem_type(onnx::TensorProto::FLOAT);
  tensor->mutable_shape()->add_dim()->set_dim_param("batch");
  for (int64_t extent : shape) tensor->mutable_shape()->add_dim()->set_dim_value(extent);
}
}  // namespace

void export_onnx(const Checkpoint& checkpoint, const std::string& path) {
  const ModelDescription d = parse_model_description(checkpoint.state.model, checkpoint.path);
  RT_CHECK(d.kind == "mlp" && d.mlp.activation == "relu" && !d.mlp.layer_norm,
           "{} holds a {}{}: ONNX export covers the MLP with ReLU activations so far", checkpoint.path, d.kind,
           d.kind == "mlp" ? fmt::format(" with {}{}", d.mlp.activation, d.mlp.layer_norm ? " and layer norms" : "")
                           : "");
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

  // Scaled as training read the samples, flattened to rows.
  const float scale = static_cast<float>(d.input.scale);
  add_float_initializer(graph, "input_scale", {}, &scale, 1);
  add_node(graph, "Mul", {"input", "input_scale"}, "scaled");
  add_int_attribute(add_node(graph, "Flatten", {"scaled"}, "rows"), "axis", 1);
  std::string current = "rows";
  // The layers in order; each Linear's weight [out, in] and bias from its arena slots.
  const std::vector<ParameterSlot>& slots = model->slots();
  const auto& layers = model->layers();
  int linear = 0;
  for (size_t l = 0; l < layers.size(); ++l) {
    const std::string name = layers[l]->name();
    if (name.rfind("linear", 0) == 0) {
      const ParameterSlot* weight = nullptr;
      const ParameterSlot* bias = nullptr;
      for (const ParameterSlot& slot : slots) {
        if (slot.layer != static_cast<int64_t>(l)) continue;
        (slot.shape.size() == 2 ? weight : bias) = &slot;
      }
      RT_CHECK(weight && bias, "layer {} ({}) has no weight and bias", l, name);
      const std::string prefix = fmt::format("linear{}", linear++);
      add_float_initializer(graph, prefix + ".weight", weight->shape, checkpoint.parameters.data() + weight->offset,
                            shape_elements(weight->shape));
      add_float_initializer(graph, prefix + ".bias", bias->shape, checkpoint.parameters.data() + bias->offset,
                            shape_elements(bias->shape));
      onnx::NodeProto* gemm = add_node(graph, "Gemm", {current, prefix + ".weight", prefix + ".bias"}, prefix);
      add_int_attribute(gemm, "transB", 1);  // y = x W^T + b, W stored [out, in]
      current = prefix;
    } else if (name == "relu") {
      current = add_node(graph, "Relu", {current}, current + ".relu")->output(0);
    } else {
      RT_CHECK(name.rfind("dropout", 0) == 0, "{}: layer {} ({}) has no ONNX export", checkpoint.path, l, name);
    }
  }
  add_node(graph, "Identity", {current}, "logits");
  add_int_attribute(add_node(graph, "Softmax", {"logits"}, "probabilities"), "axis", 1);
  set_batch_type(graph.add_output(), "logits", {d.classes});
  set_batch_type(graph.add_output(), "probabilities", {d.classes});

  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  RT_CHECK(out.good() && proto.SerializeToOstream(&out), "cannot write {}", path);
  out.close();
  RT_CHECK(!out.fail(), "cannot write {} (a full disk?)", path);
}

}  // namespace rt
