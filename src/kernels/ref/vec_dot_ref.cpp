// Scalar reference dot products: the spec every SIMD kernel must reproduce.
//
// Quantized weights: inside a block (or super-block) everything is an exact integer sum of products of
// the integer quants; the block's float scales are applied once to that sum, and the per-block results
// are accumulated in f32 in ascending block order. Being exact, the integer part is free to be computed
// in any order (SIMD lanes, dot-product instructions) without changing the result; only the per-block
// float formula and the block order are fixed. The per-block formulas are those of the reference
// engine's scalar kernels (ggml_vec_dot_<w>_q8_<x>), operation for operation, for the 32-element formats.
// For the k-quants the reference's scalar code spreads a super-block over 8 f32 lanes; we instead form one
// exact int32 per super-block and apply d (and dmin) once: the same value up to one f32 rounding per
// super-block, and a form that SIMD code can match bit for bit.
//
// Overflow: the largest super-block sum is Q6_K's, |sum| <= 256 * 128 * 32 * 127 ~ 1.3e8 < 2^31.
//
// Blocks are read through the packed structs of blocks.h, so any pointer alignment is fine.
#include <cstring>

#include "kernels/kernels.h"
#include "tensor/blocks.h"
#include "tensor/quant_util.h"

namespace ondi::ref {
namespace {

using quant::h2f;

inline float load_f32(const uint8_t* p) {
  float v;
  std::memcpy(&v, p, 4);
  return v;
}
inline uint16_t load_u16(const uint8_t* p) {
  uint16_t v;
  std::memcpy(&v, p, 2);
  return v;
}

// F32: products and sum in f32, element order (what a float dot naturally is; error <= n * eps * sum|xy|).
float dot_f32(int64_t n, const void* w, const void* a) {
  const auto* x = static_cast<const uint8_t*>(w);
  const auto* y = static_cast<const uint8_t*>(a);
  float sum = 0.0f;
  for (int64_t i = 0; i < n; ++i) sum += load_f32(x + 4 * i) * load_f32(y + 4 * i);
  return sum;
}

// F16 / BF16: each product of two 11-bit (8-bit) significands is exact in f32; the sum is accumulated in
// f64, element order, as the reference's scalar kernel does (ggml_float). f64 keeps the result within one
// final f32 rounding of the exact dot for any realistic n, so ordering differences between kernels cannot
// show up in the f32 result except in rare ties.
float dot_f16(int64_t n, const void* w, const void* a) {
  const auto* x = static_cast<const uint8_t*>(w);
  const auto* y = static_cast<const uint8_t*>(a);
  const float* table = quant::fp16_table();
  double sum = 0.0;
  for (int64_t i = 0; i < n; ++i) sum += table[load_u16(x + 2 * i)] * table[load_u16(y + 2 * i)];
  return static_cast<float>(sum);
}

float dot_bf16(int64_t n, const void* w, const void* a) {
  const auto* x = static_cast<const uint8_t*>(w);
  const auto* y = static_cast<const uint8_t*>(a);
  double sum = 0.0;
  for (int64_t i = 0; i < n; ++i) sum += bf16_to_f32(load_u16(x + 2 * i)) * bf16_to_f32(load_u16(y + 2 * i));
  return static_cast<float>(sum);
}

// ---- 32-element blocks against Q8_0 / Q8_1 ---------------------------------------------------------
// Each weight block is first unpacked to 32 small integers in element order, then dotted with the 32
// activation quants: two simple loops the compiler vectorizes, instead of one loop mixing bit extraction
// with the multiply-adds.

inline int dot32(const int8_t* q, const int8_t* q8) {
  int s = 0;
  for (int j = 0; j < 32; ++j) s += q[j] * q8[j];
  return s;
}

// Low nibbles are elements 0..15, high nibbles 16..31 (blocks.h), minus `bias`.
inline void unpack_nibbles(const uint8_t* qs, int bias, int8_t* q) {
  for (int j = 0; j < 16; ++j) {
    q[j] = static_cast<int8_t>((qs[j] & 15) - bias);
    q[j + 16] = static_cast<int8_t>((qs[j] >> 4) - bias);
  }
}

// kBit4[b][k] = 0x10 if bit k of b is set: Q5's high bits for 8 elements at once, so the unpack below has no
// per-element variable shift (which baseline x86-64 cannot vectorize).
struct Bit4Table {
  uint8_t v[256][8];
};
constexpr Bit4Table kBit4 = [] {
  Bit4Table t{};
  for (int b = 0; b < 256; ++b)
    for (int k = 0; k < 8; ++k) t.v[b][k] = (b & (1 << k)) ? 0x10 : 0;
  return t;
}();

// Q5 layouts: nibbles plus bit i of qh as bit 4 of element i, minus `bias`.
inline void unpack_q5(const uint8_t* qs, const uint8_t* qh, int bias, int8_t* q) {
  uint8_t hi[32];
  for (int k = 0; k < 4; ++k) std::memcpy(hi + 8 * k, kBit4.v[qh[k]], 8);
  for (int j = 0; j < 16; ++j) {
    q[j] = static_cast<int8_t>(((qs[j] & 15) | hi[j]) - bias);
    q[j + 16] = static_cast<int8_t>(((qs[j] >> 4) | hi[j + 16]) - bias);
  }
}

float dot_q4_0(int64_t n, const void* w, const void* a) {
  const auto* x = static_cast<const BlockQ4_0*>(w);
  const auto* y = static_cast<const BlockQ8_0*>(a);
  float sumf = 0.0f;
  int8_t q[32];
  for (int64_t ib = 0; ib < n / 32; ++ib, ++x, ++y) {
    unpack_nibbles(x->qs, 8, q);
    const int sumi = dot32(q, y->qs);
    sumf += static_cast<float>(sumi) * h2f(x->d) * h2f(y->d);
  }
  return sumf;
}

// Q4_1 x Q8_1: sum (d q + m) * dy qy = d dy sum(q qy) + m (dy sum qy), the last factor being Q8_1's s.
float dot_q4_1(int64_t n, const void* w, const void* a) {
  const auto* x = static_cast<const BlockQ4_1*>(w);
  const auto* y = static_cast<const BlockQ8_1*>(a);
  float sumf = 0.0f;
  int8_t q[32];
  for (int64_t ib = 0; ib < n / 32; ++ib, ++x, ++y) {
    unpack_nibbles(x->qs, 0, q);
    const int sumi = dot32(q, y->qs);
    sumf += (h2f(x->d) * h2f(y->d)) * static_cast<float>(sumi) + h2f(x->m) * h2f(y->s);
  }
  return sumf;
}

float dot_q5_0(int64_t n, const void* w, const void* a) {
  const auto* x = static_cast<const BlockQ5_0*>(w);
  const auto* y = static_cast<const BlockQ8_0*>(a);
  float sumf = 0.0f;
  int8_t q[32];
  for (int64_t ib = 0; ib < n / 32; ++ib, ++x, ++y) {
    unpack_q5(x->qs, x->qh, 16, q);
    const int sumi = dot32(q, y->qs);
    sumf += (h2f(x->d) * h2f(y->d)) * static_cast<float>(sumi);
  }
  return sumf;
}

float dot_q5_1(int64_t n, const void* w, const void* a) {
  const auto* x = static_cast<const BlockQ5_1*>(w);
  const auto* y = static_cast<const BlockQ8_1*>(a);
  float sumf = 0.0f;
  int8_t q[32];
  for (int64_t ib = 0; ib < n / 32; ++ib, ++x, ++y) {
    unpack_q5(x->qs, x->qh, 0, q);
    const int sumi = dot32(q, y->qs);
    sumf += (h2f(x->d) * h2f(y->d)) * static_cast<float>(sumi) + h2f(x->m) * h2f(y->s);
  }
  return sumf;
}

float dot_q8_0(int64_t n, const void* w, const void* a) {
  const auto* x = static_cast<const BlockQ8_0*>(w);
  const auto* y = static_cast<const BlockQ8_0*>(a);
  float sumf = 0.0f;
  for (int64_t ib = 0; ib < n / 32; ++ib, ++x, ++y) {
    const int sumi = dot32(x->qs, y->qs);
    sumf += static_cast<float>(sumi) * (h2f(x->d) * h2f(y->d));
  }
  return sumf;
}

float dot_iq4_nl(int64_t n, const void* w, const void* a) {
  const auto* x = static_cast<const BlockIQ4_NL*>(w);
  const auto* y = static_cast<const BlockQ8_0*>(a);
  float sumf = 0.0f;
  for (int64_t ib = 0; ib < n / 32; ++ib, ++x, ++y) {
    int sumi = 0;  // table lookups do not vectorize on baseline x86-64: one fused scalar loop is fastest
    for (int j = 0; j < 16; ++j)
      sumi += kIq4nlValues[x->qs[j] & 15] * y->qs[j] + kIq4nlValues[x->qs[j] >> 4] * y->qs[j + 16];
    sumf += (h2f(y->d) * h2f(x->d)) * static_cast<float>(sumi);
  }
  return sumf;
}

// ---- k-quants against Q8_K ---------------------------------------------------------------------------
// Per super-block: isum = sum over sub-blocks of scale_j * sum(q * q8) (exact), and for the formats with
// a min, summs = sum_j min_j * (sum of q8 over sub-block j), from Q8_K's bsums. Then
//   sumf += (dy * d) * isum - (dy * dmin) * summs.

// Sum of q8[i] * ((q[i] >> shift) & 3) over 16 values.
inline int dot_2bit16(const uint8_t* q, int shift, const int8_t* q8) {
  int s = 0;
  for (int l = 0; l < 16; ++l) s += q8[l] * ((q[l] >> shift) & 3);
  return s;
}

float dot_q2_k(int64_t n, const void* w, const void* a) {
  const auto* x = static_cast<const BlockQ2_K*>(w);
  const auto* y = static_cast<const BlockQ8_K*>(a);
  float sumf = 0.0f;
  for (int64_t ib = 0; ib < n / 256; ++ib, ++x, ++y) {
    int summs = 0;
    for (int j = 0; j < 16; ++j) summs += y->bsums[j] * (x->scales[j] >> 4);
    int isum = 0;
    for (int h = 0; h < 2; ++h) {
      const uint8_t* q = x->qs + 32 * h;
      for (int s = 0; s < 4; ++s) {
        const int8_t* q8 = y->qs + 128 * h + 32 * s;
        const int j = 8 * h + 2 * s;  // sub-blocks j (bytes 0..15 of q) and j + 1 (bytes 16..31)
        isum += (x->scales[j] & 15) * dot_2bit16(q, 2 * s, q8);
        isum += (x->scales[j + 1] & 15) * dot_2bit16(q + 16, 2 * s, q8 + 16);
      }
    }
    const float dy = y->d;
    sumf += dy * h2f(x->d) * static_cast<float>(isum) - dy * h2f(x->dmin) * static_cast<float>(summs);
  }
  return sumf;
}

float dot_q3_k(int64_t n, const void* w, const void* a) {
  const auto* x = static_cast<const BlockQ3_K*>(w);
  const auto* y = static_cast<const BlockQ8_K*>(a);
  float sumf = 0.0f;
  for (int64_t ib = 0; ib < n / 256; ++ib, ++x, ++y) {
    int8_t sc[16];
    quant::q3k_scales(x->scales, sc);
    int isum = 0;
    for (int h = 0; h < 2; ++h) {
      const uint8_t* q = x->qs + 32 * h;
      for (int s = 0; s < 4; ++s) {
        const int8_t* q8 = y->qs + 128 * h + 32 * s;
        const uint8_t mask = static_cast<uint8_t>(1u << (4 * h + s));
        for (int half = 0; half < 2; ++half) {
          int sub = 0;
          for (int l = 16 * half; l < 16 * half + 16; ++l) {
            const int v = ((q[l] >> (2 * s)) & 3) - ((x->hmask[l] & mask) ? 0 : 4);
            sub += v * q8[l];
          }
          isum += sc[8 * h + 2 * s + half] * sub;
        }
      }
    }
    sumf += (y->d * h2f(x->d)) * static_cast<float>(isum);
  }
  return sumf;
}

// Q4_K and Q5_K: 8 sub-blocks of 32; kFive adds Q5_K's high bits from qh.
template <bool kFive, class Block>
float dot_k4_like(int64_t n, const void* w, const void* a) {
  const auto* x = static_cast<const Block*>(w);
  const auto* y = static_cast<const BlockQ8_K*>(a);
  float sumf = 0.0f;
  for (int64_t ib = 0; ib < n / 256; ++ib, ++x, ++y) {
    int isum = 0, summs = 0;
    for (int c = 0; c < 4; ++c) {
      const uint8_t* q = x->qs + 32 * c;
      const int8_t* q8 = y->qs + 64 * c;
      int s0, m0, s1, m1;
      quant::k4_scale_min(x->scales, 2 * c, s0, m0);
      quant::k4_scale_min(x->scales, 2 * c + 1, s1, m1);
      int sum0 = 0, sum1 = 0;
      for (int l = 0; l < 32; ++l) {
        int v0 = q[l] & 15, v1 = q[l] >> 4;
        if constexpr (kFive) {
          v0 += ((x->qh[l] >> (2 * c)) & 1) << 4;
          v1 += ((x->qh[l] >> (2 * c + 1)) & 1) << 4;
        }
        sum0 += v0 * q8[l];
        sum1 += v1 * q8[l + 32];
      }
      isum += s0 * sum0 + s1 * sum1;
      // a 32-value sub-block spans two 16-value bsums
      summs += m0 * (y->bsums[4 * c] + y->bsums[4 * c + 1]) + m1 * (y->bsums[4 * c + 2] + y->bsums[4 * c + 3]);
    }
    const float dy = y->d;
    sumf += dy * h2f(x->d) * static_cast<float>(isum) - dy * h2f(x->dmin) * static_cast<float>(summs);
  }
  return sumf;
}

float dot_q6_k(int64_t n, const void* w, const void* a) {
  const auto* x = static_cast<const BlockQ6_K*>(w);
  const auto* y = static_cast<const BlockQ8_K*>(a);
  float sumf = 0.0f;
  for (int64_t ib = 0; ib < n / 256; ++ib, ++x, ++y) {
    int isum = 0;
    for (int h = 0; h < 2; ++h) {
      const uint8_t* ql = x->ql + 64 * h;
      const uint8_t* qh = x->qh + 32 * h;
      const int8_t* sc = x->scales + 8 * h;
      const int8_t* q8 = y->qs + 128 * h;
      for (int half = 0; half < 2; ++half) {  // l in [16 half, 16 half + 16): sub-blocks is = half + {0,2,4,6}
        int s0 = 0, s1 = 0, s2 = 0, s3 = 0;
        for (int l = 16 * half; l < 16 * half + 16; ++l) {
          s0 += (((ql[l] & 15) | ((qh[l] >> 0) & 3) << 4) - 32) * q8[l];
          s1 += (((ql[l + 32] & 15) | ((qh[l] >> 2) & 3) << 4) - 32) * q8[l + 32];
          s2 += (((ql[l] >> 4) | ((qh[l] >> 4) & 3) << 4) - 32) * q8[l + 64];
          s3 += (((ql[l + 32] >> 4) | ((qh[l] >> 6) & 3) << 4) - 32) * q8[l + 96];
        }
        isum += sc[half] * s0 + sc[half + 2] * s1 + sc[half + 4] * s2 + sc[half + 6] * s3;
      }
    }
    sumf += (y->d * h2f(x->d)) * static_cast<float>(isum);
  }
  return sumf;
}

}  // namespace

VecDotFn vec_dot_fn(GgmlType weight) {
  switch (weight) {
    case GgmlType::F32:
      return dot_f32;
    case GgmlType::F16:
      return dot_f16;
    case GgmlType::BF16:
      return dot_bf16;
    case GgmlType::Q4_0:
      return dot_q4_0;
    case GgmlType::Q4_1:
      return dot_q4_1;
    case GgmlType::Q5_0:
      return dot_q5_0;
    case GgmlType::Q5_1:
      return dot_q5_1;
    case GgmlType::Q8_0:
      return dot_q8_0;
    case GgmlType::IQ4_NL:
      return dot_iq4_nl;
    case GgmlType::Q2_K:
      return dot_q2_k;
    case GgmlType::Q3_K:
      return dot_q3_k;
    case GgmlType::Q4_K:
      return dot_k4_like<false, BlockQ4_K>;
    case GgmlType::Q5_K:
      return dot_k4_like<true, BlockQ5_K>;
    case GgmlType::Q6_K:
      return dot_q6_k;
    case GgmlType::Q8_1:
    case GgmlType::Q8_K:
      return nullptr;  // activation-only formats
  }
  return nullptr;
}

}  // namespace ondi::ref
