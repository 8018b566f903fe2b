// Softmax cross-entropy and argmax accuracy: one block per row, the row's maximum and sum of
// exponentials in one pass over it and reduced in shared memory, then one more pass to write the
// gradient (the kernels: loss_kernels.cuh).
#include <cmath>

#include "kernels/cuda/context.h"
#include "kernels/cuda/cuda_kernels.h"
#include "kernels/cuda/loss_kernels.cuh"

namespace rt::kernels::cuda {

void softmax_cross_entropy(Operand logits, const int32_t* labels, int64_t rows, int64_t classes, float grad_scale,
                           float* dlogits, double* loss_sum) {
  with_values(logits, [&](auto x) {
    launch_softmax_cross_entropy(StreamLaunch{}, x, labels, rows, classes, grad_scale, dlogits, loss_sum);
  });
}

void softmax_cross_entropy_bf16_gradient(Operand logits, const int32_t* labels, int64_t rows, int64_t classes,
                                         float grad_scale, bfloat16* dlogits, double* loss_sum) {
  with_values(logits, [&](auto x) {
    launch_softmax_cross_entropy(StreamLaunch{}, x, labels, rows, classes, grad_scale,
                                 device_bf16(dlogits), loss_sum);
  });
}

void squared_error(const float* outputs, const float* targets, int64_t rows, float grad_scale, float* grad,
                   double* sums) {
  launch_squared_error(StreamLaunch{}, outputs, targets, rows, grad_scale, grad, sums);
}

void count_correct(Operand logits, const int32_t* labels, int64_t rows, int64_t classes, int64_t* correct) {
  static_assert(sizeof(int64_t) == sizeof(unsigned long long), "the counter is added to as 64 bits");
  with_values(logits, [&](auto x) {
    launch_count_correct(StreamLaunch{}, x, labels, rows, classes, reinterpret_cast<unsigned long long*>(correct));
  });
}

}  // namespace rt::kernels::cuda
