// A GPT's training step on one GPU and where its time goes: build_gpt's model on a resident batch
// of random tokens; forward, next-token cross-entropy (the gradient written over the logits),
// backward, AdamW; each top-level layer's forward and backward timed with CUDA events and summed
// by kind, then the same steps untimed (the host queueing ahead) for tokens/s; and the device
// memory in use.
// Usage: gpt_step LAYERS HEADS WIDTH CONTEXT VOCAB BATCH STEPS PRECISION ATTENTION [OPTION...]
//   e.g. gpt_step 12 12 768 1024 50304 16 20 bf16 fused      (benchmarks/gpt/gpu.sh)
// With bf16 products on compute capability 8.0 on, the layer norms and GELUs store their outputs
// and the cross-entropy its gradient in bf16, and the MLPs keep their activations in bf16, as in
// training (GptOptions::bf16_product_inputs and bf16_activations). Options, to measure what those
// and other choices give: fp32-product-inputs keeps the first fp32 (the gradient then over the
// logits); fp32-activations the second; bias-kernel adds the linears' bias with a kernel after the
// product instead of in its epilogue (set_fused_bias(false)).
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <vector>

#include "core/adamw.h"
#include "core/base/random.h"
#include "core/models.h"
#include "kernels/cuda/cuda_kernels.h"
#include "kernels/cuda/device_buffer.h"
#include "kernels/cuda/stream.h"
#include "benchmarks/gpu_phases.h"
#include "kernels/kernels.h"

namespace cuda = rt::kernels::cuda;

namespace {
// "residual(layernorm768,linear768x2304,attention768x12h,linear768x768)" -> "attention block".
std::string kind_of(const std::string& name) {
  if (name.find("attention") != std::string::npos) return "attention block";
  if (name.find("gelu") != std::string::npos) return "MLP block";
  if (name.find("head") != std::string::npos) return "output head";
  if (name.find("embedding") != std::string::npos) return "embedding";
  return "final layernorm";
}
}  // namespace

int main(int argc, char** argv) try {
  bool fp32_product_inputs = false, fp32_activations = false, bias_kernel = false;
  for (int i = 10; i < argc; ++i) {
    fp32_product_inputs |= std::string(argv[i]) == "fp32-product-inputs";
    fp32_activations |= std::string(argv[i]) == "fp32-activations";
    bias_kernel |= std::string(argv[i]) == "bias-kernel";
  }
  if (argc < 10 || argc - 10 != int{fp32_product_inputs} + int{fp32_activations} + int{bias_kernel}) {
    std::fprintf(stderr, "usage: gpt_step LAYERS HEADS WIDTH CONTEXT VOCAB BATCH STEPS fp32|tf32|bf16 "
                         "fused|plain|tensor_core [fp32-product-inputs] [fp32-activations] [bias-kernel]\n");
    return 2;
  }
  rt::GptOptions o;
  o.layers = std::atoll(argv[1]);
  o.heads = std::atoll(argv[2]);
  o.width = std::atoll(argv[3]);
  o.context = std::atoll(argv[4]);
  o.vocab = std::atoll(argv[5]);
  const int64_t batch = std::atoll(argv[6]);
  const int steps = std::atoi(argv[7]);
  const std::string precision = argv[8], attention = argv[9];
  o.attention = rt::kernels::attention_algorithm(attention);
  if (cuda::device_count() == 0) {
    std::fprintf(stderr, "no GPU visible\n");
    return 1;
  }
  cuda::Stream stream;
  cuda::StreamScope scope(stream.handle());
  const bool bf16_operands = precision == "bf16" && cuda::compute_capability_major() >= 8;
  o.bf16_product_inputs = bf16_operands && !fp32_product_inputs;
  o.bf16_activations = bf16_operands && !fp32_activations;
  cuda::set_fused_bias(!bias_kernel);
  cuda::set_matmul_precision(precision == "bf16"   ? cuda::MatmulPrecision::kBf16
                             : precision == "tf32" ? cuda::MatmulPrecision::kTf32
                                                   : cuda::MatmulPrecision::kFp32);
  const size_t memory_before = cuda::device_memory_in_use();
  auto model = rt::build_gpt(o, rt::Device::kCuda);
  model->initialize(1);
  rt::AdamW adamw(model->parameters(), model->gradients(), {6e-4f, 0.9f, 0.95f, 1e-8f, 0.1f}, rt::Device::kCuda);
  rt::Rng rng(3);
  std::vector<float> host_tokens(static_cast<size_t>(batch * (o.context + 1)));
  for (float& t : host_tokens) t = static_cast<float>(rng.below(static_cast<uint64_t>(o.vocab)));
  cuda::DeviceBuffer<float> tokens(host_tokens);
  cuda::DeviceBuffer<int32_t> targets(static_cast<size_t>(batch * o.context));
  cuda::DeviceBuffer<double> loss(std::vector<double>{0.0});
  rt::Tensor input = rt::Tensor::view(tokens.data(), {batch, o.context + 1}, rt::DType::kFloat32, rt::Device::kCuda);
  const auto& layers = model->layers();
  const size_t n_layers = layers.size();
  rt::kernels::next_token_targets(rt::Device::kCuda, tokens.data(), batch, o.context, targets.data());

  // Phases: forward of each layer, the loss, backward of each layer, AdamW.
  std::vector<std::string> names;
  for (const auto& layer : layers) names.push_back("forward " + kind_of(layer->name()));
  names.push_back(o.bf16_product_inputs ? "cross-entropy (bf16 gradient)" : "cross-entropy (in place)");
  for (size_t l = n_layers; l-- > 0;) names.push_back("backward " + kind_of(layers[l]->name()));
  names.push_back("AdamW");
  rt::bench::PhaseClock clock(names.size(), stream.handle());
  std::map<std::string, double> totals;
  int64_t step_number = 0;
  rt::ActivationBuffer bf16_dlogits;  // the logits' gradient, for bf16 product inputs

  auto step = [&](bool timed) {
    clock.begin(timed);
    const rt::Tensor* activation = &input;
    for (size_t l = 0; l < n_layers; ++l) {
      activation = &layers[l]->forward(*activation);
      clock.mark();
    }
    const rt::Tensor* gradient =
        &rt::gpt_cross_entropy(o.bf16_product_inputs, rt::Device::kCuda, *activation, targets.data(),
                               1.0f / static_cast<float>(batch * o.context), bf16_dlogits, loss.data());
    clock.mark();
    for (size_t l = n_layers; l-- > 0;) {
      gradient = &layers[l]->backward(*gradient, l > 0 ? rt::InputGradient::kCompute : rt::InputGradient::kSkip,
                                      rt::GradientWrite::kOverwrite);
      clock.mark();
    }
    adamw.step(++step_number);
    clock.mark();
  };

  for (int i = 0; i < 3; ++i) step(false);  // warm-up: cuBLAS heuristics, buffers grown once
  stream.synchronize();
  for (int i = 0; i < steps; ++i) {
    step(true);
    stream.synchronize();
    for (size_t p = 0; p < names.size(); ++p) {
      totals[names[p]] += clock.milliseconds(p);
    }
  }
  cuda::Event start(true), end(true);
  start.record(stream.handle());
  for (int i = 0; i < steps; ++i) step(false);
  end.record(stream.handle());
  end.synchronize();
  const double step_ms = cuda::elapsed_milliseconds(start.handle(), end.handle()) / steps;
  const size_t memory = cuda::device_memory_in_use();

  double sum = 0;
  for (const auto& [name, total] : totals) sum += total;
  std::printf("GPT %lld layers, %lld heads, width %lld, context %lld, vocabulary %lld, batch %lld, %s products, %s "
              "attention, layer norm and GELU outputs %s, MLP activations %s, bias %s, %lld parameters, %d "
              "steps\n",
              static_cast<long long>(o.layers), static_cast<long long>(o.heads), static_cast<long long>(o.width),
              static_cast<long long>(o.context), static_cast<long long>(o.vocab), static_cast<long long>(batch),
              precision.c_str(), attention.c_str(), o.bf16_product_inputs ? "bf16" : "fp32",
              o.bf16_activations ? "bf16" : "fp32",
              bias_kernel ? "by a kernel after the product" : "in the product's epilogue",
              static_cast<long long>(model->parameter_count()), steps);
  // Asked for the epilogue, a bias may still go by the kernel where cuBLASLt has no kernel for it.
  const cuda::BiasEpilogueCounts bias_paths = cuda::bias_epilogue_counts();
  std::printf("linear forwards: %lld with the bias in the epilogue, %lld by the bias kernel\n",
              static_cast<long long>(bias_paths.in_epilogue), static_cast<long long>(bias_paths.by_kernel));
  std::printf("%-34s %10s %7s\n", "phase (all layers of a kind)", "ms/step", "share");
  for (const auto& [name, total] : totals) {
    std::printf("%-34s %10.2f %6.1f%%\n", name.c_str(), total / steps, 100.0 * total / sum);
  }
  std::printf("%-34s %10.2f\n", "sum of phases (timed steps)", sum / steps);
  std::printf("%-34s %10.2f\n", "untimed step", step_ms);
  std::printf("tokens_per_second %.0f\n", static_cast<double>(batch * o.context) / (step_ms / 1000.0));
  std::printf("memory_gib %.2f (device memory in use: %.2f GiB, of which %.2f GiB before the model)\n",
              static_cast<double>(memory - memory_before) / (1 << 30), static_cast<double>(memory) / (1 << 30),
              static_cast<double>(memory_before) / (1 << 30));
  return 0;
} catch (const std::exception& error) {
  std::fprintf(stderr, "gpt_step: %s\n", error.what());
  return 1;
}
