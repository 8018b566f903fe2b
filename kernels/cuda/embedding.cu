// Token and position embeddings and next-token targets on the GPU. The token gradient is a
// scatter with atomics (kernels.h says what that means for its last bits); the position gradient
// sums each (position, column) over the windows in order, a thread each (the kernels:
// embedding_kernels.cuh).
#include "kernels/cuda/context.h"
#include "kernels/cuda/cuda_kernels.h"
#include "kernels/cuda/embedding_kernels.cuh"

namespace rt::kernels::cuda {

void embedding_forward(const float* tokens, int64_t rows, int64_t context, int64_t vocab, int64_t width,
                       const float* wte, const float* wpe, float* y) {
  embedding::launch_forward(StreamLaunch{}, tokens, rows, context, vocab, width, wte, wpe, y);
}

void embedding_backward(const float* tokens, const float* dy, int64_t rows, int64_t context, int64_t vocab,
                        int64_t width, float beta_wte, float* dwte, float beta_wpe, float* dwpe) {
  embedding::launch_backward(StreamLaunch{}, tokens, dy, rows, context, vocab, width, beta_wte, dwte, beta_wpe, dwpe);
}

void next_token_targets(const float* tokens, int64_t rows, int64_t context, int32_t* targets) {
  embedding::launch_next_token_targets(StreamLaunch{}, tokens, rows, context, targets);
}

}  // namespace rt::kernels::cuda
