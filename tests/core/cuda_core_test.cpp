// The model, optimizer, batch pipeline and trainer on the GPU against the same on the CPU, and
// the GPU's gradients against finite differences. Skips, saying why, where there is no GPU.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "comm/communicator.h"
#include "core/base/random.h"
#include "core/device_batches.h"
#include "core/models.h"
#include "core/adamw.h"
#include "core/sgd.h"
#include "core/trainer.h"
#include "kernels/cuda/cuda_kernels.h"
#include "kernels/cuda/device_buffer.h"
#include "kernels/kernels.h"
#include "tests/test_support.h"

namespace rt {
namespace {

namespace cuda = kernels::cuda;

class CudaCoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (cuda::device_count() == 0) GTEST_SKIP() << "no CUDA device visible (or no CUDA in this build)";
    cuda::set_tf32(false);
    kernels::set_cpu_threads(1);
  }
  std::vector<float> random(size_t count) {
    std::vector<float> values(count);
    for (float& v : values) v = rng_.uniform(-1.0f, 1.0f);
    return values;
  }
  static std::vector<float> to_host(Span<float> values, Device device) {
    std::vector<float> host(values.size());
    download(device, values.data(), host.data(), values.size() * sizeof(float));
    return host;
  }
  static void expect_close(const std::vector<float>& gpu, const std::vector<float>& cpu, double tolerance) {
    ASSERT_EQ(gpu.size(), cpu.size());
    for (size_t i = 0; i < gpu.size(); ++i) {
      ASSERT_TRUE(std::isfinite(gpu[i])) << "element " << i;
      ASSERT_LE(std::abs(gpu[i] - cpu[i]), tolerance * std::max(1.0f, std::abs(cpu[i]))) << "element " << i;
    }
  }
  Rng rng_{23};
};

// One forward, loss and backward of a fresh MLP on `device`; returns logits and the gradient arena.
struct StepResult {
  std::vector<float> logits;
  std::vector<float> gradients;
  double loss = 0;
};
StepResult model_step(Device device, const std::vector<float>& input, const std::vector<int32_t>& labels,
                      int64_t rows, int64_t features, const std::vector<int64_t>& hidden, int64_t classes,
                      const std::vector<int64_t>& image = {}) {
  auto model = image.empty() ? build_mlp(features, hidden, classes, device)
                             : build_cnn(image, {6, 8}, hidden, classes, device);
  model->initialize(5);
  Tensor x = Tensor::zeros({rows, features}, DType::kFloat32, device);
  upload(device, input.data(), x.data<float>(), input.size() * sizeof(float));
  Tensor y = Tensor::zeros({rows}, DType::kInt32, device);
  upload(device, labels.data(), y.data<int32_t>(), labels.size() * sizeof(int32_t));
  Tensor grad = Tensor::zeros({rows, classes}, DType::kFloat32, device);
  Tensor loss = Tensor::zeros({1}, DType::kFloat64, device);
  const Tensor& logits = model->forward(x);
  kernels::softmax_cross_entropy(device, logits.data<float>(), y.data<int32_t>(), rows, classes, 1.0f / rows,
                                 grad.data<float>(), loss.data<double>());
  model->backward(grad);
  StepResult result;
  result.logits.resize(static_cast<size_t>(rows * classes));
  download(device, logits.data<float>(), result.logits.data(), result.logits.size() * sizeof(float));
  Span<float> gradients = model->gradients();
  result.gradients.resize(gradients.size());
  download(device, gradients.data(), result.gradients.data(), gradients.size() * sizeof(float));
  download(device, loss.data<double>(), &result.loss, sizeof(double));
  return result;
}

TEST_F(CudaCoreTest, ModelForwardAndBackwardOnTheGpuMatchTheCpu) {
  const int64_t rows = 70, features = 50, classes = 10;
  const std::vector<int64_t> hidden = {64, 33};
  std::vector<float> input = random(static_cast<size_t>(rows * features));
  std::vector<int32_t> labels(static_cast<size_t>(rows));
  for (int64_t r = 0; r < rows; ++r) labels[static_cast<size_t>(r)] = static_cast<int32_t>((r * 7) % classes);
  StepResult cpu = model_step(Device::kCpu, input, labels, rows, features, hidden, classes);
  StepResult gpu = model_step(Device::kCuda, input, labels, rows, features, hidden, classes);
  expect_close(gpu.logits, cpu.logits, 1e-5);
  expect_close(gpu.gradients, cpu.gradients, 1e-5);
  EXPECT_NEAR(gpu.loss, cpu.loss, 1e-5 * cpu.loss);
}

TEST_F(CudaCoreTest, CnnForwardAndBackwardOnTheGpuMatchTheCpu) {
  const int64_t rows = 9, classes = 10;
  const std::vector<int64_t> image = {2, 12, 10};
  const int64_t features = 2 * 12 * 10;
  std::vector<float> input = random(static_cast<size_t>(rows * features));
  std::vector<int32_t> labels(static_cast<size_t>(rows));
  for (int64_t r = 0; r < rows; ++r) labels[static_cast<size_t>(r)] = static_cast<int32_t>((r * 3) % classes);
  StepResult cpu = model_step(Device::kCpu, input, labels, rows, features, {16}, classes, image);
  StepResult gpu = model_step(Device::kCuda, input, labels, rows, features, {16}, classes, image);
  expect_close(gpu.logits, cpu.logits, 1e-5);
  expect_close(gpu.gradients, cpu.gradients, 1e-4);
  EXPECT_NEAR(gpu.loss, cpu.loss, 1e-5 * cpu.loss);
}

// A tiny GPT's next-token loss and AdamW steps on the GPU (fused and plain attention) track the
// CPU's over a few steps; with bf16 matrix products the losses stay within 2% of fp32's, and so
// with the tensor-core attention too (bf16 products everywhere; compute capability 8.0 on). There,
// layer norms, GELUs and the loss that store their outputs (the loss: its gradient) in bf16 train
// bitwise the same model as those whose fp32 outputs the products round; and the bf16 activations
// (the MLPs' hidden ones, q/k/v and the tensor-core attention's output), which round what fp32
// would not, stay within 2% of the CPU's fp32 losses and differ from the run without them.
TEST_F(CudaCoreTest, ATinyGptTrainsOnTheGpuAsOnTheCpu) {
  GptOptions o;
  o.vocab = 50;
  o.context = 70;  // not a multiple of the fused kernels' tile
  o.layers = 2;
  o.heads = 2;
  o.width = 64;
  const int64_t rows = 3, steps = 5;
  std::vector<float> windows(static_cast<size_t>(rows * (o.context + 1)));
  for (float& t : windows) t = static_cast<float>(rng_.below(static_cast<uint64_t>(o.vocab)));
  auto train = [&](Device device, kernels::AttentionAlgorithm attention, std::vector<double>& losses,
                   cuda::MatmulPrecision precision = cuda::MatmulPrecision::kFp32, bool bf16_outputs = false,
                   bool bf16_activations = false) {
    if (device == Device::kCuda) cuda::set_matmul_precision(precision);
    GptOptions options = o;
    options.attention = attention;
    options.bf16_product_inputs = bf16_outputs;
    options.bf16_activations = bf16_activations;
    auto model = build_gpt(options, device);
    model->initialize(3);
    AdamW optimizer(model->parameters(), model->gradients(), AdamWOptions{3e-3f, 0.9f, 0.95f, 1e-8f, 0.1f}, device);
    Tensor input = Tensor::zeros({rows, o.context + 1}, DType::kFloat32, device);
    upload(device, windows.data(), input.data<float>(), windows.size() * sizeof(float));
    Tensor targets = Tensor::zeros({rows * o.context}, DType::kInt32, device);
    Tensor loss = Tensor::zeros({1}, DType::kFloat64, device);
    ActivationBuffer bf16_dlogits;
    for (int64_t step = 1; step <= steps; ++step) {
      const Tensor& logits = model->forward(input);
      kernels::next_token_targets(device, input.data<float>(), rows, o.context, targets.data<int32_t>());
      const double zero = 0;
      upload(device, &zero, loss.data<double>(), sizeof zero);
      // As the trainer: with bf16 outputs, the logits' gradient in bf16 too.
      model->backward(gpt_cross_entropy(bf16_outputs, device, logits, targets.data<int32_t>(),
                                        1.0f / static_cast<float>(rows * o.context), bf16_dlogits,
                                        loss.data<double>()));
      optimizer.step(step);
      double value = 0;
      download(device, loss.data<double>(), &value, sizeof value);
      losses.push_back(value / static_cast<double>(rows * o.context));
    }
    cuda::set_matmul_precision(cuda::MatmulPrecision::kFp32);
    return to_host(model->parameters(), device);
  };
  std::vector<double> cpu_losses, fused_losses, plain_losses, bf16_losses;
  std::vector<float> cpu = train(Device::kCpu, kernels::AttentionAlgorithm::kPlain, cpu_losses);
  std::vector<float> fused = train(Device::kCuda, kernels::AttentionAlgorithm::kFused, fused_losses);
  std::vector<float> plain = train(Device::kCuda, kernels::AttentionAlgorithm::kPlain, plain_losses);
  std::vector<float> bf16 = train(Device::kCuda, kernels::AttentionAlgorithm::kFused, bf16_losses,
                                  cuda::MatmulPrecision::kBf16);
  EXPECT_NE(bf16, fused) << "bf16 products were asked for, but training is bitwise the fp32 one";
  if (cuda::compute_capability_major() >= 8) {
    std::vector<double> tensor_core_losses, stored_losses, tensor_core_stored_losses;
    std::vector<float> tensor_core = train(Device::kCuda, kernels::AttentionAlgorithm::kTensorCore,
                                           tensor_core_losses, cuda::MatmulPrecision::kBf16);
    for (int64_t s = 0; s < steps; ++s) {
      EXPECT_NEAR(tensor_core_losses[s], cpu_losses[s], 2e-2 * cpu_losses[s]) << "tensor cores, step " << s;
    }
    EXPECT_EQ(train(Device::kCuda, kernels::AttentionAlgorithm::kFused, stored_losses, cuda::MatmulPrecision::kBf16,
                    true),
              bf16);
    EXPECT_EQ(stored_losses, bf16_losses);
    EXPECT_EQ(train(Device::kCuda, kernels::AttentionAlgorithm::kTensorCore, tensor_core_stored_losses,
                    cuda::MatmulPrecision::kBf16, true),
              tensor_core);
    std::vector<double> activation_losses;
    EXPECT_NE(train(Device::kCuda, kernels::AttentionAlgorithm::kTensorCore, activation_losses,
                    cuda::MatmulPrecision::kBf16, true, true),
              tensor_core)
        << "bf16 activations were asked for, but training is bitwise the run without them";
    for (int64_t s = 0; s < steps; ++s) {
      EXPECT_NEAR(activation_losses[s], cpu_losses[s], 2e-2 * cpu_losses[s]) << "bf16 activations, step " << s;
    }
  }
  EXPECT_LT(cpu_losses.back(), cpu_losses.front());
  for (int64_t s = 0; s < steps; ++s) {
    EXPECT_NEAR(fused_losses[s], cpu_losses[s], 1e-4 * cpu_losses[s]) << "step " << s;
    EXPECT_NEAR(plain_losses[s], cpu_losses[s], 1e-4 * cpu_losses[s]) << "step " << s;
    EXPECT_NEAR(bf16_losses[s], cpu_losses[s], 2e-2 * cpu_losses[s]) << "step " << s;
  }
  expect_close(fused, cpu, 1e-3);
  expect_close(plain, cpu, 1e-3);
}

TEST_F(CudaCoreTest, GpuGradientsMatchFiniteDifferences) {
  const int64_t rows = 4, features = 5, classes = 3;
  auto model = build_mlp(features, {6}, classes, Device::kCuda);
  model->initialize(9);
  std::vector<float> input = random(static_cast<size_t>(rows * features));
  std::vector<int32_t> labels = {0, 2, 1, 2};
  cuda::DeviceBuffer<float> x(input);
  cuda::DeviceBuffer<int32_t> y(labels);
  cuda::DeviceBuffer<float> grad(static_cast<size_t>(rows * classes));
  cuda::DeviceBuffer<double> loss(1);
  Tensor input_tensor = Tensor::view(x.data(), {rows, features}, DType::kFloat32, Device::kCuda);
  auto mean_loss = [&](bool with_gradient) {
    loss.upload({0.0});
    const Tensor& logits = model->forward(input_tensor);
    kernels::softmax_cross_entropy(Device::kCuda, logits.data<float>(), y.data(), rows, classes, 1.0f / rows,
                                   with_gradient ? grad.data() : nullptr, loss.data());
    if (with_gradient) model->backward(Tensor::view(grad.data(), {rows, classes}, DType::kFloat32, Device::kCuda));
    return loss.download()[0] / rows;
  };
  mean_loss(true);
  std::vector<float> analytic = to_host(model->gradients(), Device::kCuda);
  std::vector<float> parameters = to_host(model->parameters(), Device::kCuda);
  const float h = 1e-3f;
  int checked = 0;
  for (const ParameterSlot& slot : model->slots()) {
    for (int64_t e = 0; e < shape_elements(slot.shape); ++e) {
      const size_t i = static_cast<size_t>(slot.offset + e);
      std::vector<float> moved = parameters;
      moved[i] = parameters[i] + h;
      upload(Device::kCuda, moved.data(), model->parameters().data(), moved.size() * sizeof(float));
      const double up = mean_loss(false);
      moved[i] = parameters[i] - h;
      upload(Device::kCuda, moved.data(), model->parameters().data(), moved.size() * sizeof(float));
      const double down = mean_loss(false);
      const double numeric = (up - down) / (2.0 * h);
      EXPECT_NEAR(analytic[i], numeric, 2e-3 + 1e-2 * std::abs(numeric)) << slot.name << " element " << e;
      ++checked;
    }
  }
  EXPECT_EQ(checked, model->parameter_count());
}

TEST_F(CudaCoreTest, SgdOnTheGpuMatchesTheCpu) {
  const size_t count = 10000;
  std::vector<float> parameters = random(count), gradients = random(count);
  std::vector<std::vector<float>> results;
  for (Device device : {Device::kCpu, Device::kCuda}) {
    Tensor p = Tensor::zeros({static_cast<int64_t>(count)}, DType::kFloat32, device);
    Tensor g = Tensor::zeros({static_cast<int64_t>(count)}, DType::kFloat32, device);
    upload(device, parameters.data(), p.data<float>(), count * sizeof(float));
    upload(device, gradients.data(), g.data<float>(), count * sizeof(float));
    Sgd sgd(Span<float>(p.data<float>(), count), Span<float>(g.data<float>(), count), {0.1f, 0.9f, 0.01f}, device);
    for (int step = 0; step < 3; ++step) sgd.step();
    results.push_back(to_host(Span<float>(p.data<float>(), count), device));
  }
  expect_close(results[1], results[0], 1e-6);
}

TEST_F(CudaCoreTest, DeviceBatchesDeliverTheLoadersSequenceFromPinnedMemory) {
  testing::TempDir dir;
  testing::write_indexed_shards(dir.path(), {37, 5, 91}, 6, 4);
  LoaderOptions options;
  options.batch = 8;
  options.seed = 3;
  options.shuffle_window = 20;
  LoaderOptions pinned = options;
  pinned.allocator = {cuda::allocate_pinned, cuda::release_pinned};
  Loader reference(ShardIndex(dir.path()), options);
  Loader loader(ShardIndex(dir.path()), pinned);
  DeviceBatches batches(loader, Device::kCuda);
  for (int64_t epoch : {0, 1}) {
    for (int64_t first : {int64_t{0}, int64_t{5}}) {  // from the start, and resumed mid-epoch
      reference.start_epoch(epoch, first);
      batches.start_epoch(epoch, first);
      int64_t count = 0;
      while (const Batch* expected = reference.next()) {
        const DeviceBatch* batch = batches.next();
        ASSERT_NE(batch, nullptr) << "batch " << count;
        ASSERT_EQ(batch->rows, expected->rows);
        std::vector<float> features(static_cast<size_t>(batch->rows * 6));
        std::vector<int32_t> labels(static_cast<size_t>(batch->rows));
        cuda::copy_to_host(features.data(), batch->features.data<float>(), features.size() * sizeof(float));
        cuda::copy_to_host(labels.data(), batch->labels, labels.size() * sizeof(int32_t));
        for (size_t i = 0; i < features.size(); ++i) ASSERT_EQ(features[i], expected->features[i]) << count;
        for (size_t i = 0; i < labels.size(); ++i) ASSERT_EQ(labels[i], expected->labels[i]) << count;
        ++count;
      }
      EXPECT_EQ(batches.next(), nullptr);
      EXPECT_EQ(count, loader.batches_per_epoch() - first);
    }
  }
}

TEST_F(CudaCoreTest, StoredByteFeaturesAreConvertedOnTheGpuExactlyAsOnTheCpu) {
  testing::TempDir dir;
  testing::write_byte_shards(dir.path(), {50, 23}, 9, 4);
  LoaderOptions options;
  options.batch = 10;
  options.seed = 4;
  LoaderOptions stored = options;
  stored.allocator = {cuda::allocate_pinned, cuda::release_pinned};
  stored.stored_features = true;
  Loader reference(ShardIndex(dir.path()), options);
  Loader loader(ShardIndex(dir.path()), stored);
  DeviceBatches batches(loader, Device::kCuda);
  reference.start_epoch(1);
  batches.start_epoch(1);
  int64_t count = 0;
  while (const Batch* expected = reference.next()) {
    const DeviceBatch* batch = batches.next();
    ASSERT_NE(batch, nullptr);
    std::vector<float> features(static_cast<size_t>(batch->rows * 9));
    cuda::copy_to_host(features.data(), batch->features.data<float>(), features.size() * sizeof(float));
    for (size_t i = 0; i < features.size(); ++i) ASSERT_EQ(features[i], expected->features[i]) << count << " " << i;
    ++count;
  }
  EXPECT_EQ(count, 7);
}

TrainConfig small_config(const std::string& data) {
  TrainConfig c;
  c.hidden = {32, 16};
  c.epochs = 1;
  c.global_batch = 32;
  c.lr = 0.05f;
  c.train_dir = data + "/train";
  c.test_dir = data + "/test";
  c.eval_batch = 50;
  c.shuffle_window = 100;
  return c;
}

class GpuTrainingTracksCpu : public CudaCoreTest, public ::testing::WithParamInterface<std::string> {};

TEST_P(GpuTrainingTracksCpu, AfterTenStepsTheParametersAgree) {
  testing::TempDir dir;
  testing::write_cluster_shards(dir.path() + "/train", 320, 3, 12, 4, 11, 1);  // 10 steps
  testing::write_cluster_shards(dir.path() + "/test", 100, 1, 12, 4, 11, 2);
  auto comm = make_world_communicator();
  std::vector<std::vector<float>> parameters;
  std::vector<TrainingResult> results;
  for (Device device : {Device::kCpu, Device::kCuda}) {
    TrainConfig config = small_config(dir.path());
    config.device = device;
    if (GetParam() == "adamw") {  // AdamW with warmup, linear decay and gradient clipping
      config.optimizer = "adamw";
      config.lr = 0.01f;
      config.weight_decay = 0.01f;
      config.schedule = LrSchedule::kLinear;
      config.warmup_steps = 3;
      config.clip_norm = 0.5;
    }
    Trainer trainer(config, *comm);
    results.push_back(trainer.run());
    parameters.push_back(trainer.parameters_on_host());
  }
  ASSERT_EQ(parameters[0].size(), parameters[1].size());
  double largest = 0;
  for (size_t i = 0; i < parameters[0].size(); ++i) {
    largest = std::max(largest, static_cast<double>(std::abs(parameters[0][i] - parameters[1][i])));
  }
  EXPECT_LT(largest, 1e-4) << "after 10 steps the GPU's parameters differ from the CPU's by up to " << largest;
  EXPECT_NEAR(results[1].epochs.back().train_loss, results[0].epochs.back().train_loss, 1e-4);
  EXPECT_NEAR(results[1].epochs.back().test_accuracy, results[0].epochs.back().test_accuracy, 0.011);
}

INSTANTIATE_TEST_SUITE_P(Optimizers, GpuTrainingTracksCpu, ::testing::Values("sgd", "adamw"));

TEST_F(CudaCoreTest, AStepWithNonFiniteGradientsIsSkippedOnTheGpuAndCountedAStepLater) {
  testing::TempDir dir;
  testing::write_poisoned_shards(dir.path() + "/train", 640, 77);
  testing::write_cluster_shards(dir.path() + "/test", 100, 1, 12, 4, 11, 2);
  auto comm = make_world_communicator();
  TrainConfig config = small_config(dir.path());
  config.device = Device::kCuda;
  config.epochs = 2;
  config.hidden = {16};
  Trainer trainer(config, *comm);
  TrainingResult result = trainer.run();
  EXPECT_EQ(result.skipped_steps, 2);  // the poisoned sample is in one step of each epoch
  for (float value : trainer.parameters_on_host()) ASSERT_TRUE(std::isfinite(value));
  EXPECT_GT(result.epochs.back().train_accuracy, 0.9);

  config.max_nonfinite_steps = 1;  // now the first one stops the job, with the usual error
  Trainer strict(config, *comm);
  EXPECT_NE(testing::error_message([&] { strict.run(); }).find("NaN or infinite gradients"), std::string::npos);
}

TEST_F(CudaCoreTest, Tf32TrainingStaysCloseToFp32) {
  testing::TempDir dir;
  testing::write_cluster_shards(dir.path() + "/train", 320, 3, 12, 4, 11, 1);
  testing::write_cluster_shards(dir.path() + "/test", 100, 1, 12, 4, 11, 2);
  auto comm = make_world_communicator();
  std::vector<std::vector<float>> parameters;
  for (cuda::MatmulPrecision precision : {cuda::MatmulPrecision::kFp32, cuda::MatmulPrecision::kTf32}) {
    TrainConfig config = small_config(dir.path());
    config.device = Device::kCuda;
    config.precision = precision;
    Trainer trainer(config, *comm);
    trainer.run();
    parameters.push_back(trainer.parameters_on_host());
  }
  double largest = 0;
  for (size_t i = 0; i < parameters[0].size(); ++i) {
    largest = std::max(largest, static_cast<double>(std::abs(parameters[0][i] - parameters[1][i])));
  }
  EXPECT_LT(largest, 1e-2);  // that TF32 is really used is tested on a large product in kernels_cuda_test
}

}  // namespace
}  // namespace rt
