// The `ringtrain` command line (train, evaluate, predict, serve, ...), as a function, so that a
// program that registers models or optimizers of its own (model_registry.h) offers every command
// with them:
//
//   int main(int argc, char** argv) {
//     rt::register_model("my_model", build_my_model);
//     return rt::ringtrain_main(argc, argv);
//   }
//
// It returns the process's exit code and throws nothing: any error is printed with this rank's
// identity and, in a job of several ranks, ends the whole MPI job, so that no rank is left waiting
// in a collective for one that failed. Call it once per process (it starts and ends MPI).
#pragma once

namespace rt {

int ringtrain_main(int argc, char** argv);

}  // namespace rt
