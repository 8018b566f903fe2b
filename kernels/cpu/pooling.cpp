// Max pooling (window = stride, no padding) on the CPU, split across threads by channel plane.
#include <algorithm>
#include <cstring>
#if defined(__AVX512F__) || defined(__AVX2__)
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
#elif defined(__AVX2__)
// As above with eight lanes (processors without AVX-512). A row of 8 outputs or more goes by whole
// vectors, its last one moved back to end at the row's end (some outputs computed twice, the same
// way); only shorter rows (the CNN's second pooling gives 7) take masked loads and a tail stored
// lane by lane, as AMD's processors run masked stores (vmaskmovps) slowly.
// The first `count` of 8 floats (or int32) at `at`, the rest zero (none read).
__m256 load_first(const float* at, int64_t count) {
  if (count >= 8) return _mm256_loadu_ps(at);
  const __m256i mask = _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int32_t>(std::max<int64_t>(count, 0))),
                                          _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
  return _mm256_maskload_ps(at, mask);
}
__m256i load_first(const int32_t* at, int64_t count) {
  return _mm256_castps_si256(load_first(reinterpret_cast<const float*>(at), count));
}
// The first `count` (up to 8) lanes of v stored at `at`.
template <typename T, typename Vector>
void store_first(T* at, Vector v, int64_t count) {
  if (count >= 8) {
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(at), reinterpret_cast<const __m256i&>(v));
    return;
  }
  alignas(32) T lanes_of_v[8];
  _mm256_store_si256(reinterpret_cast<__m256i*>(lanes_of_v), reinterpret_cast<const __m256i&>(v));
  for (int64_t i = 0; i < count; ++i) at[i] = lanes_of_v[i];
}
// Where the row's next vector of outputs starts: `next`, or the last whole vector of the row.
int64_t vector_start(int64_t next, int64_t ow_n) { return next + 8 > ow_n && ow_n >= 8 ? ow_n - 8 : next; }
// The even (or odd) floats of the 16 in v0, v1, in order: shuffle within each 128-bit half, then
// put the halves' 64-bit pairs back in order.
__m256 evens(__m256 v0, __m256 v1) {
  const __m256 inside = _mm256_shuffle_ps(v0, v1, _MM_SHUFFLE(2, 0, 2, 0));
  return _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(inside), _MM_SHUFFLE(3, 1, 2, 0)));
}
__m256 odds(__m256 v0, __m256 v1) {
  const __m256 inside = _mm256_shuffle_ps(v0, v1, _MM_SHUFFLE(3, 1, 3, 1));
  return _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(inside), _MM_SHUFFLE(3, 1, 2, 0)));
}
// Where `wins`, `value` and `at` replace best and index.
void take(__m256 wins, __m256 value, __m256i at, __m256& best, __m256i& index) {
  best = _mm256_blendv_ps(best, value, wins);
  index = _mm256_castps_si256(_mm256_blendv_ps(_mm256_castsi256_ps(index), _mm256_castsi256_ps(at), wins));
}

void max_pool2_row(const float* upper, int64_t width, int64_t ow_n, int32_t top, float* y, int32_t* argmax) {
  const float* lower = upper + width;
  const __m256i even = _mm256_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14);
  const __m256i one = _mm256_set1_epi32(1), down = _mm256_set1_epi32(static_cast<int32_t>(width));
  for (int64_t next = 0; next < ow_n; next += 8) {
    const int64_t ow = vector_start(next, ow_n), count = std::min<int64_t>(8, ow_n - ow), inputs = 2 * count;
    const float* u = upper + 2 * ow;
    const float* l = lower + 2 * ow;
    const __m256 u0 = load_first(u, inputs), u1 = load_first(u + 8, inputs - 8);
    const __m256 l0 = load_first(l, inputs), l1 = load_first(l + 8, inputs - 8);
    const __m256 a = evens(u0, u1), b = odds(u0, u1), c = evens(l0, l1), d = odds(l0, l1);
    const __m256i left = _mm256_add_epi32(_mm256_set1_epi32(top + static_cast<int32_t>(2 * ow)), even);
    const __m256i below = _mm256_add_epi32(left, down);
    __m256 best = a;
    __m256i index = left;
    take(_mm256_cmp_ps(b, best, _CMP_GT_OQ), b, _mm256_add_epi32(left, one), best, index);
    take(_mm256_cmp_ps(c, best, _CMP_GT_OQ), c, below, best, index);
    take(_mm256_cmp_ps(d, best, _CMP_GT_OQ), d, _mm256_add_epi32(below, one), best, index);
    store_first(y + ow, best, count);
    store_first(argmax + ow, index, count);
  }
}

void max_pool2_row_backward(const float* dy, const int32_t* argmax, int64_t width, int64_t ow_n, int32_t top,
                            float* upper) {
  float* lower = upper + width;
  const __m256i even = _mm256_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14);
  const __m256i one = _mm256_set1_epi32(1), down = _mm256_set1_epi32(static_cast<int32_t>(width));
  // a0 b0 a1 b1 ... a7 b7 as two vectors of eight: the pairs of each 128-bit half, then the halves.
  auto store_pairs = [](float* at, int64_t inputs, __m256 a, __m256 b) {
    const __m256 low = _mm256_unpacklo_ps(a, b), high = _mm256_unpackhi_ps(a, b);
    store_first(at, _mm256_permute2f128_ps(low, high, 0x20), inputs);
    if (inputs > 8) store_first(at + 8, _mm256_permute2f128_ps(low, high, 0x31), inputs - 8);
  };
  for (int64_t next = 0; next < ow_n; next += 8) {
    const int64_t ow = vector_start(next, ow_n), count = std::min<int64_t>(8, ow_n - ow), inputs = 2 * count;
    const __m256 g = load_first(dy + ow, count);
    const __m256i index = load_first(argmax + ow, count);
    const __m256i left = _mm256_add_epi32(_mm256_set1_epi32(top + static_cast<int32_t>(2 * ow)), even);
    const __m256i below = _mm256_add_epi32(left, down);
    auto at = [&](__m256i position) {
      return _mm256_and_ps(_mm256_castsi256_ps(_mm256_cmpeq_epi32(index, position)), g);
    };
    store_pairs(upper + 2 * ow, inputs, at(left), at(_mm256_add_epi32(left, one)));
    store_pairs(lower + 2 * ow, inputs, at(below), at(_mm256_add_epi32(below, one)));
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
