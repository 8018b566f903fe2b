// `ringtrain export CHECKPOINT --format onnx --output model.onnx` (core/serving/onnx_export.h).
#include <memory>
#include <string>

#include "core/base/logging.h"
#include "core/cli/commands.h"
#include "core/serving/onnx_export.h"
#include "core/serving/predictor.h"

namespace rt {

namespace {
struct ExportArguments {
  std::string checkpoint;
  std::string format = "onnx";
  std::string output;
};
}  // namespace

CommandRunner add_export_command(CLI::App& app) {
  auto a = std::make_shared<ExportArguments>();
  CLI::App* command = app.add_subcommand("export", "Write a trained model in another format (ONNX)");
  command->add_option("checkpoint", a->checkpoint, "A checkpoint directory, or checkpoint.dir (its newest)")->required();
  command->add_option("--format", a->format, "The format")->capture_default_str()->check(CLI::IsMember({"onnx"}));
  command->add_option("--output", a->output, "The file to write")->required();
  return [command, a](Communicator& comm) {
    if (!command->parsed()) return -1;
    if (comm.rank() != 0) return 0;
    const Checkpoint checkpoint = load_checkpoint_at(a->checkpoint);
    export_onnx(checkpoint, a->output);
    log_info("wrote {} (ONNX) from {} (step {})", a->output, checkpoint.path, checkpoint.state.step);
    return 0;
  };
}

}  // namespace rt
