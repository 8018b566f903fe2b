// A model of our own, "swish_mlp": Linear, Swish, ..., Linear. Its [model] keys:
//   hidden = [256, 128]   the hidden widths
#pragma once

#include <memory>

#include <ringtrain/ringtrain.h>

std::unique_ptr<rt::Model> build_swish_mlp(rt::ModelSpec& spec);
