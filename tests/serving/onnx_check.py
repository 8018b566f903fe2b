"""Checks an exported ONNX model (onnx.checker) and runs it on rows, independently of ringtrain: a
small NumPy evaluator of the operators the export writes, as the ONNX specification defines them.
    python3 onnx_check.py MODEL.onnx ROWS.json   ->   {"logits": [...], "probabilities": [...]} on stdout
ROWS.json: {"data": [[...], ...]}, samples as stored (the graph scales them)."""
import json
import sys

import numpy as np
import onnx
from onnx import numpy_helper


def attribute(node, name, default):
    for a in node.attribute:
        if a.name == name:
            return onnx.helper.get_attribute_value(a)
    return default


def conv(x, w, b, strides, pads):
    """NCHW convolution, as ONNX's Conv defines it (no groups, no dilation)."""
    x = np.pad(x, ((0, 0), (0, 0), (pads[0], pads[2]), (pads[1], pads[3])))
    k_h, k_w = w.shape[2], w.shape[3]
    out_h = (x.shape[2] - k_h) // strides[0] + 1
    out_w = (x.shape[3] - k_w) // strides[1] + 1
    y = np.zeros((x.shape[0], w.shape[0], out_h, out_w))
    for i in range(k_h):
        for j in range(k_w):
            patch = x[:, :, i:i + strides[0] * out_h:strides[0], j:j + strides[1] * out_w:strides[1]]
            y += np.einsum("nchw,oc->nohw", patch, w[:, :, i, j])
    return y + b.reshape(1, -1, 1, 1)


def max_pool(x, kernel, strides):
    """MaxPool without padding: a partial window at the edge is dropped."""
    out_h = (x.shape[2] - kernel[0]) // strides[0] + 1
    out_w = (x.shape[3] - kernel[1]) // strides[1] + 1
    y = np.full((x.shape[0], x.shape[1], out_h, out_w), -np.inf)
    for i in range(kernel[0]):
        for j in range(kernel[1]):
            y = np.maximum(y, x[:, :, i:i + strides[0] * out_h:strides[0], j:j + strides[1] * out_w:strides[1]])
    return y


def run(model, values):
    tensors = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    tensors = {name: value if value.dtype == np.int64 else value.astype(np.float64) for name, value in tensors.items()}
    tensors[model.graph.input[0].name] = values
    for node in model.graph.node:
        x = [tensors[name] for name in node.input]
        if node.op_type == "Mul":
            y = x[0] * x[1]
        elif node.op_type == "Flatten":
            axis = attribute(node, "axis", 1)
            y = x[0].reshape(int(np.prod(x[0].shape[:axis])), -1)
        elif node.op_type == "Gemm":
            a = x[0].T if attribute(node, "transA", 0) else x[0]
            b = x[1].T if attribute(node, "transB", 0) else x[1]
            y = attribute(node, "alpha", 1.0) * (a @ b) + attribute(node, "beta", 1.0) * x[2]
        elif node.op_type == "Reshape":
            y = x[0].reshape([int(d) for d in x[1]])
        elif node.op_type == "Conv":
            y = conv(x[0], x[1], x[2], attribute(node, "strides", [1, 1]), attribute(node, "pads", [0, 0, 0, 0]))
        elif node.op_type == "MaxPool":
            y = max_pool(x[0], attribute(node, "kernel_shape", None), attribute(node, "strides", [1, 1]))
        elif node.op_type in ("Add", "Sub", "Div"):
            y = {"Add": np.add, "Sub": np.subtract, "Div": np.divide}[node.op_type](x[0], x[1])
        elif node.op_type in ("Tanh", "Sqrt"):
            y = {"Tanh": np.tanh, "Sqrt": np.sqrt}[node.op_type](x[0])
        elif node.op_type == "Sigmoid":
            y = 1.0 / (1.0 + np.exp(-x[0]))
        elif node.op_type == "ReduceMean":
            y = x[0].mean(axis=tuple(attribute(node, "axes", None)), keepdims=bool(attribute(node, "keepdims", 1)))
        elif node.op_type == "Relu":
            y = np.maximum(x[0], 0)
        elif node.op_type == "Identity":
            y = x[0]
        elif node.op_type == "Softmax":
            axis = attribute(node, "axis", -1)
            e = np.exp(x[0] - x[0].max(axis=axis, keepdims=True))
            y = e / e.sum(axis=axis, keepdims=True)
        else:
            raise SystemExit(f"no evaluator for {node.op_type}")
        tensors[node.output[0]] = y
    return {output.name: tensors[output.name] for output in model.graph.output}


model = onnx.load(sys.argv[1])
onnx.checker.check_model(model, full_check=True)
rows = np.array(json.load(open(sys.argv[2]))["data"], dtype=np.float64)
shape = [d.dim_value for d in model.graph.input[0].type.tensor_type.shape.dim[1:]]
outputs = run(model, rows.reshape([len(rows)] + shape))
print(json.dumps({name: value.tolist() for name, value in outputs.items()}))
