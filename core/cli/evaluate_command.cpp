// `ringtrain evaluate CHECKPOINT --data DIR [--json]`: a trained model measured on labelled shards
// (core/serving/evaluation.h); under mpirun the ranks split the samples and rank 0 prints.
#include <iostream>
#include <memory>
#include <string>

#include "core/base/logging.h"
#include "core/cli/commands.h"
#include "core/serving/evaluation.h"

namespace rt {

namespace {
struct EvaluateArguments {
  std::string checkpoint;
  std::string data;
  bool json = false;
  ScoringOptions scoring;
};
}  // namespace

CommandRunner add_evaluate_command(CLI::App& app) {
  auto a = std::make_shared<EvaluateArguments>();
  CLI::App* command = app.add_subcommand("evaluate", "Measure a trained model on labelled shards (loss, accuracy, "
                                                     "per-class precision and recall, confusion matrix)");
  command->add_option("checkpoint", a->checkpoint, "A checkpoint directory, or checkpoint.dir (its newest)")->required();
  command->add_option("--data", a->data, "A directory of shards")->required();
  command->add_flag("--json", a->json, "Print the result as JSON");
  add_scoring_options(command, a->scoring);
  return [command, a](Communicator& comm) {
    if (!command->parsed()) return -1;
    use_scoring_threads(a->scoring);
    std::unique_ptr<Predictor> predictor = Predictor::load(a->checkpoint, a->scoring.batch);
    const Evaluation evaluation = evaluate(*predictor, a->data, comm, a->scoring.batch);
    if (comm.rank() == 0) {
      if (a->json) {
        std::cout << evaluation_json(evaluation, predictor->description()) << std::endl;
      } else {
        std::cout << predictor->checkpoint_path() << " (step " << predictor->step() << ") on " << a->data << ":\n"
                  << evaluation_table(evaluation, predictor->description()) << std::flush;
      }
    }
    return 0;
  };
}

}  // namespace rt
