// Dispatch by device: the CPU twins in kernels/cpu, the CUDA ones in kernels/cuda (which, in a
// build without CUDA, throw an error that says so).
#include "kernels/kernels.h"

#include <chrono>
#include <vector>

#include "core/base/check.h"

#include "kernels/cpu/cpu_kernels.h"
#include "kernels/cpu/openblas.h"
#include "kernels/cuda/cuda_kernels.h"

namespace rt::kernels {

namespace {

// The CPU twin of a bf16 operand or output: the CPU kernels work in fp32, so a bf16 operand is
// widened (exactly) into a buffer of this thread, and a bf16 output is computed in fp32 there and
// rounded as it is stored. Slots 0 and 1 hold widened operands, slot 2 a bf16 output's fp32 values;
// buffers grow to the largest size asked for, then are reused.
float* cpu_buffer(int slot, int64_t count) {
  thread_local std::vector<float> buffers[3];
  std::vector<float>& buffer = buffers[slot];
  if (buffer.size() < static_cast<size_t>(count)) buffer.resize(static_cast<size_t>(count));
  return buffer.data();
}

const float* cpu_floats(Operand operand, int64_t count, int slot) {
  if (!operand.bf16) return static_cast<const float*>(operand.data);
  const auto* values = static_cast<const bfloat16*>(operand.data);
  float* widened = cpu_buffer(slot, count);
  for (int64_t i = 0; i < count; ++i) widened[i] = to_float(values[i]);
  return widened;
}

void round_into(const float* values, bfloat16* out, int64_t count) {
  for (int64_t i = 0; i < count; ++i) out[i] = to_bfloat16(values[i]);
}

}  // namespace

void gemm(Device device, Transpose trans_a, Transpose trans_b, int64_t m, int64_t n, int64_t k, float alpha,
          Operand a, Operand b, float beta, float* c) {
  if (device == Device::kCpu) {
    return cpu::gemm(trans_a, trans_b, m, n, k, alpha, cpu_floats(a, m * k, 0), cpu_floats(b, k * n, 1), beta, c);
  }
  cuda::gemm(trans_a, trans_b, m, n, k, alpha, a, b, beta, c);
}

void gemm(Device device, Transpose trans_a, Transpose trans_b, int64_t m, int64_t n, int64_t k, float alpha,
          Operand a, Operand b, float beta, bfloat16* c) {
  RT_CHECK(beta == 0.0f, "a product stored in bf16 overwrites it (beta 0), not beta {}", beta);
  if (device == Device::kCuda) return cuda::gemm(trans_a, trans_b, m, n, k, alpha, a, b, c);
  float* values = cpu_buffer(2, m * n);
  cpu::gemm(trans_a, trans_b, m, n, k, alpha, cpu_floats(a, m * k, 0), cpu_floats(b, k * n, 1), 0.0f, values);
  round_into(values, c, m * n);
}

void linear_forward(Device device, Operand x, const float* weight, const float* bias, int64_t rows, int64_t in,
                    int64_t out, float* y) {
  if (device == Device::kCpu) return cpu::linear_forward(cpu_floats(x, rows * in, 0), weight, bias, rows, in, out, y);
  cuda::linear_forward(x, weight, bias, rows, in, out, y);
}

void linear_forward(Device device, Operand x, const float* weight, const float* bias, int64_t rows, int64_t in,
                    int64_t out, bfloat16* y) {
  if (device == Device::kCuda) return cuda::linear_forward(x, weight, bias, rows, in, out, y);
  float* values = cpu_buffer(2, rows * out);  // slot 0 may hold x widened
  cpu::linear_forward(cpu_floats(x, rows * in, 0), weight, bias, rows, in, out, values);
  round_into(values, y, rows * out);
}

SameOperands::SameOperands(Device device) : device_(device) {
  if (device_ == Device::kCuda) cuda::begin_same_operands();
}
SameOperands::~SameOperands() {
  if (device_ == Device::kCuda) cuda::end_same_operands();
}

void linear_backward_input(Device device, Operand dy, const float* weight, int64_t rows, int64_t in, int64_t out,
                           float* dx) {
  if (device == Device::kCpu) {
    return cpu::linear_backward_input(cpu_floats(dy, rows * out, 1), weight, rows, in, out, dx);
  }
  cuda::linear_backward_input(dy, weight, rows, in, out, dx);
}

void linear_backward_params(Device device, Operand dy, Operand x, int64_t rows, int64_t in, int64_t out,
                            float beta, float* dweight, float* dbias) {
  if (device == Device::kCpu) {
    return cpu::linear_backward_params(cpu_floats(dy, rows * out, 1), cpu_floats(x, rows * in, 0), rows, in, out,
                                       beta, dweight, dbias);
  }
  cuda::linear_backward_params(dy, x, rows, in, out, beta, dweight, dbias);
}

void bytes_to_float(Device device, const uint8_t* bytes, float* y, int64_t count, float scale) {
  if (device == Device::kCpu) return cpu::bytes_to_float(bytes, y, count, scale);
  cuda::bytes_to_float(bytes, y, count, scale);
}

void gelu_forward(Device device, Operand x, float* y, int64_t count) {
  if (device == Device::kCpu) return cpu::gelu_forward(cpu_floats(x, count, 0), y, count);
  cuda::gelu_forward(x, y, count);
}

void gelu_forward(Device device, Operand x, bfloat16* y, int64_t count) {
  if (device == Device::kCuda) return cuda::gelu_forward(x, y, count);
  float* values = cpu_buffer(2, count);
  cpu::gelu_forward(cpu_floats(x, count, 0), values, count);
  round_into(values, y, count);
}

void gelu_backward(Device device, Operand x, const float* dy, float* dx, int64_t count) {
  if (device == Device::kCpu) return cpu::gelu_backward(cpu_floats(x, count, 0), dy, dx, count);
  cuda::gelu_backward(x, dy, dx, count);
}

void gelu_backward(Device device, Operand x, const float* dy, bfloat16* dx, int64_t count) {
  if (device == Device::kCuda) return cuda::gelu_backward(x, dy, dx, count);
  float* values = cpu_buffer(2, count);
  cpu::gelu_backward(cpu_floats(x, count, 0), dy, values, count);
  round_into(values, dx, count);
}

void layer_norm_forward(Device device, const float* x, const float* gamma, const float* beta, int64_t rows,
                        int64_t features, float eps, float* y, float* mean, float* rstd) {
  if (device == Device::kCpu) return cpu::layer_norm_forward(x, gamma, beta, rows, features, eps, y, mean, rstd);
  cuda::layer_norm_forward(x, gamma, beta, rows, features, eps, y, mean, rstd);
}

void layer_norm_forward(Device device, const float* x, const float* gamma, const float* beta, int64_t rows,
                        int64_t features, float eps, bfloat16* y, float* mean, float* rstd) {
  if (device == Device::kCuda) return cuda::layer_norm_forward(x, gamma, beta, rows, features, eps, y, mean, rstd);
  float* values = cpu_buffer(0, rows * features);
  cpu::layer_norm_forward(x, gamma, beta, rows, features, eps, values, mean, rstd);
  round_into(values, y, rows * features);
}

void layer_norm_backward(Device device, const float* dy, const float* x, const float* gamma, const float* mean,
                         const float* rstd, int64_t rows, int64_t features, float beta_acc, float* dx, float* dgamma,
                         float* dbeta) {
  if (device == Device::kCpu) {
    return cpu::layer_norm_backward(dy, x, gamma, mean, rstd, rows, features, beta_acc, dx, dgamma, dbeta);
  }
  cuda::layer_norm_backward(dy, x, gamma, mean, rstd, rows, features, beta_acc, dx, dgamma, dbeta);
}

void dropout_forward(Device device, const float* x, float* y, int64_t count, float p, uint64_t key) {
  if (device == Device::kCpu) return cpu::dropout(x, y, count, p, key);
  cuda::dropout(x, y, count, p, key);
}

void dropout_backward(Device device, const float* dy, float* dx, int64_t count, float p, uint64_t key) {
  // The same mask and scale applied to the gradient.
  dropout_forward(device, dy, dx, count, p, key);
}

void relu_forward(Device device, const float* x, float* y, int64_t count) {
  if (device == Device::kCpu) return cpu::relu_forward(x, y, count);
  cuda::relu_forward(x, y, count);
}

void relu_backward(Device device, const float* y, const float* dy, float* dx, int64_t count) {
  if (device == Device::kCpu) return cpu::relu_backward(y, dy, dx, count);
  cuda::relu_backward(y, dy, dx, count);
}

void pointwise_activation_forward(Device device, PointwiseActivation activation, const float* x, float* y,
                                  int64_t count) {
  if (device == Device::kCpu) return cpu::pointwise_activation_forward(activation, x, y, count);
  cuda::pointwise_activation_forward(activation, x, y, count);
}

void pointwise_activation_backward(Device device, PointwiseActivation activation, const float* x, const float* dy,
                                   float* dx, int64_t count) {
  if (device == Device::kCpu) return cpu::pointwise_activation_backward(activation, x, dy, dx, count);
  cuda::pointwise_activation_backward(activation, x, dy, dx, count);
}

void softmax_cross_entropy(Device device, Operand logits, const int32_t* labels, int64_t rows, int64_t classes,
                           float grad_scale, float* dlogits, double* loss_sum) {
  RT_CHECK(!logits.bf16 || dlogits != logits.data, "an fp32 gradient cannot be written over bf16 logits");
  if (device == Device::kCpu) {
    return cpu::softmax_cross_entropy(cpu_floats(logits, rows * classes, 0), labels, rows, classes, grad_scale,
                                      dlogits, loss_sum);
  }
  cuda::softmax_cross_entropy(logits, labels, rows, classes, grad_scale, dlogits, loss_sum);
}

void softmax_cross_entropy_bf16_gradient(Device device, Operand logits, const int32_t* labels, int64_t rows,
                                         int64_t classes, float grad_scale, bfloat16* dlogits, double* loss_sum) {
  RT_CHECK(dlogits != nullptr, "a bf16 cross-entropy gradient needs a buffer to be written to");
  RT_CHECK(logits.bf16 || dlogits != logits.data, "a bf16 gradient cannot be written over fp32 logits");
  if (device == Device::kCuda) {
    return cuda::softmax_cross_entropy_bf16_gradient(logits, labels, rows, classes, grad_scale, dlogits, loss_sum);
  }
  float* values = cpu_buffer(2, rows * classes);  // the logits, widened into slot 0, may be dlogits
  cpu::softmax_cross_entropy(cpu_floats(logits, rows * classes, 0), labels, rows, classes, grad_scale, values,
                             loss_sum);
  round_into(values, dlogits, rows * classes);
}

void squared_error(Device device, const float* outputs, const float* targets, int64_t rows, float grad_scale,
                   float* grad, double* sums) {
  if (device == Device::kCpu) return cpu::squared_error(outputs, targets, rows, grad_scale, grad, sums);
  cuda::squared_error(outputs, targets, rows, grad_scale, grad, sums);
}

void count_correct(Device device, Operand logits, const int32_t* labels, int64_t rows, int64_t classes,
                   int64_t* correct) {
  if (device == Device::kCpu) {
    return cpu::count_correct(cpu_floats(logits, rows * classes, 0), labels, rows, classes, correct);
  }
  cuda::count_correct(logits, labels, rows, classes, correct);
}

void sgd_momentum(Device device, float* params, const float* grads, float* velocity, int64_t count, float lr,
                  float momentum, float weight_decay, const uint32_t* skip_if_set) {
  if (device == Device::kCpu) {
    RT_CHECK(skip_if_set == nullptr, "a skip flag is a CUDA device flag; the CPU decides on the host");
    return cpu::sgd_momentum(params, grads, velocity, count, lr, momentum, weight_decay);
  }
  cuda::sgd_momentum(params, grads, velocity, count, lr, momentum, weight_decay, skip_if_set);
}

int64_t conv2d_workspace(Device device, const ConvGeometry& g, int64_t rows) {
  return device == Device::kCpu ? 0 : g.patch() * rows * g.out_height() * g.out_width();
}

void conv2d_forward(Device device, const ConvGeometry& g, const float* x, int64_t rows, const float* weight,
                    const float* bias, int64_t out_channels, float* y, float* columns) {
  if (device == Device::kCpu) return cpu::conv2d_forward(g, x, rows, weight, bias, out_channels, y);
  const int64_t count = rows * g.out_height() * g.out_width();
  cuda::im2col(g, x, rows, columns);
  gemm(device, Transpose::kNo, Transpose::kNo, out_channels, count, g.patch(), 1.0f, weight, columns, 0.0f, y);
  cuda::add_channel_bias(y, bias, out_channels, count);
}

void conv2d_backward(Device device, const ConvGeometry& g, const float* x, int64_t rows, const float* weight,
                     int64_t out_channels, const float* dy, float beta, float* dweight, float* dbias, float* dx,
                     float* columns) {
  if (device == Device::kCpu) return cpu::conv2d_backward(g, x, rows, weight, out_channels, dy, beta, dweight, dbias, dx);
  const int64_t count = rows * g.out_height() * g.out_width();
  gemm(device, Transpose::kNo, Transpose::kYes, out_channels, g.patch(), count, 1.0f, dy, columns, beta, dweight);
  cuda::channel_bias_grad(dy, out_channels, count, beta, dbias);
  if (dx == nullptr) return;
  // The columns are spent: they take the input's gradient columns, W^T dy, then fold back.
  gemm(device, Transpose::kYes, Transpose::kNo, g.patch(), count, out_channels, 1.0f, weight, dy, 0.0f, columns);
  cuda::col2im(g, columns, rows, dx);
}

void swap_leading_axes(Device device, const float* x, int64_t a, int64_t b, int64_t c, float* y) {
  if (device == Device::kCpu) return cpu::swap_leading_axes(x, a, b, c, y);
  cuda::swap_leading_axes(x, a, b, c, y);
}

void max_pool_forward(Device device, const float* x, int64_t rows, int64_t channels, int64_t height, int64_t width,
                      int64_t window, float* y, int32_t* argmax) {
  if (device == Device::kCpu) return cpu::max_pool_forward(x, rows, channels, height, width, window, y, argmax);
  cuda::max_pool_forward(x, rows, channels, height, width, window, y, argmax);
}

void max_pool_backward(Device device, const float* dy, const int32_t* argmax, int64_t rows, int64_t channels,
                       int64_t height, int64_t width, int64_t window, float* dx) {
  if (device == Device::kCpu) return cpu::max_pool_backward(dy, argmax, rows, channels, height, width, window, dx);
  cuda::max_pool_backward(dy, argmax, rows, channels, height, width, window, dx);
}

void adamw(Device device, float* params, const float* grads, float* m, float* v, int64_t count, float lr, float beta1,
           float beta2, float eps, float weight_decay, int64_t step, const uint32_t* skip_if_set) {
  if (device == Device::kCpu) {
    RT_CHECK(skip_if_set == nullptr, "a skip flag is a CUDA device flag; the CPU decides on the host");
    return cpu::adamw(params, grads, m, v, count, lr, beta1, beta2, eps, weight_decay, step);
  }
  cuda::adamw(params, grads, m, v, count, lr, beta1, beta2, eps, weight_decay, step, skip_if_set);
}

double sum_of_squares(Device device, const float* values, int64_t count) {
  if (device == Device::kCpu) return cpu::sum_of_squares(values, count);
  return cuda::sum_of_squares(values, count);
}

void scale(Device device, float* values, int64_t count, float factor) {
  if (device == Device::kCpu) return cpu::scale(values, count, factor);
  cuda::scale(values, count, factor);
}

void set_cpu_threads(int threads) { cpu::set_threads(threads); }
int cpu_threads() { return cpu::threads(); }

void set_cpu_blas(CpuBlas blas) { cpu::set_blas(blas == CpuBlas::kOpenBlas); }

void record_cpu_gemm_shapes(std::vector<GemmShape>* sink) { cpu::record_gemm_shapes(sink); }

double time_cpu_gemms(CpuBlas blas, const std::vector<GemmShape>& shapes, int repetitions) {
  RT_CHECK(blas != CpuBlas::kAuto, "a measurement is of one library");
  const bool was_openblas = cpu::uses_openblas();
  cpu::set_blas(blas == CpuBlas::kOpenBlas);
  std::vector<std::vector<float>> a, b, c;
  for (const GemmShape& s : shapes) {
    a.emplace_back(static_cast<size_t>(s.m * s.k), 0.5f);
    b.emplace_back(static_cast<size_t>(s.k * s.n), 0.25f);
    c.emplace_back(static_cast<size_t>(s.m * s.n), 0.0f);
  }
  auto run_all = [&] {
    for (size_t i = 0; i < shapes.size(); ++i) {
      const GemmShape& s = shapes[i];
      cpu::gemm(s.transpose_a ? Transpose::kYes : Transpose::kNo, s.transpose_b ? Transpose::kYes : Transpose::kNo,
                s.m, s.n, s.k, 1.0f, a[i].data(), b[i].data(), 0.0f, c[i].data());
    }
  };
  run_all();  // first touches, and OpenBLAS's buffers
  const auto start = std::chrono::steady_clock::now();
  for (int r = 0; r < repetitions; ++r) run_all();
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  cpu::set_blas(was_openblas);
  return seconds;
}
std::string cpu_blas_description() {
  return cpu::uses_openblas() ? "OpenBLAS (" + cpu::openblas::core_name() + " kernels)" : "Eigen";
}
const std::vector<std::pair<std::string, CpuBlas>>& cpu_blas_names() {
  static const std::vector<std::pair<std::string, CpuBlas>> names = {
      {"eigen", CpuBlas::kEigen}, {"openblas", CpuBlas::kOpenBlas}, {"auto", CpuBlas::kAuto}};
  return names;
}

void add(Device device, const float* a, Operand b, float* y, int64_t count) {
  if (device == Device::kCpu) return cpu::add(a, cpu_floats(b, count, 0), y, count);
  cuda::add(a, b, y, count);
}

void embedding_forward(Device device, const float* tokens, int64_t rows, int64_t context, int64_t vocab,
                       int64_t width, const float* wte, const float* wpe, float* y) {
  if (device == Device::kCpu) return cpu::embedding_forward(tokens, rows, context, vocab, width, wte, wpe, y);
  cuda::embedding_forward(tokens, rows, context, vocab, width, wte, wpe, y);
}

void embedding_backward(Device device, const float* tokens, const float* dy, int64_t rows, int64_t context,
                        int64_t vocab, int64_t width, float beta_wte, float* dwte, float beta_wpe, float* dwpe) {
  if (device == Device::kCpu) {
    return cpu::embedding_backward(tokens, dy, rows, context, vocab, width, beta_wte, dwte, beta_wpe, dwpe);
  }
  cuda::embedding_backward(tokens, dy, rows, context, vocab, width, beta_wte, dwte, beta_wpe, dwpe);
}

void next_token_targets(Device device, const float* tokens, int64_t rows, int64_t context, int32_t* targets) {
  if (device == Device::kCpu) return cpu::next_token_targets(tokens, rows, context, targets);
  cuda::next_token_targets(tokens, rows, context, targets);
}

namespace {
void check_attention_shape(const AttentionShape& shape) {
  RT_CHECK(shape.rows >= 0 && shape.context > 0 && shape.heads > 0 && shape.width % shape.heads == 0,
           "attention needs a width divisible by its heads, not width {} with {} heads (context {})", shape.width,
           shape.heads, shape.context);
}
}  // namespace

std::string attention_algorithm_name(AttentionAlgorithm algorithm) {
  switch (algorithm) {
    case AttentionAlgorithm::kPlain: return "plain";
    case AttentionAlgorithm::kFused: return "fused";
    case AttentionAlgorithm::kTensorCore: return "tensor_core";
  }
  RT_FAIL("attention algorithm {} has no name", static_cast<int>(algorithm));
}

AttentionAlgorithm attention_algorithm(const std::string& name) {
  for (AttentionAlgorithm algorithm :
       {AttentionAlgorithm::kPlain, AttentionAlgorithm::kFused, AttentionAlgorithm::kTensorCore}) {
    if (attention_algorithm_name(algorithm) == name) return algorithm;
  }
  RT_FAIL("unknown attention algorithm '{}': plain, fused or tensor_core", name);
}

AttentionAlgorithm automatic_attention(Device device, bool bf16_products, int compute_capability_major,
                                       int64_t head_dim) {
  const bool tensor_cores = device == Device::kCuda && bf16_products && compute_capability_major >= 8 &&
                            cuda::tensor_core_attention_supported(head_dim);
  return tensor_cores ? AttentionAlgorithm::kTensorCore : AttentionAlgorithm::kFused;
}

bool attention_takes_bf16(Device device, AttentionAlgorithm algorithm, int64_t head_dim) {
  return device == Device::kCpu ||
         (algorithm == AttentionAlgorithm::kTensorCore && cuda::tensor_core_attention_supported(head_dim));
}

int64_t attention_workspace(Device device, AttentionAlgorithm algorithm, const AttentionShape& shape) {
  check_attention_shape(shape);
  if (device == Device::kCpu) return 0;
  return cuda::attention_workspace(algorithm, shape);
}

void attention_forward(Device device, AttentionAlgorithm algorithm, const AttentionShape& shape, const float* qkv,
                       float* y, float* lse, float* workspace) {
  check_attention_shape(shape);
  if (device == Device::kCpu) return cpu::attention_forward(shape, qkv, y, lse);
  cuda::attention_forward(algorithm, shape, qkv, y, lse, workspace);
}

void attention_backward(Device device, AttentionAlgorithm algorithm, const AttentionShape& shape, const float* qkv,
                        const float* y, const float* lse, const float* dy, float* dqkv, float* workspace) {
  check_attention_shape(shape);
  if (device == Device::kCpu) return cpu::attention_backward(shape, qkv, y, lse, dy, dqkv);
  cuda::attention_backward(algorithm, shape, qkv, y, lse, dy, dqkv, workspace);
}

void attention_forward(Device device, AttentionAlgorithm algorithm, const AttentionShape& shape, const bfloat16* qkv,
                       bfloat16* y, float* lse, float* workspace) {
  check_attention_shape(shape);
  if (device == Device::kCuda) return cuda::attention_forward(algorithm, shape, qkv, y, lse, workspace);
  const int64_t tokens = shape.rows * shape.context;
  float* values = cpu_buffer(2, tokens * shape.width);
  cpu::attention_forward(shape, cpu_floats(qkv, tokens * 3 * shape.width, 0), values, lse);
  round_into(values, y, tokens * shape.width);
}

void attention_backward(Device device, AttentionAlgorithm algorithm, const AttentionShape& shape,
                        const bfloat16* qkv, const bfloat16* y, const float* lse, const float* dy, bfloat16* dqkv,
                        float* workspace) {
  check_attention_shape(shape);
  if (device == Device::kCuda) return cuda::attention_backward(algorithm, shape, qkv, y, lse, dy, dqkv, workspace);
  const int64_t tokens = shape.rows * shape.context;
  float* values = cpu_buffer(2, tokens * 3 * shape.width);
  cpu::attention_backward(shape, cpu_floats(qkv, tokens * 3 * shape.width, 0),
                          cpu_floats(y, tokens * shape.width, 1), lse, dy, values);
  round_into(values, dqkv, tokens * 3 * shape.width);
}

}  // namespace rt::kernels
