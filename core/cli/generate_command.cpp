// `ringtrain generate CHECKPOINT --prompt TEXT --tokens N`: text from a trained gpt. CHECKPOINT
// is a checkpoint directory (step-NNNNNNNNN) or checkpoint.dir (its newest checkpoint that
// verifies); the model's shape comes from the checkpoint itself. Tokens are bytes (the
// vocabulary of `ringtrain shard --text`); the prompt and what follows it go to standard output.
#include <iostream>
#include <string>

#include "core/base/logging.h"
#include "core/checkpoint.h"
#include "core/cli/commands.h"
#include "core/generation.h"
#include "core/models.h"
#include "core/serving/predictor.h"

namespace rt {

namespace {
struct GenerateArguments {
  std::string checkpoint;
  std::string prompt;
  int64_t tokens = 200;
  float temperature = 0.8f;
  int64_t top_k = 40;
  uint64_t seed = 1;
};
}  // namespace

CommandRunner add_generate_command(CLI::App& app) {
  auto a = std::make_shared<GenerateArguments>();
  CLI::App* command = app.add_subcommand("generate", "Sample text from a trained gpt's checkpoint");
  command->add_option("checkpoint", a->checkpoint, "A checkpoint directory, or checkpoint.dir (its newest)")->required();
  command->add_option("--prompt", a->prompt, "The text to continue")->required();
  command->add_option("--tokens", a->tokens, "Tokens (bytes) to generate")->capture_default_str()->check(
      CLI::Range(int64_t{0}, int64_t{1} << 20));
  command->add_option("--temperature", a->temperature, "Sampling temperature; 0: always the most likely token")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 100.0));
  command->add_option("--top-k", a->top_k, "Draw among the k most likely tokens (0: all)")->capture_default_str()->check(
      CLI::NonNegativeNumber);
  command->add_option("--seed", a->seed, "Random seed of the draws")->capture_default_str();

  return [command, a](Communicator& comm) {
    if (!command->parsed()) return -1;
    if (comm.rank() != 0) return 0;
    Checkpoint checkpoint = load_checkpoint_at(a->checkpoint);
    const GptOptions options = parse_gpt_description(checkpoint.state.model, checkpoint.path);
    std::unique_ptr<Model> model = build_gpt(options);
    RT_CHECK(static_cast<int64_t>(checkpoint.parameters.size()) == static_cast<int64_t>(model->parameters().size()),
             "{} holds {} parameters, but its model description ({}) needs {}", checkpoint.path,
             checkpoint.parameters.size(), checkpoint.state.model, model->parameters().size());
    std::copy(checkpoint.parameters.begin(), checkpoint.parameters.end(), model->parameters().begin());
    std::vector<int64_t> prompt(a->prompt.begin(), a->prompt.end());
    for (int64_t& token : prompt) token = static_cast<unsigned char>(token);
    log_info("{}: a gpt of {} layers, width {}, context {}, from step {}", checkpoint.path, options.layers,
             options.width, options.context, checkpoint.state.step);
    std::vector<int64_t> text = generate_tokens(*model, options.context, prompt, a->tokens,
                                                SamplingOptions{a->temperature, a->top_k, a->seed});
    std::string out(text.size(), '\0');
    for (size_t i = 0; i < text.size(); ++i) out[i] = static_cast<char>(text[i]);
    std::cout << out << std::endl;
    return 0;
  };
}

}  // namespace rt
