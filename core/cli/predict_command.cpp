// `ringtrain predict CHECKPOINT --input DIR_OR_FILE --output FILE`: batch scoring
// (core/serving/prediction.h); under mpirun each rank scores its share and rank 0 writes one file.
#include <memory>
#include <string>

#include "core/base/logging.h"
#include "core/cli/commands.h"
#include "core/serving/prediction.h"

namespace rt {

namespace {
struct PredictArguments {
  std::string checkpoint;
  PredictOptions options;
  ScoringOptions scoring;
};
}  // namespace

CommandRunner add_predict_command(CLI::App& app) {
  auto a = std::make_shared<PredictArguments>();
  CLI::App* command =
      app.add_subcommand("predict", "Score a data set with a trained model (or continue a gpt's prompts), in input "
                                    "order, into one CSV, JSON-lines or HDF5 file");
  command->add_option("checkpoint", a->checkpoint, "A checkpoint directory, or checkpoint.dir (its newest)")->required();
  command->add_option("--input", a->options.input, "A directory of shards, a .jsonl file (a row of numbers per line), a .npy array or an IDX file; a gpt: a "
                      "text file of prompts (one per line) or .jsonl")
      ->required();
  command->add_option("--output", a->options.output, "A .csv, .jsonl or .h5 file")->required();
  command->add_option("--top-k", a->options.top_k,
                      "Write the k most probable classes (0: every class's probability); a gpt: draw among the k "
                      "most likely tokens (0: all)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  command->add_option("--tokens", a->options.tokens, "A gpt: tokens (bytes) to generate per prompt")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 20));
  command->add_option("--temperature", a->options.temperature, "A gpt: sampling temperature (0: the most likely token)")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 100.0));
  command->add_option("--seed", a->options.seed, "A gpt: the seed of prompt 0's draws (prompt r: seed + r)")
      ->capture_default_str();
  add_scoring_options(command, a->scoring);
  return [command, a](Communicator& comm) {
    if (!command->parsed()) return -1;
    use_scoring_threads(a->scoring);
    a->options.batch = a->scoring.batch;
    std::unique_ptr<Predictor> predictor = Predictor::load(a->checkpoint, a->options.batch);
    const PredictSummary summary = predict(*predictor, a->options, comm);
    log_info("scored {} rows of {} in {:.2f} s ({:.0f} rows/s) into {}", summary.rows, a->options.input,
             summary.seconds, static_cast<double>(summary.rows) / summary.seconds, a->options.output);
    return 0;
  };
}

}  // namespace rt
