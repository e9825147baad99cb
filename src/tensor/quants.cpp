// Row codecs of the plain and 32-element block formats, and the type dispatch for all formats.
//
// The quantizers here reproduce the reference engine's deterministic "_ref" quantizers bit for bit: GGUF
// files made by it must re-encode to the same bytes, and activations quantized here must equal what it
// feeds its dot products. Hence the sometimes odd-looking arithmetic (f32 min/scale used unrounded while
// the stored copy is fp16, truncating casts after +0.5, roundf vs round-to-even): each is the format's
// de-facto definition and is commented where it matters.
#include "tensor/quants.h"

#include <cmath>
#include <cstring>

#include "tensor/blocks.h"
#include "tensor/quant_util.h"

namespace ondi {

const float* quant::fp16_table() {
  static const float* const table = [] {
    static float t[65536];
    for (uint32_t h = 0; h < 65536; ++h) t[h] = fp16_to_f32(static_cast<uint16_t>(h));
    return t;
  }();
  return table;
}

namespace {

using quant::f2h;
using quant::h2f;

// ---- dequantization --------------------------------------------------------------------------------

void dequantize_f16(const uint8_t* src, float* dst, int64_t n) {
  const float* table = quant::fp16_table();
  for (int64_t i = 0; i < n; ++i) {
    uint16_t h;
    std::memcpy(&h, src + 2 * i, 2);
    dst[i] = table[h];
  }
}

void dequantize_bf16(const uint8_t* src, float* dst, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    uint16_t h;
    std::memcpy(&h, src + 2 * i, 2);
    dst[i] = bf16_to_f32(h);
  }
}

void dequantize_q4_0(const uint8_t* src, float* dst, int64_t n) {
  const auto* b = reinterpret_cast<const BlockQ4_0*>(src);
  for (int64_t ib = 0; ib < n / 32; ++ib, ++b, dst += 32) {
    const float d = h2f(b->d);
    for (int j = 0; j < 16; ++j) {
      dst[j] = static_cast<float>((b->qs[j] & 15) - 8) * d;
      dst[j + 16] = static_cast<float>((b->qs[j] >> 4) - 8) * d;
    }
  }
}

void dequantize_q4_1(const uint8_t* src, float* dst, int64_t n) {
  const auto* b = reinterpret_cast<const BlockQ4_1*>(src);
  for (int64_t ib = 0; ib < n / 32; ++ib, ++b, dst += 32) {
    const float d = h2f(b->d), m = h2f(b->m);
    for (int j = 0; j < 16; ++j) {
      dst[j] = static_cast<float>(b->qs[j] & 15) * d + m;
      dst[j + 16] = static_cast<float>(b->qs[j] >> 4) * d + m;
    }
  }
}

void dequantize_q5_0(const uint8_t* src, float* dst, int64_t n) {
  const auto* b = reinterpret_cast<const BlockQ5_0*>(src);
  for (int64_t ib = 0; ib < n / 32; ++ib, ++b, dst += 32) {
    const float d = h2f(b->d);
    const uint32_t qh = quant::load_u32le(b->qh);
    for (int j = 0; j < 16; ++j) {
      const int q0 = (b->qs[j] & 15) | static_cast<int>((qh >> j) & 1) << 4;
      const int q1 = (b->qs[j] >> 4) | static_cast<int>((qh >> (j + 16)) & 1) << 4;
      dst[j] = static_cast<float>(q0 - 16) * d;
      dst[j + 16] = static_cast<float>(q1 - 16) * d;
    }
  }
}

void dequantize_q5_1(const uint8_t* src, float* dst, int64_t n) {
  const auto* b = reinterpret_cast<const BlockQ5_1*>(src);
  for (int64_t ib = 0; ib < n / 32; ++ib, ++b, dst += 32) {
    const float d = h2f(b->d), m = h2f(b->m);
    const uint32_t qh = quant::load_u32le(b->qh);
    for (int j = 0; j < 16; ++j) {
      const int q0 = (b->qs[j] & 15) | static_cast<int>((qh >> j) & 1) << 4;
      const int q1 = (b->qs[j] >> 4) | static_cast<int>((qh >> (j + 16)) & 1) << 4;
      dst[j] = static_cast<float>(q0) * d + m;
      dst[j + 16] = static_cast<float>(q1) * d + m;
    }
  }
}

void dequantize_q8_0(const uint8_t* src, float* dst, int64_t n) {
  const auto* b = reinterpret_cast<const BlockQ8_0*>(src);
  for (int64_t ib = 0; ib < n / 32; ++ib, ++b, dst += 32) {
    const float d = h2f(b->d);
    for (int j = 0; j < 32; ++j) dst[j] = static_cast<float>(b->qs[j]) * d;
  }
}

void dequantize_q8_1(const uint8_t* src, float* dst, int64_t n) {
  const auto* b = reinterpret_cast<const BlockQ8_1*>(src);
  for (int64_t ib = 0; ib < n / 32; ++ib, ++b, dst += 32) {
    const float d = h2f(b->d);  // s is redundant (d * sum q) and not needed to decode
    for (int j = 0; j < 32; ++j) dst[j] = static_cast<float>(b->qs[j]) * d;
  }
}

// ---- quantization ----------------------------------------------------------------------------------

void quantize_f16(const float* src, uint8_t* dst, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    const uint16_t h = f32_to_fp16(src[i]);
    std::memcpy(dst + 2 * i, &h, 2);
  }
}

void quantize_bf16(const float* src, uint8_t* dst, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    const uint16_t h = f32_to_bf16(src[i]);
    std::memcpy(dst + 2 * i, &h, 2);
  }
}

// The signed value of largest magnitude (the first one on ties). Q4_0/Q5_0 map it to the extreme level
// -8 / -16, which has no positive counterpart, so the sign matters: d = max / -8 puts the largest value
// exactly on a level and gives the other side of zero 7 (15) levels.
float signed_absmax(const float* x, int n) {
  float amax = 0.0f, max = 0.0f;
  for (int j = 0; j < n; ++j) {
    if (std::fabs(x[j]) > amax) {
      amax = std::fabs(x[j]);
      max = x[j];
    }
  }
  return max;
}

// (int)(v + half) truncates toward zero: the reference's rounding for the symmetric/affine 4/5-bit
// quants (v + half >= 0 here, so this is round-half-up). Clamped to `top` because v can exceed the
// top level by an ulp.
inline int trunc_clamp(float v, int top) {
  const int q = static_cast<int>(v);
  return q < top ? q : top;
}

void quantize_q4_0(const float* x, uint8_t* dst, int64_t n) {
  auto* b = reinterpret_cast<BlockQ4_0*>(dst);
  for (int64_t ib = 0; ib < n / 32; ++ib, ++b, x += 32) {
    const float d = signed_absmax(x, 32) / -8.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    b->d = f2h(d);
    for (int j = 0; j < 16; ++j) {
      const int q0 = trunc_clamp(x[j] * id + 8.5f, 15);
      const int q1 = trunc_clamp(x[j + 16] * id + 8.5f, 15);
      b->qs[j] = static_cast<uint8_t>(q0 | q1 << 4);
    }
  }
}

void quantize_q5_0(const float* x, uint8_t* dst, int64_t n) {
  auto* b = reinterpret_cast<BlockQ5_0*>(dst);
  for (int64_t ib = 0; ib < n / 32; ++ib, ++b, x += 32) {
    const float d = signed_absmax(x, 32) / -16.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    b->d = f2h(d);
    uint32_t qh = 0;
    for (int j = 0; j < 16; ++j) {
      const int q0 = trunc_clamp(x[j] * id + 16.5f, 31);
      const int q1 = trunc_clamp(x[j + 16] * id + 16.5f, 31);
      b->qs[j] = static_cast<uint8_t>((q0 & 15) | (q1 & 15) << 4);
      qh |= static_cast<uint32_t>(q0 >> 4) << j | static_cast<uint32_t>(q1 >> 4) << (j + 16);
    }
    quant::store_u32le(b->qh, qh);
  }
}

// Affine formats: the level step is (max - min) / top and level 0 is min. The unrounded f32 min and step
// are used to pick levels even though fp16 copies are stored (this is what the reference does).
template <class Block, int kTop>
void quantize_affine(const float* x, uint8_t* dst, int64_t n) {
  auto* b = reinterpret_cast<Block*>(dst);
  for (int64_t ib = 0; ib < n / 32; ++ib, ++b, x += 32) {
    float min = x[0], max = x[0];
    for (int j = 1; j < 32; ++j) {
      min = x[j] < min ? x[j] : min;
      max = x[j] > max ? x[j] : max;
    }
    const float d = (max - min) / static_cast<float>(kTop);
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    b->d = f2h(d);
    b->m = f2h(min);
    uint32_t qh = 0;
    for (int j = 0; j < 16; ++j) {
      const int q0 = trunc_clamp((x[j] - min) * id + 0.5f, kTop);
      const int q1 = trunc_clamp((x[j + 16] - min) * id + 0.5f, kTop);
      b->qs[j] = static_cast<uint8_t>((q0 & 15) | (q1 & 15) << 4);
      qh |= static_cast<uint32_t>(q0 >> 4) << j | static_cast<uint32_t>(q1 >> 4) << (j + 16);
    }
    if constexpr (kTop == 31) quant::store_u32le(b->qh, qh);
  }
}

// Q8_0 / Q8_1: d = amax / 127, q = round-half-away(x / d) (roundf). For Q8_1, s = fp16(d * sum q), the
// product taken in f32 from the f32 d (sum q is an exact small integer).
template <bool kWithSum>
void quantize_q8(const float* x, uint8_t* dst, int64_t n) {
  constexpr size_t kSize = kWithSum ? sizeof(BlockQ8_1) : sizeof(BlockQ8_0);
  for (int64_t ib = 0; ib < n / 32; ++ib, x += 32, dst += kSize) {
    float amax = 0.0f;
    for (int j = 0; j < 32; ++j) amax = std::fmax(amax, std::fabs(x[j]));
    const float d = amax / 127.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    int8_t qs[32];
    int sum = 0;
    for (int j = 0; j < 32; ++j) {
      qs[j] = static_cast<int8_t>(std::round(x[j] * id));
      sum += qs[j];
    }
    if constexpr (kWithSum) {
      auto* b = reinterpret_cast<BlockQ8_1*>(dst);
      b->d = f2h(d);
      b->s = f2h(static_cast<float>(sum) * d);
      std::memcpy(b->qs, qs, 32);
    } else {
      auto* b = reinterpret_cast<BlockQ8_0*>(dst);
      b->d = f2h(d);
      std::memcpy(b->qs, qs, 32);
    }
  }
}

}  // namespace

void dequantize_row(GgmlType t, const void* src_v, float* dst, int64_t n) {
  const auto* src = static_cast<const uint8_t*>(src_v);
  switch (t) {
    case GgmlType::F32:
      std::memcpy(dst, src, static_cast<size_t>(n) * 4);
      return;
    case GgmlType::F16:
      return dequantize_f16(src, dst, n);
    case GgmlType::BF16:
      return dequantize_bf16(src, dst, n);
    case GgmlType::Q4_0:
      return dequantize_q4_0(src, dst, n);
    case GgmlType::Q4_1:
      return dequantize_q4_1(src, dst, n);
    case GgmlType::Q5_0:
      return dequantize_q5_0(src, dst, n);
    case GgmlType::Q5_1:
      return dequantize_q5_1(src, dst, n);
    case GgmlType::Q8_0:
      return dequantize_q8_0(src, dst, n);
    case GgmlType::Q8_1:
      return dequantize_q8_1(src, dst, n);
    case GgmlType::Q2_K:
      return quant::dequantize_q2_k(src, dst, n);
    case GgmlType::Q3_K:
      return quant::dequantize_q3_k(src, dst, n);
    case GgmlType::Q4_K:
      return quant::dequantize_q4_k(src, dst, n);
    case GgmlType::Q5_K:
      return quant::dequantize_q5_k(src, dst, n);
    case GgmlType::Q6_K:
      return quant::dequantize_q6_k(src, dst, n);
    case GgmlType::Q8_K:
      return quant::dequantize_q8_k(src, dst, n);
    case GgmlType::IQ4_NL:
      return quant::dequantize_iq4_nl(src, dst, n);
  }
}

bool can_quantize(GgmlType t) { return type_info(t) != nullptr; }

void quantize_row(GgmlType t, const float* src, void* dst_v, int64_t n) {
  auto* dst = static_cast<uint8_t*>(dst_v);
  switch (t) {
    case GgmlType::F32:
      std::memcpy(dst, src, static_cast<size_t>(n) * 4);
      return;
    case GgmlType::F16:
      return quantize_f16(src, dst, n);
    case GgmlType::BF16:
      return quantize_bf16(src, dst, n);
    case GgmlType::Q4_0:
      return quantize_q4_0(src, dst, n);
    case GgmlType::Q4_1:
      return quantize_affine<BlockQ4_1, 15>(src, dst, n);
    case GgmlType::Q5_0:
      return quantize_q5_0(src, dst, n);
    case GgmlType::Q5_1:
      return quantize_affine<BlockQ5_1, 31>(src, dst, n);
    case GgmlType::Q8_0:
      return quantize_q8<false>(src, dst, n);
    case GgmlType::Q8_1:
      return quantize_q8<true>(src, dst, n);
    case GgmlType::Q2_K:
      return quant::quantize_q2_k(src, dst, n);
    case GgmlType::Q3_K:
      return quant::quantize_q3_k(src, dst, n);
    case GgmlType::Q4_K:
      return quant::quantize_q4_k(src, dst, n);
    case GgmlType::Q5_K:
      return quant::quantize_q5_k(src, dst, n);
    case GgmlType::Q6_K:
      return quant::quantize_q6_k(src, dst, n);
    case GgmlType::Q8_K:
      return quant::quantize_q8_k(src, dst, n);
    case GgmlType::IQ4_NL:
      return quant::quantize_iq4_nl(src, dst, n);
  }
}

}  // namespace ondi
