// The CUDA entry points of a build without CUDA: no device, and every kernel an error that says so.
#include "core/base/check.h"
#include "kernels/cuda/cuda_kernels.h"

namespace rt::kernels::cuda {

namespace {
[[noreturn]] void unavailable(const char* what) { RT_FAIL("{} needs a build of ringtrain with CUDA", what); }
}  // namespace

int device_count() { return 0; }
int compute_capability_major() { unavailable("compute_capability_major"); }
void set_device(int) { unavailable("set_device"); }
void synchronize() { unavailable("synchronize"); }
void set_matmul_precision(MatmulPrecision) { unavailable("set_matmul_precision"); }
void set_fused_bias(bool) { unavailable("set_fused_bias"); }
BiasEpilogueCounts bias_epilogue_counts() { unavailable("bias_epilogue_counts"); }
void* allocate(size_t) { unavailable("GPU memory"); }
void release(void*) noexcept {}
void copy_to_device(void*, const void*, size_t) { unavailable("copy_to_device"); }
void copy_to_host(void*, const void*, size_t) { unavailable("copy_to_host"); }
void fill_bytes(void*, int, size_t) { unavailable("fill_bytes"); }
std::string device_description(int) { unavailable("device_description"); }
size_t device_memory_in_use() { unavailable("device_memory_in_use"); }
void* allocate_pinned(size_t) { unavailable("pinned memory"); }
void release_pinned(void*) noexcept {}
StreamHandle create_stream() { unavailable("create_stream"); }
void destroy_stream(StreamHandle) noexcept {}
StreamHandle current_stream_handle() { return nullptr; }
void set_current_stream(StreamHandle) { unavailable("set_current_stream"); }
EventHandle create_event(bool) { unavailable("create_event"); }
void destroy_event(EventHandle) noexcept {}
void record_event(EventHandle, StreamHandle) { unavailable("record_event"); }
void stream_wait_event(StreamHandle, EventHandle) { unavailable("stream_wait_event"); }
void synchronize_event(EventHandle) { unavailable("synchronize_event"); }
float elapsed_milliseconds(EventHandle, EventHandle) { unavailable("elapsed_milliseconds"); }
void synchronize_stream(StreamHandle) { unavailable("synchronize_stream"); }
void copy_async(void*, const void*, size_t, StreamHandle) { unavailable("copy_async"); }
void gemm(Transpose, Transpose, int64_t, int64_t, int64_t, float, Operand, Operand, float, float*) {
  unavailable("kernel gemm");
}
void gemm(Transpose, Transpose, int64_t, int64_t, int64_t, float, Operand, Operand, bfloat16*) {
  unavailable("kernel gemm");
}
void linear_forward(Operand, const float*, const float*, int64_t, int64_t, int64_t, float*) {
  unavailable("kernel linear_forward");
}
void linear_forward(Operand, const float*, const float*, int64_t, int64_t, int64_t, bfloat16*) {
  unavailable("kernel linear_forward");
}
void linear_backward_input(Operand, const float*, int64_t, int64_t, int64_t, float*) {
  unavailable("kernel linear_backward_input");
}
void linear_backward_params(Operand, Operand, int64_t, int64_t, int64_t, float, float*, float*) {
  unavailable("kernel linear_backward_params");
}
void bytes_to_float(const uint8_t*, float*, int64_t, float) { unavailable("kernel bytes_to_float"); }
void gelu_forward(Operand, float*, int64_t) { unavailable("kernel gelu_forward"); }
void gelu_forward(Operand, bfloat16*, int64_t) { unavailable("kernel gelu_forward"); }
void dropout(const float*, float*, int64_t, float, uint64_t) { unavailable("kernel dropout"); }
void gelu_backward(Operand, const float*, float*, int64_t) { unavailable("kernel gelu_backward"); }
void gelu_backward(Operand, const float*, bfloat16*, int64_t) { unavailable("kernel gelu_backward"); }
void layer_norm_forward(const float*, const float*, const float*, int64_t, int64_t, float, float*, float*, float*) {
  unavailable("kernel layer_norm_forward");
}
void layer_norm_forward(const float*, const float*, const float*, int64_t, int64_t, float, bfloat16*, float*, float*) {
  unavailable("kernel layer_norm_forward");
}
void layer_norm_backward(const float*, const float*, const float*, const float*, const float*, int64_t, int64_t, float,
                         float*, float*, float*) {
  unavailable("kernel layer_norm_backward");
}
void relu_forward(const float*, float*, int64_t) { unavailable("kernel relu_forward"); }
void relu_backward(const float*, const float*, float*, int64_t) { unavailable("kernel relu_backward"); }
void pointwise_activation_forward(PointwiseActivation activation, const float*, float*, int64_t) {
  unavailable((std::string("kernel ") + pointwise_activation_name(activation) + "_forward").c_str());
}
void pointwise_activation_backward(PointwiseActivation activation, const float*, const float*, float*, int64_t) {
  unavailable((std::string("kernel ") + pointwise_activation_name(activation) + "_backward").c_str());
}
void squared_error(const float*, const float*, int64_t, float, float*, double*) { unavailable("kernel squared_error"); }
void softmax_cross_entropy(Operand, const int32_t*, int64_t, int64_t, float, float*, double*) {
  unavailable("kernel softmax_cross_entropy");
}
void softmax_cross_entropy_bf16_gradient(Operand, const int32_t*, int64_t, int64_t, float, bfloat16*, double*) {
  unavailable("kernel softmax_cross_entropy_bf16_gradient");
}
void count_correct(Operand, const int32_t*, int64_t, int64_t, int64_t*) { unavailable("kernel count_correct"); }
void sgd_momentum(float*, const float*, float*, int64_t, float, float, float, const uint32_t*) {
  unavailable("kernel sgd_momentum");
}
void nonfinite_flag(const float*, int64_t, uint32_t*) { unavailable("kernel nonfinite_flag"); }
void adamw(float*, const float*, float*, float*, int64_t, float, float, float, float, float, int64_t, const uint32_t*) {
  unavailable("kernel adamw");
}
double sum_of_squares(const float*, int64_t) { unavailable("kernel sum_of_squares"); }
void scale(float*, int64_t, float) { unavailable("kernel scale"); }
void im2col(const ConvGeometry&, const float*, int64_t, float*) { unavailable("kernel im2col"); }
void col2im(const ConvGeometry&, const float*, int64_t, float*) { unavailable("kernel col2im"); }
void swap_leading_axes(const float*, int64_t, int64_t, int64_t, float*) { unavailable("kernel swap_leading_axes"); }
void add_channel_bias(float*, const float*, int64_t, int64_t) { unavailable("kernel add_channel_bias"); }
void channel_bias_grad(const float*, int64_t, int64_t, float, float*) { unavailable("kernel channel_bias_grad"); }
void max_pool_forward(const float*, int64_t, int64_t, int64_t, int64_t, int64_t, float*, int32_t*) {
  unavailable("kernel max_pool_forward");
}
void max_pool_backward(const float*, const int32_t*, int64_t, int64_t, int64_t, int64_t, int64_t, float*) {
  unavailable("kernel max_pool_backward");
}

void add(const float*, Operand, float*, int64_t) { unavailable("kernel add"); }
void embedding_forward(const float*, int64_t, int64_t, int64_t, int64_t, const float*, const float*, float*) {
  unavailable("kernel embedding_forward");
}
void embedding_backward(const float*, const float*, int64_t, int64_t, int64_t, int64_t, float, float*, float, float*) {
  unavailable("kernel embedding_backward");
}
void next_token_targets(const float*, int64_t, int64_t, int32_t*) { unavailable("kernel next_token_targets"); }
int64_t attention_workspace(AttentionAlgorithm, const AttentionShape&) { unavailable("attention on the GPU"); }
bool tensor_core_attention_supported(int64_t) { return false; }  // no kernels in this build
void begin_same_operands() { unavailable("bf16 products"); }
void end_same_operands() noexcept {}
void attention_forward(AttentionAlgorithm, const AttentionShape&, const float*, float*, float*, float*) {
  unavailable("kernel attention_forward");
}
void attention_backward(AttentionAlgorithm, const AttentionShape&, const float*, const float*, const float*,
                        const float*, float*, float*) {
  unavailable("kernel attention_backward");
}
void attention_forward(AttentionAlgorithm, const AttentionShape&, const bfloat16*, bfloat16*, float*, float*) {
  unavailable("kernel attention_forward");
}
void attention_backward(AttentionAlgorithm, const AttentionShape&, const bfloat16*, const bfloat16*, const float*,
                        const float*, bfloat16*, float*) {
  unavailable("kernel attention_backward");
}

}  // namespace rt::kernels::cuda
