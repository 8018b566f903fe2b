// The whole `ringtrain` command line (train, evaluate, predict, serve, ...) with one more model:
// `model.kind = "swish_mlp"` in a configuration (swish.toml).
#include <ringtrain/ringtrain.h>

#include "swish_mlp.h"

int main(int argc, char** argv) {
  rt::register_model("swish_mlp", build_swish_mlp);
  return rt::ringtrain_main(argc, argv);
}
