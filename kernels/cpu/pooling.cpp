// Max pooling (window = stride, no padding) on the CPU, split across threads by channel plane.
#include <algorithm>
#include <cstring>
#if defined(__AVX512F__)
#include <immintrin.h>
#endif

#include "kernels/cpu/cpu_kernels.h"

namespace rt::kernels::cpu {

namespace {
// One output row of 2x2 pooling: the maxima of the column pairs of two input rows (upper, and
// the one `width` after it) and their indices, `top` being upper's index in its plane. The first
// maximum wins ties, and a NaN never wins (as `>` decides).
#if defined(__AVX512F__)
// The first `count` of 16 lanes (none below 0, all above 16).
__mmask16 lanes(int64_t count) { return static_cast<__mmask16>((1u << std::clamp<int64_t>(count, 0, 16)) - 1); }

// Sixteen outputs at a time from 32 floats of each row, split into even and odd columns; masked
// loads and stores for the rest of a row (the CNN's rows give 14 and 7 outputs, too short for a
// compiler's vector loop).
void max_pool2_row(const float* upper, int64_t width, int64_t ow_n, int32_t top, float* y, int32_t* argmax) {
  const float* lower = upper + width;
  const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  const __m512i odd = _mm512_add_epi32(even, _mm512_set1_epi32(1));
  const __m512i one = _mm512_set1_epi32(1), down = _mm512_set1_epi32(static_cast<int32_t>(width));
  const __m512i down_right = _mm512_set1_epi32(static_cast<int32_t>(width) + 1);
  for (int64_t ow = 0; ow < ow_n; ow += 16) {
    const int64_t count = std::min<int64_t>(16, ow_n - ow), inputs = 2 * count;
    const __mmask16 first_half = lanes(inputs), second_half = lanes(inputs - 16), outputs = lanes(count);
    const float* u = upper + 2 * ow;
    const float* l = lower + 2 * ow;
    const __m512 u0 = _mm512_maskz_loadu_ps(first_half, u), u1 = _mm512_maskz_loadu_ps(second_half, u + 16);
    const __m512 l0 = _mm512_maskz_loadu_ps(first_half, l), l1 = _mm512_maskz_loadu_ps(second_half, l + 16);
    const __m512 a = _mm512_permutex2var_ps(u0, even, u1), b = _mm512_permutex2var_ps(u0, odd, u1);
    const __m512 c = _mm512_permutex2var_ps(l0, even, l1), d = _mm512_permutex2var_ps(l0, odd, l1);
    const __m512i left = _mm512_add_epi32(_mm512_set1_epi32(top + static_cast<int32_t>(2 * ow)), even);
    __m512 best = a;
    __m512i index = left;
    __mmask16 wins = _mm512_cmp_ps_mask(b, best, _CMP_GT_OQ);
    best = _mm512_mask_mov_ps(best, wins, b);
    index = _mm512_mask_add_epi32(index, wins, left, one);
    wins = _mm512_cmp_ps_mask(c, best, _CMP_GT_OQ);
    best = _mm512_mask_mov_ps(best, wins, c);
    index = _mm512_mask_add_epi32(index, wins, left, down);
    wins = _mm512_cmp_ps_mask(d, best, _CMP_GT_OQ);
    best = _mm512_mask_mov_ps(best, wins, d);
    index = _mm512_mask_add_epi32(index, wins, left, down_right);
    _mm512_mask_storeu_ps(y + ow, outputs, best);
    _mm512_mask_storeu_epi32(argmax + ow, outputs, index);
  }
}
// The gradient of one output row of 2x2 pooling written densely over its two input rows (each
// output's gradient at its maximum, zeros beside it), so the plane needs no zeroing pass first.
void max_pool2_row_backward(const float* dy, const int32_t* argmax, int64_t width, int64_t ow_n, int32_t top,
                            float* upper) {
  float* lower = upper + width;
  const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  const __m512i low_pairs = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
  const __m512i high_pairs = _mm512_add_epi32(low_pairs, _mm512_set1_epi32(8));
  const __m512i one = _mm512_set1_epi32(1), down = _mm512_set1_epi32(static_cast<int32_t>(width));
  for (int64_t ow = 0; ow < ow_n; ow += 16) {
    const int64_t count = std::min<int64_t>(16, ow_n - ow), inputs = 2 * count;
    const __mmask16 first_half = lanes(inputs), second_half = lanes(inputs - 16), outputs = lanes(count);
    const __m512 g = _mm512_maskz_loadu_ps(outputs, dy + ow);
    const __m512i index = _mm512_maskz_loadu_epi32(outputs, argmax + ow);
    const __m512i left = _mm512_add_epi32(_mm512_set1_epi32(top + static_cast<int32_t>(2 * ow)), even);
    const __m512i below = _mm512_add_epi32(left, down);
    const __m512 a = _mm512_maskz_mov_ps(_mm512_cmpeq_epi32_mask(index, left), g);
    const __m512 b = _mm512_maskz_mov_ps(_mm512_cmpeq_epi32_mask(index, _mm512_add_epi32(left, one)), g);
    const __m512 c = _mm512_maskz_mov_ps(_mm512_cmpeq_epi32_mask(index, below), g);
    const __m512 d = _mm512_maskz_mov_ps(_mm512_cmpeq_epi32_mask(index, _mm512_add_epi32(below, one)), g);
    _mm512_mask_storeu_ps(upper + 2 * ow, first_half, _mm512_permutex2var_ps(a, low_pairs, b));
    _mm512_mask_storeu_ps(upper + 2 * ow + 16, second_half, _mm512_permutex2var_ps(a, high_pairs, b));
    _mm512_mask_storeu_ps(lower + 2 * ow, first_half, _mm512_permutex2var_ps(c, low_pairs, d));
    _mm512_mask_storeu_ps(lower + 2 * ow + 16, second_half, _mm512_permutex2var_ps(c, high_pairs, d));
  }
}
#else
void max_pool2_row(const float* upper, int64_t width, int64_t ow_n, int32_t top, float* y, int32_t* argmax) {
  const float* lower = upper + width;
  for (int64_t ow = 0; ow < ow_n; ++ow) {  // branch-free, so the compiler may vectorise it
    const float a = upper[2 * ow], b = upper[2 * ow + 1], c = lower[2 * ow], d = lower[2 * ow + 1];
    const int32_t left = top + static_cast<int32_t>(2 * ow);
    float best = a;
    int32_t index = left;
    index = b > best ? left + 1 : index;
    best = b > best ? b : best;
    index = c > best ? left + static_cast<int32_t>(width) : index;
    best = c > best ? c : best;
    index = d > best ? left + static_cast<int32_t>(width) + 1 : index;
    best = d > best ? d : best;
    y[ow] = best;
    argmax[ow] = index;
  }
}

void max_pool2_row_backward(const float* dy, const int32_t* argmax, int64_t width, int64_t ow_n, int32_t top,
                            float* upper) {
  float* lower = upper + width;
  for (int64_t ow = 0; ow < ow_n; ++ow) {
    const int32_t left = top + static_cast<int32_t>(2 * ow), below = left + static_cast<int32_t>(width);
    upper[2 * ow] = argmax[ow] == left ? dy[ow] : 0.0f;
    upper[2 * ow + 1] = argmax[ow] == left + 1 ? dy[ow] : 0.0f;
    lower[2 * ow] = argmax[ow] == below ? dy[ow] : 0.0f;
    lower[2 * ow + 1] = argmax[ow] == below + 1 ? dy[ow] : 0.0f;
  }
}
#endif
}  // namespace

void max_pool_forward(const float* x, int64_t rows, int64_t channels, int64_t height, int64_t width, int64_t window,
                      float* y, int32_t* argmax) {
  const int64_t oh_n = height / window, ow_n = width / window;
#pragma omp parallel for collapse(2) schedule(static)
  for (int64_t n = 0; n < rows; ++n) {
    for (int64_t c = 0; c < channels; ++c) {
      const float* plane = x + (n * channels + c) * height * width;
      const int64_t out = (n * channels + c) * oh_n * ow_n;
      if (window == 2) {
        for (int64_t oh = 0; oh < oh_n; ++oh) {
          max_pool2_row(plane + 2 * oh * width, width, ow_n, static_cast<int32_t>(2 * oh * width),
                        y + out + oh * ow_n, argmax + out + oh * ow_n);
        }
        continue;
      }
      for (int64_t oh = 0; oh < oh_n; ++oh) {
        for (int64_t ow = 0; ow < ow_n; ++ow) {
          int64_t best = oh * window * width + ow * window;
          for (int64_t i = 0; i < window; ++i) {
            for (int64_t j = 0; j < window; ++j) {
              const int64_t at = (oh * window + i) * width + ow * window + j;
              if (plane[at] > plane[best]) best = at;
            }
          }
          y[out + oh * ow_n + ow] = plane[best];
          argmax[out + oh * ow_n + ow] = static_cast<int32_t>(best);
        }
      }
    }
  }
}

void max_pool_backward(const float* dy, const int32_t* argmax, int64_t rows, int64_t channels, int64_t height,
                       int64_t width, int64_t window, float* dx) {
  const int64_t out_plane = (height / window) * (width / window);
#pragma omp parallel for collapse(2) schedule(static)
  for (int64_t n = 0; n < rows; ++n) {
    for (int64_t c = 0; c < channels; ++c) {
      float* plane = dx + (n * channels + c) * height * width;
      const int64_t out = (n * channels + c) * out_plane;
      if (window == 2) {
        const int64_t oh_n = height / 2, ow_n = width / 2;
        for (int64_t oh = 0; oh < oh_n; ++oh) {
          float* upper = plane + 2 * oh * width;
          max_pool2_row_backward(dy + out + oh * ow_n, argmax + out + oh * ow_n, width, ow_n,
                                 static_cast<int32_t>(2 * oh * width), upper);
          if (width % 2 != 0) upper[width - 1] = upper[2 * width - 1] = 0.0f;  // the dropped column
        }
        if (height % 2 != 0) std::fill(plane + (height - 1) * width, plane + height * width, 0.0f);  // dropped row
        continue;
      }
      std::memset(plane, 0, static_cast<size_t>(height * width) * sizeof(float));
      for (int64_t o = 0; o < out_plane; ++o) plane[argmax[out + o]] = dy[out + o];  // windows do not overlap
    }
  }
}

}  // namespace rt::kernels::cpu
