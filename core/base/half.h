// 16-bit floating-point storage types for gradients on the wire: bfloat16 (the top half of a
// float32) and IEEE float16. Conversions round to nearest even; arithmetic happens in float32.
#pragma once

#include <cstdint>
#include <cstring>

namespace rt {

struct bfloat16 {
  uint16_t bits = 0;
};
struct float16 {
  uint16_t bits = 0;
};

inline uint32_t float_bits(float value) {
  uint32_t bits;
  std::memcpy(&bits, &value, sizeof bits);
  return bits;
}
inline float bits_float(uint32_t bits) {
  float value;
  std::memcpy(&value, &bits, sizeof value);
  return value;
}

// Without branches, so that loops over arrays of them vectorise (the gradients' wire format).
inline bfloat16 to_bfloat16(float value) {
  const uint32_t bits = float_bits(value);
  const uint32_t rounded = bits + 0x7fffu + ((bits >> 16) & 1u);  // to nearest, ties to even
  const bool nan = (bits & 0x7fffffffu) > 0x7f800000u;            // stays a (quiet) NaN
  return {static_cast<uint16_t>(nan ? (bits >> 16) | 0x40u : rounded >> 16)};
}
inline float to_float(bfloat16 value) { return bits_float(static_cast<uint32_t>(value.bits) << 16); }

inline float16 to_float16(float value) {
  uint32_t bits = float_bits(value);
  uint16_t sign = static_cast<uint16_t>((bits >> 16) & 0x8000u);
  uint32_t magnitude = bits & 0x7fffffffu;
  if (magnitude >= 0x7f800000u) return {static_cast<uint16_t>(sign | 0x7c00u | (magnitude > 0x7f800000u ? 0x200u : 0u))};
  if (magnitude >= 0x477ff000u) return {static_cast<uint16_t>(sign | 0x7c00u)};  // rounds past 65504: infinity
  if (magnitude < 0x38800000u) {  // subnormal or zero in float16
    if (magnitude < 0x33000000u) return {sign};
    uint32_t mantissa = (magnitude & 0x007fffffu) | 0x00800000u;
    int shift = 126 - static_cast<int>(magnitude >> 23);  // 14..24
    uint32_t half = mantissa >> shift;
    uint32_t remainder = mantissa & ((1u << shift) - 1u), midpoint = 1u << (shift - 1);
    if (remainder > midpoint || (remainder == midpoint && (half & 1u))) ++half;
    return {static_cast<uint16_t>(sign | half)};
  }
  uint32_t half = ((magnitude - 0x38000000u) >> 13);
  uint32_t remainder = magnitude & 0x1fffu;
  if (remainder > 0x1000u || (remainder == 0x1000u && (half & 1u))) ++half;
  return {static_cast<uint16_t>(sign | half)};
}
inline float to_float(float16 value) {
  uint32_t sign = static_cast<uint32_t>(value.bits & 0x8000u) << 16;
  uint32_t exponent = (value.bits >> 10) & 0x1fu, mantissa = value.bits & 0x3ffu;
  if (exponent == 0x1fu) return bits_float(sign | 0x7f800000u | (mantissa << 13));
  if (exponent == 0) {
    if (mantissa == 0) return bits_float(sign);
    float magnitude = static_cast<float>(mantissa) * (1.0f / 16777216.0f);  // mantissa * 2^-24
    return sign ? -magnitude : magnitude;
  }
  return bits_float(sign | ((exponent + 112u) << 23) | (mantissa << 13));
}

}  // namespace rt
