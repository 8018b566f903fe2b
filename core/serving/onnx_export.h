// `ringtrain export CHECKPOINT --format onnx`: the model as an ONNX graph (Debian's libonnx-dev
// protobuf definitions), so that ONNX Runtime, Triton or Azure ML's ONNX serving can run it too.
// The graph reads samples as the shards store them (float input "input" [batch, input shape],
// uint8 pixels as their values 0-255), scales them as training did, and gives "logits" and
// "probabilities" [batch, classes]: the same numbers `ringtrain serve` answers. Opset 13.
// Exported: the MLP (ReLU or GELU in its tanh form, layer norms composed of ReduceMean, Sub, Div
// and Sqrt: opset 13 has no LayerNormalization; dropout is the identity at inference) and the CNN
// (Conv, MaxPool, Relu, Flatten, Gemm). A gpt is refused with a message that says so.
#pragma once

#include <string>

#include "core/checkpoint.h"

namespace rt {

void export_onnx(const Checkpoint& checkpoint, const std::string& path);

}  // namespace rt
