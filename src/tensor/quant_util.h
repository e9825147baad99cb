// Small helpers shared by the (de)quantizers and the scalar dot kernels. Internal to tensor/ and kernels/.
#pragma once

#include <cstdint>
#include <cstring>

#include "core/fp16.h"
#include "tensor/blocks.h"

namespace ondi::quant {

// Round to nearest, ties to even, for |v| < 2^22. Adding 1.5 * 2^23 puts v's integer part in the low
// mantissa bits of a float whose exponent is fixed (the FPU rounds the addition to nearest-even), so the
// integer can be read back from the bit pattern. This is the rounding the reference quantizers use for
// every k-quant decision (and it is branch-free and does not depend on libm).
inline int nearest_int(float v) {
  const float biased = v + 12582912.0f;
  int32_t bits;
  std::memcpy(&bits, &biased, 4);
  return (bits & 0x007fffff) - 0x00400000;
}

inline float h2f(uint16_t h) { return fp16_to_f32(h); }

// All 65536 fp16 values as f32 (256 KiB, built on first use, thread-safe): a load instead of the branchy
// conversion, for loops that convert every element (F16 rows). Same values as fp16_to_f32.
const float* fp16_table();
inline uint16_t f2h(float f) { return f32_to_fp16(f); }

inline uint32_t load_u32le(const uint8_t* p) {
  return static_cast<uint32_t>(p[0]) | static_cast<uint32_t>(p[1]) << 8 | static_cast<uint32_t>(p[2]) << 16 |
         static_cast<uint32_t>(p[3]) << 24;
}
inline void store_u32le(uint8_t* p, uint32_t v) {
  p[0] = static_cast<uint8_t>(v);
  p[1] = static_cast<uint8_t>(v >> 8);
  p[2] = static_cast<uint8_t>(v >> 16);
  p[3] = static_cast<uint8_t>(v >> 24);
}

// Sub-block j's 6-bit scale and min from the 12-byte Q4_K/Q5_K scale encoding (layout in blocks.h).
inline void k4_scale_min(const uint8_t* s, int j, int& sc, int& mn) {
  if (j < 4) {
    sc = s[j] & 63;
    mn = s[j + 4] & 63;
  } else {
    sc = (s[j + 4] & 15) | ((s[j - 4] >> 6) << 4);
    mn = (s[j + 4] >> 4) | ((s[j] >> 6) << 4);
  }
}

// All 8 scales (out bytes 0..7) and 8 mins (8..15) of the Q4_K/Q5_K encoding at once, on 32-bit words: the same
// values as k4_scale_min, for SIMD kernels that would otherwise spend more time on scales than on the dot.
inline void k4_scales_mins(const uint8_t* s, uint32_t out[4]) {
  const uint32_t w0 = load_u32le(s), w1 = load_u32le(s + 4), w2 = load_u32le(s + 8);
  constexpr uint32_t k6 = 0x3F3F3F3F, k4 = 0x0F0F0F0F, k2 = 0x03030303;
  out[0] = w0 & k6;                                     // scales 0..3
  out[1] = (w2 & k4) | (((w0 >> 6) & k2) << 4);         // scales 4..7
  out[2] = w1 & k6;                                     // mins 0..3
  out[3] = ((w2 >> 4) & k4) | (((w1 >> 6) & k2) << 4);  // mins 4..7
}

// The 16 Q3_K scales, unbiased (sc - 32, in [-32, 31]), from the 12-byte encoding (layout in blocks.h).
inline void q3k_scales(const uint8_t* s, int8_t out[16]) {
  for (int j = 0; j < 16; ++j) {
    const int low = j < 8 ? (s[j] & 15) : (s[j - 8] >> 4);
    const int high = (s[8 + j % 4] >> (2 * (j / 4))) & 3;
    out[j] = static_cast<int8_t>((low | high << 4) - 32);
  }
}

// Per-format row codecs of the k-quants and IQ4_NL (tensor/kquants.cpp); n is a multiple of the block size.
void dequantize_q2_k(const uint8_t* src, float* dst, int64_t n);
void dequantize_q3_k(const uint8_t* src, float* dst, int64_t n);
void dequantize_q4_k(const uint8_t* src, float* dst, int64_t n);
void dequantize_q5_k(const uint8_t* src, float* dst, int64_t n);
void dequantize_q6_k(const uint8_t* src, float* dst, int64_t n);
void dequantize_q8_k(const uint8_t* src, float* dst, int64_t n);
void dequantize_iq4_nl(const uint8_t* src, float* dst, int64_t n);
void quantize_q2_k(const float* src, uint8_t* dst, int64_t n);
void quantize_q3_k(const float* src, uint8_t* dst, int64_t n);
void quantize_q4_k(const float* src, uint8_t* dst, int64_t n);
void quantize_q5_k(const float* src, uint8_t* dst, int64_t n);
void quantize_q6_k(const float* src, uint8_t* dst, int64_t n);
void quantize_q8_k(const float* src, uint8_t* dst, int64_t n);
void quantize_iq4_nl(const float* src, uint8_t* dst, int64_t n);

}  // namespace ondi::quant
