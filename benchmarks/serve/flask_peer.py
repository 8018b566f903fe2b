"""The peer of benchmarks/serve: what a data scientist deploys today, the same weights in PyTorch
behind Flask, run by gunicorn (Azure ML's inference server is Flask under gunicorn), with the same
scoring contract: POST /score {"data": [[...], ...]} -> {"predictions": [...], "probabilities": [...]}.

    RINGTRAIN_CHECKPOINT=runs/x/step-N gunicorn -w 2 -b 127.0.0.1:8081 flask_peer:app

The MLP's parameters are read from the checkpoint's arena (parameters.f32): the last layer's
first, each tensor on a 64-byte boundary, weights [out, in], as core/model.cpp lays them out.
"""
import json
import os

import numpy as np
import torch
from flask import Flask, jsonify, request

torch.set_num_threads(int(os.environ.get("PEER_THREADS", "1")))
checkpoint = os.environ["RINGTRAIN_CHECKPOINT"]
state = json.load(open(os.path.join(checkpoint, "state.json")))
model_description = json.loads(state["model"])
assert model_description["kind"] == "mlp", "the peer serves the MLP"
arena = np.fromfile(os.path.join(checkpoint, "parameters.f32"), dtype="<f4")
inputs = int(np.prod(model_description["input"]["shape"]))
widths = [inputs] + model_description["mlp"]["hidden"] + [model_description["classes"]]
scale = model_description["input"]["scale"]


def align(n):
    return (n + 15) // 16 * 16


offset = 0
tensors = {}
for layer in reversed(range(len(widths) - 1)):  # the last layer's parameters first
    fan_in, fan_out = widths[layer], widths[layer + 1]
    tensors[(layer, "weight")] = arena[offset:offset + fan_out * fan_in].reshape(fan_out, fan_in)
    offset = align(offset + fan_out * fan_in)
    tensors[(layer, "bias")] = arena[offset:offset + fan_out]
    offset = align(offset + fan_out)

layers = []
for layer in range(len(widths) - 1):
    linear = torch.nn.Linear(widths[layer], widths[layer + 1])
    linear.weight.data = torch.from_numpy(tensors[(layer, "weight")].copy())
    linear.bias.data = torch.from_numpy(tensors[(layer, "bias")].copy())
    layers.append(linear)
    if layer < len(widths) - 2:
        layers.append(torch.nn.ReLU())
model = torch.nn.Sequential(*layers).eval()

app = Flask(__name__)


@app.get("/")
def alive():
    return "Healthy"


@app.post("/score")
def score():
    rows = torch.tensor(request.get_json()["data"], dtype=torch.float32).reshape(-1, inputs) * scale
    with torch.no_grad():
        probabilities = torch.softmax(model(rows), dim=1)
    return jsonify(predictions=probabilities.argmax(dim=1).tolist(), probabilities=probabilities.tolist())
