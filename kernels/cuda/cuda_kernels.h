// The CUDA twins of kernels/kernels.h, with the same arguments, all pointers on the device
// (loss_sum and correct included). They run on the calling thread's stream (set_stream) and are
// asynchronous: a result is ready on the host after synchronize(). No CUDA header is needed to
// call them; without CUDA in the build every one of them throws, saying so.
//
// One difference from the CPU twins: a label outside [0, classes) cannot throw from a kernel, so
// softmax_cross_entropy makes that row's loss and gradient NaN; the trainer's non-finite check
// then skips the step and reports it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "kernels/kernels.h"

namespace rt::kernels::cuda {

// Devices visible to this process (0 when the build or the machine has no CUDA).
int device_count();
// The current device's compute capability, major part (8 for A100, 9 for H100 and H200).
int compute_capability_major();
void set_device(int device);
void synchronize();
// How float32 matrix products run on this thread: exact fp32 (the default), or on tensor cores
// with inputs rounded to TF32 (10-bit mantissa) or to bf16 (8-bit), always accumulating in fp32
// and reading and writing fp32 (runtime.precision).
enum class MatmulPrecision { kFp32, kTf32, kBf16 };
void set_matmul_precision(MatmulPrecision precision);
inline void set_tf32(bool enabled) { set_matmul_precision(enabled ? MatmulPrecision::kTf32 : MatmulPrecision::kFp32); }
// Whether linear_forward adds the bias in the product's epilogue (cuBLASLt; the default) or with a
// kernel of its own after it, on the calling thread: for tests and measurements.
void set_fused_bias(bool enabled);
// How this thread's linear_forward calls with rows added their bias so far: in the product's
// epilogue, or by the kernel after it (asked for, or where cuBLASLt had no kernel or the bias is
// not 16-byte aligned).
struct BiasEpilogueCounts {
  int64_t in_epilogue = 0;
  int64_t by_kernel = 0;
};
BiasEpilogueCounts bias_epilogue_counts();

// Bytes of the current device's memory in use by every process (total - free, as the driver
// reports it, the CUDA context included).
size_t device_memory_in_use();

// "NVIDIA H100 80GB HBM3, 79 GiB, bus 0000:1b:00.0"
std::string device_description(int device);

// Device memory; the owning RAII type over it is DeviceBuffer (device_buffer.h). The copies and
// fill_bytes are ordered on the calling thread's stream; copy_to_device and copy_to_host wait for it.
void* allocate(size_t bytes);
void release(void* pointer) noexcept;
void copy_to_device(void* device, const void* host, size_t bytes);
void copy_to_host(void* host, const void* device, size_t bytes);
void fill_bytes(void* device, int byte, size_t bytes);
// Page-locked host memory, which the GPU copies from asynchronously (PinnedBuffer owns it).
void* allocate_pinned(size_t bytes);
void release_pinned(void* pointer) noexcept;

// Streams and events as opaque handles, so callers need no CUDA header; Stream and Event
// (stream.h) own them. A null stream is the legacy default stream.
using StreamHandle = void*;
using EventHandle = void*;
StreamHandle create_stream();  // non-blocking: no implicit ordering against the default stream
void destroy_stream(StreamHandle stream) noexcept;
StreamHandle current_stream_handle();
void set_current_stream(StreamHandle stream);  // the calling thread's kernels and cuBLAS run on it
EventHandle create_event(bool timing);
void destroy_event(EventHandle event) noexcept;
void record_event(EventHandle event, StreamHandle stream);
void stream_wait_event(StreamHandle stream, EventHandle event);  // the stream waits; the host does not
void synchronize_event(EventHandle event);                       // the host waits
float elapsed_milliseconds(EventHandle start, EventHandle end);  // events created with timing
void synchronize_stream(StreamHandle stream);
void copy_async(void* destination, const void* source, size_t bytes, StreamHandle stream);

// *device_flag (device memory) becomes 1 if a value is NaN or infinite, else 0, in stream order,
// without waiting (an optimizer's skip flag, copied back to the host later).
void nonfinite_flag(const float* values, int64_t count, uint32_t* device_flag);

void gemm(Transpose trans_a, Transpose trans_b, int64_t m, int64_t n, int64_t k, float alpha, Operand a, Operand b,
          float beta, float* c);
// C stored in bf16 (beta 0), with bf16 products.
void gemm(Transpose trans_a, Transpose trans_b, int64_t m, int64_t n, int64_t k, float alpha, Operand a, Operand b,
          bfloat16* c);
// kernels::SameOperands on the GPU: from begin to end, bf16 products reuse a buffer's rounding.
void begin_same_operands();
void end_same_operands() noexcept;
void linear_forward(Operand x, const float* weight, const float* bias, int64_t rows, int64_t in, int64_t out, float* y);
void linear_forward(Operand x, const float* weight, const float* bias, int64_t rows, int64_t in, int64_t out,
                    bfloat16* y);
void linear_backward_input(Operand dy, const float* weight, int64_t rows, int64_t in, int64_t out, float* dx);
void linear_backward_params(Operand dy, Operand x, int64_t rows, int64_t in, int64_t out, float beta,
                            float* dweight, float* dbias);
void gelu_forward(Operand x, float* y, int64_t count);
void gelu_forward(Operand x, bfloat16* y, int64_t count);
void gelu_backward(Operand x, const float* dy, float* dx, int64_t count);
void gelu_backward(Operand x, const float* dy, bfloat16* dx, int64_t count);
void layer_norm_forward(const float* x, const float* gamma, const float* beta, int64_t rows, int64_t features,
                        float eps, float* y, float* mean, float* rstd);
void layer_norm_forward(const float* x, const float* gamma, const float* beta, int64_t rows, int64_t features,
                        float eps, bfloat16* y, float* mean, float* rstd);
void layer_norm_backward(const float* dy, const float* x, const float* gamma, const float* mean, const float* rstd,
                         int64_t rows, int64_t features, float beta_acc, float* dx, float* dgamma, float* dbeta);
void dropout(const float* x, float* y, int64_t count, float p, uint64_t key);
void bytes_to_float(const uint8_t* bytes, float* y, int64_t count, float scale);
void relu_forward(const float* x, float* y, int64_t count);
void add(const float* a, Operand b, float* y, int64_t count);
void relu_backward(const float* y, const float* dy, float* dx, int64_t count);
void pointwise_activation_forward(PointwiseActivation activation, const float* x, float* y, int64_t count);
void pointwise_activation_backward(PointwiseActivation activation, const float* x, const float* dy, float* dx,
                                   int64_t count);
void squared_error(const float* outputs, const float* targets, int64_t rows, float grad_scale, float* grad,
                   double* sums);
void softmax_cross_entropy(Operand logits, const int32_t* labels, int64_t rows, int64_t classes,
                           float grad_scale, float* dlogits, double* loss_sum);
void softmax_cross_entropy_bf16_gradient(Operand logits, const int32_t* labels, int64_t rows, int64_t classes,
                                         float grad_scale, bfloat16* dlogits, double* loss_sum);
void count_correct(Operand logits, const int32_t* labels, int64_t rows, int64_t classes, int64_t* correct);
void sgd_momentum(float* params, const float* grads, float* velocity, int64_t count, float lr, float momentum,
                  float weight_decay, const uint32_t* skip_if_set = nullptr);
void adamw(float* params, const float* grads, float* m, float* v, int64_t count, float lr, float beta1, float beta2,
           float eps, float weight_decay, int64_t step, const uint32_t* skip_if_set = nullptr);
double sum_of_squares(const float* values, int64_t count);
void scale(float* values, int64_t count, float factor);
// The pieces of the GPU's convolution (kernels::conv2d_forward / conv2d_backward), with CPU twins
// in kernels/cpu as their tests' reference. im2col: cols [patch, rows * out_h * out_w] (for each
// patch entry, the samples' output positions in order) from the images x, zero padding. col2im:
// dx (the images' layout, overwritten) = the sum of cols' entries over the positions they were
// taken from. add_channel_bias: y[ch, i] += bias[ch] over channel-major y [channels, count].
// channel_bias_grad: dbias[ch] = beta * dbias[ch] + the sum over i of dy[ch, i].
void im2col(const ConvGeometry& g, const float* x, int64_t rows, float* cols);
void col2im(const ConvGeometry& g, const float* cols, int64_t rows, float* dx);
void add_channel_bias(float* y, const float* bias, int64_t channels, int64_t count);
void channel_bias_grad(const float* dy, int64_t channels, int64_t count, float beta, float* dbias);
void swap_leading_axes(const float* x, int64_t a, int64_t b, int64_t c, float* y);
void max_pool_forward(const float* x, int64_t rows, int64_t channels, int64_t height, int64_t width, int64_t window,
                      float* y, int32_t* argmax);
void max_pool_backward(const float* dy, const int32_t* argmax, int64_t rows, int64_t channels, int64_t height,
                       int64_t width, int64_t window, float* dx);

void embedding_forward(const float* tokens, int64_t rows, int64_t context, int64_t vocab, int64_t width,
                       const float* wte, const float* wpe, float* y);
void embedding_backward(const float* tokens, const float* dy, int64_t rows, int64_t context, int64_t vocab,
                        int64_t width, float beta_wte, float* dwte, float beta_wpe, float* dwpe);
void next_token_targets(const float* tokens, int64_t rows, int64_t context, int32_t* targets);
int64_t attention_workspace(AttentionAlgorithm algorithm, const AttentionShape& shape);
void attention_forward(AttentionAlgorithm algorithm, const AttentionShape& shape, const float* qkv, float* y,
                       float* lse, float* workspace);
void attention_backward(AttentionAlgorithm algorithm, const AttentionShape& shape, const float* qkv, const float* y,
                        const float* lse, const float* dy, float* dqkv, float* workspace);
void attention_forward(AttentionAlgorithm algorithm, const AttentionShape& shape, const bfloat16* qkv, bfloat16* y,
                       float* lse, float* workspace);
void attention_backward(AttentionAlgorithm algorithm, const AttentionShape& shape, const bfloat16* qkv,
                        const bfloat16* y, const float* lse, const float* dy, bfloat16* dqkv, float* workspace);
// kTensorCore's kernels (attention_tensor_core.cu): heads of 32 or 64, compute capability 8.0 on.
bool tensor_core_attention_supported(int64_t head_dim);
void tensor_core_attention_forward(const AttentionShape& shape, const float* qkv, float* y, float* lse, float scale);
void tensor_core_attention_backward(const AttentionShape& shape, const float* qkv, const float* y, const float* lse,
                                    const float* dy, float* dqkv, float scale);
void tensor_core_attention_forward(const AttentionShape& shape, const bfloat16* qkv, bfloat16* y, float* lse,
                                   float scale);
void tensor_core_attention_backward(const AttentionShape& shape, const bfloat16* qkv, const bfloat16* y,
                                    const float* lse, const float* dy, bfloat16* dqkv, float scale);

}  // namespace rt::kernels::cuda
