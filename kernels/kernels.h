// The model math on raw buffers, dispatched by device. Every function here has a CPU twin in
// kernels/cpu (Eigen), which is also the reference the CUDA kernels are tested against.
//
// Conventions: matrices are row-major; sizes count elements; an output is fully written unless
// the function says it accumulates (beta, *_accumulate), so no caller has to clear it first.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "core/base/device.h"
#include "core/base/half.h"
#include "kernels/operand.h"
#include "kernels/pointwise_activations.h"

namespace rt::kernels {

enum class Transpose { kNo, kYes };

// C[m,n] = alpha * op(A)[m,k] * op(B)[k,n] + beta * C. beta == 0 ignores C's old contents.
// A bf16 operand (operand.h) takes part as its exact fp32 value: on the GPU it needs bf16
// products (set_matmul_precision(kBf16), compute capability 8.0 on); on the CPU it is widened.
void gemm(Device device, Transpose trans_a, Transpose trans_b, int64_t m, int64_t n, int64_t k,
          float alpha, Operand a, Operand b, float beta, float* c);
// The same with C stored in bf16, the fp32 sums rounded once (beta must be 0); on the GPU it
// needs bf16 products (compute capability 8.0 on).
void gemm(Device device, Transpose trans_a, Transpose trans_b, int64_t m, int64_t n, int64_t k,
          float alpha, Operand a, Operand b, float beta, bfloat16* c);

// While one lives on the calling thread, bf16 matrix products on the GPU reuse an operand's
// rounding to bf16 from the previous product that rounded the same buffer (same address and
// size) instead of rounding it again: a layer's backward, whose two products share the output
// gradient, opens one. The caller promises that the buffers it multiplies meanwhile do not change.
// Elsewhere (other precisions, the CPU) it changes nothing.
class SameOperands {
 public:
  explicit SameOperands(Device device);
  ~SameOperands();
  SameOperands(const SameOperands&) = delete;
  SameOperands& operator=(const SameOperands&) = delete;

 private:
  Device device_;
};

// Linear layer y[rows,out] = x[rows,in] * w[out,in]^T + bias[out], and its gradients.
void linear_forward(Device device, Operand x, const float* weight, const float* bias,
                    int64_t rows, int64_t in, int64_t out, float* y);
// The same with y rounded to bf16 (to nearest even) as it is stored: the fp32 sums plus the bias,
// rounded once. On a GPU it needs bf16 products (compute capability 8.0 or more).
void linear_forward(Device device, Operand x, const float* weight, const float* bias,
                    int64_t rows, int64_t in, int64_t out, bfloat16* y);
// dx[rows,in] = dy[rows,out] * w[out,in]. dy may be bf16 (the gradient of a bf16 output).
void linear_backward_input(Device device, Operand dy, const float* weight, int64_t rows,
                           int64_t in, int64_t out, float* dx);
// dw[out,in] = beta*dw + dy^T x;  dbias[out] = beta*dbias + column sums of dy (fp32 sums).
void linear_backward_params(Device device, Operand dy, Operand x, int64_t rows, int64_t in,
                            int64_t out, float beta, float* dweight, float* dbias);

// y = bytes * scale elementwise: features stored as uint8 (images), as float.
void bytes_to_float(Device device, const uint8_t* bytes, float* y, int64_t count, float scale);

// GELU, tanh form (GPT-2's and PyTorch's approximate="tanh"):
// y = x/2 (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))); dx = dy * dy/dx (x == y, dy == dx allowed).
// x may be bf16 (read as its exact fp32 value); then x == y is not allowed.
void gelu_forward(Device device, Operand x, float* y, int64_t count);
// The same with y rounded to bf16 (to nearest even) as it is stored.
void gelu_forward(Device device, Operand x, bfloat16* y, int64_t count);
void gelu_backward(Device device, Operand x, const float* dy, float* dx, int64_t count);
// The same with dx rounded to bf16 (to nearest even) as it is stored: the gradient of a bf16
// activation (GptOptions::bf16_activations).
void gelu_backward(Device device, Operand x, const float* dy, bfloat16* dx, int64_t count);

// Layer normalisation over the features of each row of x [rows, features]:
// y = gamma * (x - mean) * rstd + beta, rstd = 1 / sqrt(var + eps) (biased variance), keeping
// each row's mean and rstd for the backward pass.
void layer_norm_forward(Device device, const float* x, const float* gamma, const float* beta, int64_t rows,
                        int64_t features, float eps, float* y, float* mean, float* rstd);
// The same with y rounded to bf16 (to nearest even) as it is stored.
void layer_norm_forward(Device device, const float* x, const float* gamma, const float* beta, int64_t rows,
                        int64_t features, float eps, bfloat16* y, float* mean, float* rstd);
// dx (overwritten; null: not wanted); dgamma = beta_acc * dgamma + sum over rows of dy * xhat;
// dbeta likewise of dy.
void layer_norm_backward(Device device, const float* dy, const float* x, const float* gamma, const float* mean,
                         const float* rstd, int64_t rows, int64_t features, float beta_acc, float* dx, float* dgamma,
                         float* dbeta);

// Inverted dropout with the mask drawn from a counter-based hash of (key, i): element i is kept
// when its uniform draw is >= p, and then scaled by 1/(1-p); the CPU and the GPU draw bitwise the
// same mask for the same key, and backward draws it again instead of storing it.
void dropout_forward(Device device, const float* x, float* y, int64_t count, float p, uint64_t key);
void dropout_backward(Device device, const float* dy, float* dx, int64_t count, float p, uint64_t key);

// y = a + b elementwise (y may be a, or an fp32 b): residual connections. b may be bf16 (a
// branch's bf16 output added to the fp32 residual stream, as under bf16 autocast).
void add(Device device, const float* a, Operand b, float* y, int64_t count);

// y = max(x, 0) elementwise (x == y allowed).
void relu_forward(Device device, const float* x, float* y, int64_t count);
// dx = dy where y > 0, else 0 (dy == dx allowed).
void relu_backward(Device device, const float* y, const float* dy, float* dx, int64_t count);

// y = f(x) and dx = dy * f'(x) of a pointwise activation (pointwise_activations.h); x == y and
// dy == dx allowed.
void pointwise_activation_forward(Device device, PointwiseActivation activation, const float* x, float* y,
                                  int64_t count);
void pointwise_activation_backward(Device device, PointwiseActivation activation, const float* x, const float* dy,
                                   float* dx, int64_t count);

// Softmax cross-entropy over logits[rows,classes] with integer labels, in fp32 (double sums)
// whether the logits are fp32 or bf16 (a GPT's bf16 activations; read as their exact values).
// Adds the summed loss to *loss_sum. If dlogits is not null, writes dlogits = (softmax - onehot) *
// grad_scale; dlogits may be the fp32 logits themselves (a large vocabulary's gradient then needs
// no second buffer). Throws if a label is outside [0, classes).
void softmax_cross_entropy(Device device, Operand logits, const int32_t* labels, int64_t rows,
                           int64_t classes, float grad_scale, float* dlogits, double* loss_sum);
// The same with dlogits (not null) rounded to bf16 as it is stored, for an output head whose
// products are bf16 (it has no bias: only its products read dlogits); it may be the bf16 logits
// themselves, not fp32 ones.
void softmax_cross_entropy_bf16_gradient(Device device, Operand logits, const int32_t* labels, int64_t rows,
                                         int64_t classes, float grad_scale, bfloat16* dlogits, double* loss_sum);

// Squared error of a regression's outputs[rows] (one a row) against its float targets[rows]: adds
// the summed squared error to sums[0], and the targets' sum and sum of squares to sums[1] and
// sums[2] (what R^2 needs). If grad is not null, writes grad = 2 (output - target) * grad_scale.
void squared_error(Device device, const float* outputs, const float* targets, int64_t rows, float grad_scale,
                   float* grad, double* sums);

// Adds to *correct the number of rows whose largest logit is at the label (first maximum wins).
void count_correct(Device device, Operand logits, const int32_t* labels, int64_t rows,
                   int64_t classes, int64_t* correct);

// SGD with momentum and weight decay, PyTorch's form: g += wd*p; v = momentum*v + g; p -= lr*v.
void sgd_momentum(Device device, float* params, const float* grads, float* velocity, int64_t count,
                  float lr, float momentum, float weight_decay,
                  const uint32_t* skip_if_set = nullptr);

// The optimizer kernels take an optional flag in the device's memory (CUDA only; null on the CPU):
// when it is non-zero the update is skipped, so a GPU step can be dropped for non-finite gradients
// without the host waiting to find out first.
//
// AdamW (PyTorch's form, decoupled weight decay), one pass over the arena; `step` counts from 1:
// p -= lr*wd*p; m = b1*m + (1-b1)*g; v = b2*v + (1-b2)*g^2;
// p -= lr * (m / (1 - b1^step)) / (sqrt(v / (1 - b2^step)) + eps).
void adamw(Device device, float* params, const float* grads, float* m, float* v, int64_t count, float lr,
           float beta1, float beta2, float eps, float weight_decay, int64_t step,
           const uint32_t* skip_if_set = nullptr);

// The sum of the squares of the values, accumulated in double (waits for the device's result).
double sum_of_squares(Device device, const float* values, int64_t count);
// values *= factor.
void scale(Device device, float* values, int64_t count, float factor);

// Convolution as matrix products over 2-D images. Images come sample-major, [rows, channels,
// height, width] (NCHW), or channel-major, [channels, rows, height, width]: a convolution's product
// W x columns comes out channel-major, and the layers between convolutions keep it so (no
// transposes), until a Flatten turns it into one row per sample.
struct ConvGeometry {
  int64_t channels = 1, height = 1, width = 1;  // input
  int64_t kernel = 3, stride = 1, padding = 1;
  bool channel_major = false;  // the input (and its gradient) is [channels, rows, height, width]
  int64_t out_height() const { return (height + 2 * padding - kernel) / stride + 1; }
  int64_t out_width() const { return (width + 2 * padding - kernel) / stride + 1; }
  int64_t patch() const { return channels * kernel * kernel; }  // rows of the column matrix
};
// A whole convolution: y [out_channels, rows * out_h * out_w] (channel-major) = W x im2col(x) + b,
// W [out_channels, patch]; and its backward: dW = beta dW + dy x columns^T, db likewise, and, unless
// dx is null, dx = col2im(W^T dy) (overwritten). `columns` is a workspace of conv2d_workspace()
// floats, which backward expects as forward left it: the GPU keeps the whole batch's columns there;
// the CPU needs none (it works through the batch a few samples at a time, their columns in cache,
// recomputing them in backward).
int64_t conv2d_workspace(Device device, const ConvGeometry& g, int64_t rows);
void conv2d_forward(Device device, const ConvGeometry& g, const float* x, int64_t rows, const float* weight,
                    const float* bias, int64_t out_channels, float* y, float* columns);
void conv2d_backward(Device device, const ConvGeometry& g, const float* x, int64_t rows, const float* weight,
                     int64_t out_channels, const float* dy, float beta, float* dweight, float* dbias, float* dx,
                     float* columns);
// y[b, a, c] = x[a, b, c]: swaps the two leading axes of a [a, b, c] array.
void swap_leading_axes(Device device, const float* x, int64_t a, int64_t b, int64_t c, float* y);
// Max pooling with a window x window window and the same stride (no padding; a partial window at
// the edge is dropped), over rows * C planes of H x W in either layout: y has the same layout with
// planes of H/window x W/window, and for each output the index (h * W + w) of its maximum within
// its plane (the first maximum wins), for the backward pass.
void max_pool_forward(Device device, const float* x, int64_t rows, int64_t channels, int64_t height, int64_t width,
                      int64_t window, float* y, int32_t* argmax);
// dx (planes of H x W): each output's gradient at its maximum, zero elsewhere (overwrites dx).
void max_pool_backward(Device device, const float* dy, const int32_t* argmax, int64_t rows, int64_t channels,
                       int64_t height, int64_t width, int64_t window, float* dx);

// Language models. A batch is `rows` windows of context + 1 tokens, stored as float token ids
// [rows, context + 1]: the first `context` tokens are the model's input, the last `context` its
// targets; activations are one row per token, [rows * context, width].
//
// Token and position embedding: y[r * T + t] = wte[tokens[r, t]] + wpe[t], wte [vocab, width],
// wpe [T, width]. A token outside [0, vocab) throws on the CPU; on the GPU it reads row 0 and its
// target's loss is NaN (softmax_cross_entropy), which the trainer reports.
void embedding_forward(Device device, const float* tokens, int64_t rows, int64_t context, int64_t vocab,
                       int64_t width, const float* wte, const float* wpe, float* y);
// dwte = beta_wte * dwte + the sum of dy over the rows of each token; dwpe = beta_wpe * dwpe +
// the sum of dy over the windows at each position. (The GPU adds dwte with atomics: the sum's order,
// and so its last bits, may vary between runs; all ranks still agree after the all-reduce.)
void embedding_backward(Device device, const float* tokens, const float* dy, int64_t rows, int64_t context,
                        int64_t vocab, int64_t width, float beta_wte, float* dwte, float beta_wpe, float* dwpe);
// targets[r * T + t] = tokens[r, t + 1] as int32.
void next_token_targets(Device device, const float* tokens, int64_t rows, int64_t context, int32_t* targets);

// Causal multi-head self-attention over windows of T tokens. qkv [rows * T, 3 * width] holds each
// token's query, key and value (head h's at columns h*d, width + h*d, 2*width + h*d, with
// d = width / heads, as GPT-2 and nanoGPT lay them out); y [rows * T, width] is each head's
// softmax(q k^T / sqrt(d), over keys up to the query's position) v, heads side by side; lse
// [rows, heads, T] keeps each query's log-sum-exp of its scores for the backward pass, which
// recomputes the probabilities from it instead of storing them.
//
// kPlain materialises the T x T scores (the reference: on the GPU cuBLAS batched products and a
// softmax kernel, with a workspace); kFused never does (flash attention's tiling and online
// softmax: one kernel forward, two backward, no workspace, fp32 on the CUDA cores); kTensorCore is
// kFused's tiling with its products on tensor cores, inputs rounded to bf16 and sums in fp32
// (heads of 32 or 64, compute capability 8.0 on). On the CPU all are the plain form.
enum class AttentionAlgorithm { kPlain, kFused, kTensorCore };
// "plain", "fused" or "tensor_core" (model.attention); throws naming the choices otherwise.
AttentionAlgorithm attention_algorithm(const std::string& name);
std::string attention_algorithm_name(AttentionAlgorithm algorithm);
// model.attention = "auto": on a GPU, the tensor-core kernels where the products are bf16 anyway
// (runtime.precision = "bf16"), the GPU has bf16 tensor cores (compute capability 8.0 on) and
// the heads are a size they take; else the fused ones. (On the CPU all are the plain form.)
AttentionAlgorithm automatic_attention(Device device, bool bf16_products, int compute_capability_major,
                                       int64_t head_dim);
struct AttentionShape {
  int64_t rows = 1, context = 1, width = 1, heads = 1;
  int64_t head_dim() const { return width / heads; }
};
// Whether attention_forward and backward take bf16 q, k, v and y for this algorithm and head size:
// on the CPU always, on a GPU the tensor-core kernels' head sizes.
bool attention_takes_bf16(Device device, AttentionAlgorithm algorithm, int64_t head_dim);
// Floats of workspace an algorithm needs on a device (0: none).
int64_t attention_workspace(Device device, AttentionAlgorithm algorithm, const AttentionShape& shape);
void attention_forward(Device device, AttentionAlgorithm algorithm, const AttentionShape& shape, const float* qkv,
                       float* y, float* lse, float* workspace);
// dqkv [rows * T, 3 * width] (overwritten) from dy, with the forward's qkv, y and lse.
void attention_backward(Device device, AttentionAlgorithm algorithm, const AttentionShape& shape, const float* qkv,
                        const float* y, const float* lse, const float* dy, float* dqkv, float* workspace);
// The same with qkv, y and dqkv in bf16 (a GPT's bf16 activations and their gradient, rounded as
// they are stored; dy fp32): on a GPU kTensorCore only (its tiles are bf16 anyway), on the CPU the
// plain form of the exact fp32 values.
void attention_forward(Device device, AttentionAlgorithm algorithm, const AttentionShape& shape, const bfloat16* qkv,
                       bfloat16* y, float* lse, float* workspace);
void attention_backward(Device device, AttentionAlgorithm algorithm, const AttentionShape& shape,
                        const bfloat16* qkv, const bfloat16* y, const float* lse, const float* dy, bfloat16* dqkv,
                        float* workspace);

// Threads used by CPU kernels in this process.
void set_cpu_threads(int threads);
int cpu_threads();

// The library of the CPU matrix products (runtime.cpu_blas): Eigen, or OpenBLAS (single-threaded
// inside each of the blocks the threads split a product into, so that results do not depend on
// the thread count with either). Eigen by default; kAuto is the trainer's choice between them by
// a measurement (choose_cpu_blas), Eigen until it is made.
enum class CpuBlas { kEigen, kOpenBlas, kAuto };
void set_cpu_blas(CpuBlas blas);

// One CPU matrix product's shape: C[m x n] = op(A)[m x k] op(B)[k x n].
struct GemmShape {
  bool transpose_a = false;
  bool transpose_b = false;
  int64_t m = 0, n = 0, k = 0;
  bool operator==(const GemmShape& o) const {
    return transpose_a == o.transpose_a && transpose_b == o.transpose_b && m == o.m && n == o.n && k == o.k;
  }
};
// While `sink` is set (not null), every CPU product's shape is appended to it once (a model's
// products, recorded over one step). Not thread-safe: set and read from one thread.
void record_cpu_gemm_shapes(std::vector<GemmShape>* sink);
// Seconds that `repetitions` runs of every shape in `shapes` take with `blas` (Eigen or OpenBLAS)
// on the current CPU threads, after one untimed run.
double time_cpu_gemms(CpuBlas blas, const std::vector<GemmShape>& shapes, int repetitions);
// "Eigen", or "OpenBLAS (SkylakeX kernels)" with the kernels OpenBLAS runs.
std::string cpu_blas_description();
// "eigen", "openblas", "auto".
const std::vector<std::pair<std::string, CpuBlas>>& cpu_blas_names();

}  // namespace rt::kernels
