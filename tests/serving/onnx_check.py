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


def run(model, values):
    tensors = {t.name: numpy_helper.to_array(t).astype(np.float64) for t in model.graph.initializer}
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
