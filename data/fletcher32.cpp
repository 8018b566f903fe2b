#include "data/fletcher32.h"

#if defined(__AVX512F__) && defined(__AVX512BW__)
#include <immintrin.h>
#endif

namespace rt {

namespace {

// HDF5 adds big-endian 16-bit words w: sum1 += w, sum2 += sum1, in uint32 arithmetic, and folds
// both sums ((s & 0xffff) + (s >> 16)) after every block of 360 words. Over a block of n words
// that is sum1 += S and sum2 += n * sum1 + T, with S the sum of the words and T the sum of
// (n - i) * w_i: the same values modulo 2^32, so the result is identical even where HDF5's sums
// wrap (blocks of nearly all 0xffff). Below, S and T are computed with vectors.
constexpr size_t kBlockWords = 360;

uint32_t fold(uint32_t sum) { return (sum & 0xffff) + (sum >> 16); }

uint32_t word_at(const uint8_t* data, size_t i) {
  return (static_cast<uint32_t>(data[2 * i]) << 8) | data[2 * i + 1];
}

// S and T of the n words at `data`, one word at a time.
void block_sums_scalar(const uint8_t* data, size_t n, uint32_t& s, uint32_t& t) {
  s = 0;
  t = 0;
  for (size_t i = 0; i < n; ++i) {
    const uint32_t w = word_at(data, i);
    s += w;
    t += static_cast<uint32_t>(n - i) * w;
  }
}

#if defined(__AVX512F__) && defined(__AVX512BW__)
// The zero-masked forms of the intrinsics throughout: GCC 12 warns about an uninitialised variable
// inside the plain ones (and inside _mm512_reduce_add_epi32).
uint32_t lane_sum(__m512i v) {
  __m256i half = _mm256_add_epi32(_mm512_maskz_extracti64x4_epi64(0xf, v, 0), _mm512_maskz_extracti64x4_epi64(0xf, v, 1));
  __m128i quarter = _mm_add_epi32(_mm256_castsi256_si128(half), _mm256_extracti128_si256(half, 1));
  quarter = _mm_add_epi32(quarter, _mm_shuffle_epi32(quarter, _MM_SHUFFLE(1, 0, 3, 2)));
  quarter = _mm_add_epi32(quarter, _mm_shuffle_epi32(quarter, _MM_SHUFFLE(2, 3, 0, 1)));
  return static_cast<uint32_t>(_mm_cvtsi128_si32(quarter));
}

// 16 words per vector, one per 32-bit lane. With K vectors, word l of vector k has weight
// 16 (K - k) - l: `running` collects the sum over k of (K - k) times vector k, `lanes` the plain
// sums, and the within-vector part -l is taken off at the end.
void block_sums(const uint8_t* data, size_t n, uint32_t& s, uint32_t& t) {
  const size_t vectors = n / 16;
  const __m256i swap = _mm256_setr_epi8(1, 0, 3, 2, 5, 4, 7, 6, 9, 8, 11, 10, 13, 12, 15, 14, 1, 0, 3, 2, 5, 4, 7,
                                        6, 9, 8, 11, 10, 13, 12, 15, 14);
  __m512i lanes = _mm512_setzero_si512(), running = _mm512_setzero_si512();
  for (size_t k = 0; k < vectors; ++k) {
    const __m256i bytes = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(data + 32 * k));
    lanes = _mm512_add_epi32(lanes, _mm512_maskz_cvtepu16_epi32(0xffff, _mm256_shuffle_epi8(bytes, swap)));
    running = _mm512_add_epi32(running, lanes);
  }
  const __m512i lane_index = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
  const uint32_t vector_s = lane_sum(lanes);
  const uint32_t vector_t = 16 * lane_sum(running) - lane_sum(_mm512_mullo_epi32(lanes, lane_index));
  // The last n % 16 words: their own weights, and each vector word weighs that much more.
  const size_t rest = n - 16 * vectors;
  uint32_t rest_s = 0, rest_t = 0;
  block_sums_scalar(data + 32 * vectors, rest, rest_s, rest_t);
  s = vector_s + rest_s;
  t = vector_t + static_cast<uint32_t>(rest) * vector_s + rest_t;
}
#else
void block_sums(const uint8_t* data, size_t n, uint32_t& s, uint32_t& t) { block_sums_scalar(data, n, s, t); }
#endif

}  // namespace

uint32_t fletcher32(const uint8_t* data, size_t bytes) {
  uint32_t sum1 = 0, sum2 = 0;
  for (size_t words = bytes / 2; words > 0;) {
    const size_t n = words < kBlockWords ? words : kBlockWords;
    uint32_t s = 0, t = 0;
    block_sums(data, n, s, t);
    sum2 += static_cast<uint32_t>(n) * sum1 + t;
    sum1 += s;
    sum1 = fold(sum1);
    sum2 = fold(sum2);
    data += 2 * n;
    words -= n;
  }
  if (bytes % 2) {  // an odd last byte counts as the high half of a word
    sum1 += static_cast<uint32_t>(*data) << 8;
    sum2 += sum1;
    sum1 = fold(sum1);
    sum2 = fold(sum2);
  }
  return (fold(sum2) << 16) | fold(sum1);
}

}  // namespace rt
