// ringtrain's public API in one include, installed as <ringtrain/ringtrain.h> (docs/library.md).
//
// Models:      Layer (layer.h) and the layers of core/layers/, Model (a sequence of layers over
//              flat parameter and gradient arenas), Residual blocks, the built-in builders
//              (models.h), and register_model() for a model of your own (model_registry.h).
// Optimizers:  Optimizer, Sgd, AdamW, and register_optimizer() (optimizer_registry.h).
// Training:    TrainConfig and read_train_config() from a Config (TOML), Trainer.
// Ranks:       Communicator (all-reduce, broadcast, ...) and make_world_communicator().
// Data:        write_shard() and ShardInfo (the shard format), ShardIndex and Loader.
// Programs:    ringtrain_main(), the whole `ringtrain` command line with your models in it.
#pragma once

#include "comm/communicator.h"
#include "core/adamw.h"
#include "core/base/config.h"
#include "core/cli/ringtrain_main.h"
#include "core/layer.h"
#include "core/layers/conv2d.h"
#include "core/layers/dropout.h"
#include "core/layers/flatten.h"
#include "core/layers/gelu.h"
#include "core/layers/layer_norm.h"
#include "core/layers/linear.h"
#include "core/layers/max_pool2d.h"
#include "core/layers/relu.h"
#include "core/layers/residual.h"
#include "core/model.h"
#include "core/model_registry.h"
#include "core/models.h"
#include "core/optimizer.h"
#include "core/optimizer_registry.h"
#include "core/sgd.h"
#include "core/tensor.h"
#include "core/train_config.h"
#include "core/trainer.h"
#include "data/loader.h"
#include "data/shard_index.h"
#include "data/shard_writer.h"
