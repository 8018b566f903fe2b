// Dispatch by device. The CUDA twins join here when the build has CUDA; until then asking for
// the GPU is an error that says so.
#include "kernels/kernels.h"

#include "kernels/cpu/cpu_kernels.h"

namespace rt::kernels {

namespace {
void require_cpu(Device device, const char* kernel) {
  RT_CHECK(device == Device::kCpu, "kernel {} has no {} implementation in this build", kernel,
           device_name(device));
}
}  // namespace

void gemm(Device device, Transpose trans_a, Transpose trans_b, int64_t m, int64_t n, int64_t k,
          float alpha, const float* a, const float* b, float beta, float* c) {
  require_cpu(device, "gemm");
  cpu::gemm(trans_a, trans_b, m, n, k, alpha, a, b, beta, c);
}

void linear_forward(Device device, const float* x, const float* weight, const float* bias,
                    int64_t rows, int64_t in, int64_t out, float* y) {
  require_cpu(device, "linear_forward");
  cpu::linear_forward(x, weight, bias, rows, in, out, y);
}

void linear_backward_input(Device device, const float* dy, const float* weight, int64_t rows,
                           int64_t in, int64_t out, float* dx) {
  require_cpu(device, "linear_backward_input");
  cpu::linear_backward_input(dy, weight, rows, in, out, dx);
}

void linear_backward_params(Device device, const float* dy, const float* x, int64_t rows, int64_t in,
                            int64_t out, float beta, float* dweight, float* dbias) {
  require_cpu(device, "linear_backward_params");
  cpu::linear_backward_params(dy, x, rows, in, out, beta, dweight, dbias);
}

void relu_forward(Device device, const float* x, float* y, int64_t count) {
  require_cpu(device, "relu_forward");
  cpu::relu_forward(x, y, count);
}

void relu_backward(Device device, const float* y, const float* dy, float* dx, int64_t count) {
  require_cpu(device, "relu_backward");
  cpu::relu_backward(y, dy, dx, count);
}

void softmax_cross_entropy(Device device, const float* logits, const int32_t* labels, int64_t rows,
                           int64_t classes, float grad_scale, float* dlogits, double* loss_sum) {
  require_cpu(device, "softmax_cross_entropy");
  cpu::softmax_cross_entropy(logits, labels, rows, classes, grad_scale, dlogits, loss_sum);
}

void count_correct(Device device, const float* logits, const int32_t* labels, int64_t rows,
                   int64_t classes, int64_t* correct) {
  require_cpu(device, "count_correct");
  cpu::count_correct(logits, labels, rows, classes, correct);
}

void sgd_momentum(Device device, float* params, const float* grads, float* velocity, int64_t count,
                  float lr, float momentum, float weight_decay) {
  require_cpu(device, "sgd_momentum");
  cpu::sgd_momentum(params, grads, velocity, count, lr, momentum, weight_decay);
}

void set_cpu_threads(int threads) { cpu::set_threads(threads); }
int cpu_threads() { return cpu::threads(); }

}  // namespace rt::kernels
