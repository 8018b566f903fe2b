// The CPU twins of kernels/kernels.h (same arguments, no device).
#pragma once

#include <cstdint>

#include "kernels/kernels.h"

namespace rt::kernels::cpu {

void gemm(Transpose trans_a, Transpose trans_b, int64_t m, int64_t n, int64_t k, float alpha,
          const float* a, const float* b, float beta, float* c);
void linear_forward(const float* x, const float* weight, const float* bias, int64_t rows, int64_t in,
                    int64_t out, float* y);
void linear_backward_input(const float* dy, const float* weight, int64_t rows, int64_t in, int64_t out,
                           float* dx);
void linear_backward_params(const float* dy, const float* x, int64_t rows, int64_t in, int64_t out,
                            float beta, float* dweight, float* dbias);
void gelu_forward(const float* x, float* y, int64_t count);
void gelu_backward(const float* x, const float* dy, float* dx, int64_t count);
void layer_norm_forward(const float* x, const float* gamma, const float* beta, int64_t rows, int64_t features,
                        float eps, float* y, float* mean, float* rstd);
void layer_norm_backward(const float* dy, const float* x, const float* gamma, const float* mean, const float* rstd,
                         int64_t rows, int64_t features, float beta_acc, float* dx, float* dgamma, float* dbeta);
void dropout(const float* x, float* y, int64_t count, float p, uint64_t key);
void relu_forward(const float* x, float* y, int64_t count);
void add(const float* a, const float* b, float* y, int64_t count);
void bytes_to_float(const uint8_t* bytes, float* y, int64_t count, float scale);
void relu_backward(const float* y, const float* dy, float* dx, int64_t count);
void pointwise_activation_forward(PointwiseActivation activation, const float* x, float* y, int64_t count);
void pointwise_activation_backward(PointwiseActivation activation, const float* x, const float* dy, float* dx,
                                   int64_t count);
void squared_error(const float* outputs, const float* targets, int64_t rows, float grad_scale, float* grad,
                   double* sums);
void softmax_cross_entropy(const float* logits, const int32_t* labels, int64_t rows, int64_t classes,
                           float grad_scale, float* dlogits, double* loss_sum);
void count_correct(const float* logits, const int32_t* labels, int64_t rows, int64_t classes,
                   int64_t* correct);
void sgd_momentum(float* params, const float* grads, float* velocity, int64_t count, float lr,
                  float momentum, float weight_decay);
void conv2d_forward(const ConvGeometry& g, const float* x, int64_t rows, const float* weight, const float* bias,
                    int64_t out_channels, float* y);
void conv2d_backward(const ConvGeometry& g, const float* x, int64_t rows, const float* weight, int64_t out_channels,
                     const float* dy, float beta, float* dweight, float* dbias, float* dx);
// How many samples conv2d_forward / conv2d_backward take at a time (a function of the geometry and
// the batch only).
int64_t conv_tile_samples(const ConvGeometry& g, int64_t rows);
// Twins of the GPU convolution's pieces (kernels/cuda/cuda_kernels.h), the reference in its tests.
void im2col(const ConvGeometry& g, const float* x, int64_t rows, float* cols);
void col2im(const ConvGeometry& g, const float* cols, int64_t rows, float* dx);
void add_channel_bias(float* y, const float* bias, int64_t channels, int64_t count);
void channel_bias_grad(const float* dy, int64_t channels, int64_t count, float beta, float* dbias);
void swap_leading_axes(const float* x, int64_t a, int64_t b, int64_t c, float* y);
void max_pool_forward(const float* x, int64_t rows, int64_t channels, int64_t height, int64_t width, int64_t window,
                      float* y, int32_t* argmax);
void max_pool_backward(const float* dy, const int32_t* argmax, int64_t rows, int64_t channels, int64_t height,
                       int64_t width, int64_t window, float* dx);
void adamw(float* params, const float* grads, float* m, float* v, int64_t count, float lr, float beta1, float beta2,
           float eps, float weight_decay, int64_t step);
double sum_of_squares(const float* values, int64_t count);
void scale(float* values, int64_t count, float factor);
void set_threads(int threads);
int threads();
// The products through OpenBLAS rather than Eigen (matmul.cpp).
void set_blas(bool openblas);
void record_gemm_shapes(std::vector<GemmShape>* sink);
bool uses_openblas();
void embedding_forward(const float* tokens, int64_t rows, int64_t context, int64_t vocab, int64_t width,
                       const float* wte, const float* wpe, float* y);
void embedding_backward(const float* tokens, const float* dy, int64_t rows, int64_t context, int64_t vocab,
                        int64_t width, float beta_wte, float* dwte, float beta_wpe, float* dwpe);
void next_token_targets(const float* tokens, int64_t rows, int64_t context, int32_t* targets);
void attention_forward(const AttentionShape& shape, const float* qkv, float* y, float* lse);
void attention_backward(const AttentionShape& shape, const float* qkv, const float* y, const float* lse,
                        const float* dy, float* dqkv);

}  // namespace rt::kernels::cpu
