// `ringtrain serve CHECKPOINT`: the trained model as an HTTP service (core/serving/scoring_server.h
// lists the routes). SIGTERM or SIGINT (what Kubernetes, ACI and Azure ML send on a stop): the
// readiness routes turn to 503, requests under way are answered, and the server exits 0.
#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>

#include "core/base/environment.h"
#include "core/base/logging.h"
#include "core/base/termination.h"
#include "core/cli/commands.h"
#include "core/serving/checkpoint_watcher.h"
#include "core/serving/model_slot.h"
#include "core/serving/predictor.h"
#include "core/serving/scoring_server.h"
#include "kernels/kernels.h"

namespace rt {

namespace {
struct ServeArguments {
  std::string checkpoint;
  std::string device = "cpu";
  int threads = 0;
  double max_body_mb = 16;
  double drain_seconds = 0;
  bool watch = false;
  double watch_seconds = 10;
  ServeOptions options;
};
}  // namespace

CommandRunner add_serve_command(CLI::App& app) {
  auto a = std::make_shared<ServeArguments>();
  CLI::App* command = app.add_subcommand("serve", "Serve a trained model over HTTP (Azure ML and KServe v2 routes)");
  command->add_option("checkpoint", a->checkpoint, "A checkpoint directory, or checkpoint.dir (its newest)")->required();
  command->add_flag("--watch", a->watch,
                    "CHECKPOINT is a checkpoint.dir (of a job that may still be training): serve its newest "
                    "checkpoint, swapping to each newer one as it is committed");
  command->add_option("--watch-seconds", a->watch_seconds, "How often --watch looks for a newer checkpoint")
      ->capture_default_str()
      ->check(CLI::Range(0.01, 86400.0));
  command->add_option("--host", a->options.host, "Address to listen on")->capture_default_str();
  command->add_option("--port", a->options.port, "Port to listen on (0: any free port)")
      ->capture_default_str()
      ->check(CLI::Range(0, 65535));
  command->add_option("--device", a->device, "Where the model runs")->capture_default_str()->check(
      CLI::IsMember({"cpu"}));
  command->add_option("--threads", a->threads, "CPU threads of the forward pass (0: the cores available)")
      ->capture_default_str()
      ->check(CLI::Range(0, 1024));
  command->add_option("--max-batch", a->options.max_batch, "Most rows gathered into one forward pass")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 20));
  command->add_option("--max-delay-us", a->options.max_delay_us,
                      "Longest a request waits for others to share its forward pass (microseconds)")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{0}, int64_t{10'000'000}));
  command->add_option("--model-name", a->options.model_name, "The model's name in the /v2/models/NAME routes")
      ->capture_default_str();
  command->add_option("--max-body-mb", a->max_body_mb, "Largest request body accepted (MiB)")
      ->capture_default_str()
      ->check(CLI::Range(0.001, 4096.0));
  command->add_option("--http-threads", a->options.http_threads, "Connections served at once")
      ->capture_default_str()
      ->check(CLI::Range(1, 65536));
  command->add_option("--read-timeout-seconds", a->options.read_timeout_seconds,
                      "A request whose body has not come in full after this long is cut off")
      ->capture_default_str()
      ->check(CLI::Range(0.001, 3600.0));
  command->add_option("--drain-seconds", a->drain_seconds,
                      "After SIGTERM, keep answering (not ready) this long before stopping, while the platform "
                      "stops sending traffic")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 3600.0));

  return [command, a](Communicator& comm) {
    if (!command->parsed()) return -1;
    RT_CHECK(comm.size() == 1, "`ringtrain serve` runs as one process, not under mpirun ({} ranks)", comm.size());
    install_termination_handler();
    a->options.max_body_bytes = static_cast<int64_t>(a->max_body_mb * 1024 * 1024);
    kernels::set_cpu_threads(a->threads > 0 ? a->threads : default_thread_count(detect_placement()));
    RT_CHECK(!a->watch || !std::filesystem::exists(a->checkpoint + "/manifest.json"),
             "--watch {}: give the checkpoint.dir that holds the checkpoints, not one checkpoint", a->checkpoint);
    std::shared_ptr<Predictor> predictor = Predictor::load(a->checkpoint, a->options.max_batch);
    const ModelDescription& model = predictor->description();
    ModelSlot models(predictor);
    ScoringServer server(models, a->options);
    server.bind();
    log_info("serving the {} of {} (step {}, input {} {}, {} classes) as '{}' on http://{}:{}", model.kind,
             predictor->checkpoint_path(), predictor->step(), shape_text(model.input.shape),
             dtype_name(model.input.dtype), model.classes, a->options.model_name, a->options.host, server.port());
    std::unique_ptr<CheckpointWatcher> watcher;
    if (a->watch) {
      log_info("watching {} for newer checkpoints every {} s", a->checkpoint, a->watch_seconds);
      watcher = std::make_unique<CheckpointWatcher>(models, a->checkpoint, a->watch_seconds);
    }
    std::thread serving([&server] { server.serve(); });
    while (!server.running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));  // stop() needs it running
    while (!termination_requested()) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    log_info("signal {}: not ready; answering the requests under way, then stopping", termination_signal());
    server.set_ready(false);
    if (a->drain_seconds > 0) std::this_thread::sleep_for(std::chrono::duration<double>(a->drain_seconds));
    watcher.reset();
    server.stop();
    serving.join();
    log_info("stopped");
    return 0;
  };
}

}  // namespace rt
