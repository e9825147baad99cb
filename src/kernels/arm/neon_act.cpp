// Activations into Q8_0 / Q8_1 / Q8_K blocks with NEON, byte-identical to the scalar reference
// (kernels/ref/quantize_ref.cpp for Q8_0/Q8_1, tensor/kquants.cpp quantize_q8_k for Q8_K):
//  - the absolute maximum is a max, exact in any order; FMAXNM ignores a NaN as std::fmax does;
//  - scales are computed by the same scalar expressions;
//  - rounding to integers repeats the reference's (see round16);
//  - the integer sums (Q8_1's s, Q8_K's bsums) are exact.
#if defined(__aarch64__)
#include <arm_neon.h>

#include <cmath>
#include <cstring>
#include <type_traits>

#include "core/fp16.h"
#include "kernels/arm/neon.h"
#include "tensor/blocks.h"

namespace ondi::neon {
namespace {

// 16 floats times `scale`, rounded half-even, to 16 int8 (truncating, as the reference's casts).
// kQ8K: the reference's nearest_int (add 1.5 * 2^23, read the low mantissa bits), repeated step for step so
// that even out-of-range products (a subnormal block max makes the scale overflow) give its bytes, then its
// clamp at 127. Otherwise FCVTNS, which rounds and saturates as nearbyint + int conversion do on AArch64.
template <bool kQ8K>
inline int8x16_t round16(const float* x, float scale) {
  int32x4_t q[4];
  for (int k = 0; k < 4; ++k) {
    const float32x4_t v = vmulq_n_f32(vld1q_f32(x + 4 * k), scale);
    if constexpr (kQ8K) {
      const int32x4_t b = vreinterpretq_s32_f32(vaddq_f32(v, vdupq_n_f32(12582912.0f)));
      q[k] = vminq_s32(vsubq_s32(vandq_s32(b, vdupq_n_s32(0x007fffff)), vdupq_n_s32(0x00400000)), vdupq_n_s32(127));
    } else {
      q[k] = vcvtnq_s32_f32(v);
    }
  }
  const int16x8_t lo = vcombine_s16(vmovn_s32(q[0]), vmovn_s32(q[1]));
  const int16x8_t hi = vcombine_s16(vmovn_s32(q[2]), vmovn_s32(q[3]));
  return vcombine_s8(vmovn_s16(lo), vmovn_s16(hi));
}

inline float absmax(const float* x, int n) {
  float32x4_t m = vdupq_n_f32(0.0f);
  for (int i = 0; i < n; i += 4) m = vmaxnmq_f32(m, vabsq_f32(vld1q_f32(x + i)));
  return vmaxnmvq_f32(m);
}

// The reference: d = amax / 127, inverse scale 127 / amax, q = round(x * id). (Its q never exceeds 127 in
// magnitude: |x| <= amax, so |x * id| <= 127 up to one rounding, which rounds back to 127.)
template <bool kWithSum>
void quantize_q8(const float* x, uint8_t* dst, int64_t n) {
  using Block = std::conditional_t<kWithSum, BlockQ8_1, BlockQ8_0>;
  for (int64_t ib = 0; ib < n / 32; ++ib, x += 32, dst += sizeof(Block)) {
    const float amax = absmax(x, 32);
    const float d = amax / 127.0f;
    const float id = amax != 0.0f ? 127.0f / amax : 0.0f;
    Block b;
    const int8x16_t q0 = round16<false>(x, id), q1 = round16<false>(x + 16, id);
    vst1q_s8(b.qs, q0);
    vst1q_s8(b.qs + 16, q1);
    b.d = f32_to_fp16(d);
    if constexpr (kWithSum) {
      const int sum = vaddlvq_s8(q0) + vaddlvq_s8(q1);
      b.s = f32_to_fp16(d * static_cast<float>(sum));
    }
    std::memcpy(dst, &b, sizeof(Block));
  }
}

// The reference's Q8_K: the value of largest magnitude (the first one on ties) maps to -127.
void quantize_q8_k(const float* x, uint8_t* dst, int64_t n) {
  for (int64_t ib = 0; ib < n / 256; ++ib, x += 256, dst += sizeof(BlockQ8_K)) {
    const float amax = absmax(x, 256);
    BlockQ8_K b;
    if (!(amax > 0.0f)) {  // zero (or an all-NaN block, which the reference's "ax > amax" scan also skips)
      std::memset(&b, 0, sizeof b);
      std::memcpy(dst, &b, sizeof b);
      continue;
    }
    int first = 0;
    while (std::fabs(x[first]) != amax) ++first;
    const float iscale = -127.f / x[first];
    for (int g = 0; g < 16; ++g) {
      const int8x16_t q = round16<true>(x + 16 * g, iscale);
      vst1q_s8(b.qs + 16 * g, q);
      b.bsums[g] = static_cast<int16_t>(vaddlvq_s8(q));
    }
    b.d = 1 / iscale;
    std::memcpy(dst, &b, sizeof b);
  }
}

}  // namespace

bool quantize_act(GgmlType act_type, const float* x, void* out, int64_t n) {
  switch (act_type) {
    case GgmlType::Q8_0:
      quantize_q8<false>(x, static_cast<uint8_t*>(out), n);
      return true;
    case GgmlType::Q8_1:
      quantize_q8<true>(x, static_cast<uint8_t*>(out), n);
      return true;
    case GgmlType::Q8_K:
      quantize_q8_k(x, static_cast<uint8_t*>(out), n);
      return true;
    default:
      return false;  // F32/F16/BF16: the reference conversion
  }
}

}  // namespace ondi::neon
#endif  // __aarch64__
