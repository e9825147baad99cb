// NEON dot-product kernels, compiled once per instruction level by neon_base.cpp, neon_dotprod.cpp and
// neon_i8mm.cpp. The including file defines ONDI_NEON_NS (the namespace) and ONDI_NEON_LEVEL (0 base,
// 1 +dotprod, 2 +dotprod+i8mm), includes the standard headers and <arm_neon.h>, then sets its target pragma:
// everything here has internal linkage, so no function compiled for a higher level can be picked by the
// linker for a caller of a lower one.
//
// Shape of every quantized kernel: a "group" computes 4 independent outputs' block terms at once, one per
// lane: the exact integer sums of 4 (weight block, activation block) pairs, then the reference's float
// formula lane-wise. Which pairs fill the lanes is the tile shape:
//   Seq    4 consecutive blocks of one row and one token    (vec_dot: lanes then added in block order)
//   Rows4  one block of 4 rows against one token            (gemm, one token: decode)
//   Square one block of 2 rows x 2 tokens                   (gemm, several tokens; SMMLA computes it directly)
//   One    one block of one row and one token               (vec_dot of the k-quants, whose blocks are large)
// A lane's value depends only on its pair, never on its neighbours, so vec_dot and every gemm tile give the
// same bits, and both equal the scalar reference (see neon.h).

#if !defined(ONDI_NEON_NS) || !defined(ONDI_NEON_LEVEL)
#error "include from neon_<level>.cpp"
#endif

namespace ondi::neon::ONDI_NEON_NS {
namespace {

// ---- loads and small helpers ---------------------------------------------------------------------------

inline uint16_t ld_u16(const uint8_t* p) {
  uint16_t v;
  std::memcpy(&v, p, 2);
  return v;
}
inline uint32_t ld_u32(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}
inline float ld_f32(const uint8_t* p) {
  float v;
  std::memcpy(&v, p, 4);
  return v;
}

// Four fp16 values -> f32 lanes (exact, as fp16_to_f32).
inline float32x4_t h2f4(uint16_t a, uint16_t b, uint16_t c, uint16_t d) {
  const uint16_t h[4] = {a, b, c, d};
  return vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(h)));
}
inline float32x4_t f4(float a, float b, float c, float d) {
  const float v[4] = {a, b, c, d};
  return vld1q_f32(v);
}

// acc += the 16 products a[i] * b[i], spread over 4 lanes (exact).
inline int32x4_t dot16(int32x4_t acc, int8x16_t a, int8x16_t b) {
#if ONDI_NEON_LEVEL >= 1
  return vdotq_s32(acc, a, b);
#else
  acc = vpadalq_s16(acc, vmull_s8(vget_low_s8(a), vget_low_s8(b)));
  return vpadalq_s16(acc, vmull_high_s8(a, b));
#endif
}
inline int32x4_t dot32(int8x16_t a0, int8x16_t a1, int8x16_t b0, int8x16_t b1) {
  return dot16(dot16(vdupq_n_s32(0), a0, b0), a1, b1);
}

// [sum(a0), sum(a1), sum(a2), sum(a3)]
inline int32x4_t hsum4(const int32x4_t* a) { return vpaddq_s32(vpaddq_s32(a[0], a[1]), vpaddq_s32(a[2], a[3])); }

#if ONDI_NEON_LEVEL >= 2
// 64-bit halves: [lo(a), lo(b)] and [hi(a), hi(b)], the 2x8 operand layout of SMMLA.
inline int8x16_t zip_lo(int8x16_t a, int8x16_t b) {
  return vreinterpretq_s8_s64(vzip1q_s64(vreinterpretq_s64_s8(a), vreinterpretq_s64_s8(b)));
}
inline int8x16_t zip_hi(int8x16_t a, int8x16_t b) {
  return vreinterpretq_s8_s64(vzip2q_s64(vreinterpretq_s64_s8(a), vreinterpretq_s64_s8(b)));
}
// acc += [w0.x0, w0.x1, w1.x0, w1.x1] over 16 values (the Square lane order).
inline int32x4_t mmla16(int32x4_t acc, int8x16_t w0, int8x16_t w1, int8x16_t x0, int8x16_t x1) {
  acc = vmmlaq_s32(acc, zip_lo(w0, w1), zip_lo(x0, x1));
  return vmmlaq_s32(acc, zip_hi(w0, w1), zip_hi(x0, x1));
}
#endif

// ---- tile shapes: lane l pairs distinct weight block kWi[l] with distinct activation block kAi[l] ----------

struct Seq {
  static constexpr int kW = 4, kA = 4, kLanes = 4;
  static constexpr int kWi[4] = {0, 1, 2, 3}, kAi[4] = {0, 1, 2, 3};
};
struct Rows4 {
  static constexpr int kW = 4, kA = 1, kLanes = 4;
  static constexpr int kWi[4] = {0, 1, 2, 3}, kAi[4] = {0, 0, 0, 0};
};
struct Square {
  static constexpr int kW = 2, kA = 2, kLanes = 4;
  static constexpr int kWi[4] = {0, 0, 1, 1}, kAi[4] = {0, 1, 0, 1};
};
struct One {
  static constexpr int kW = 1, kA = 1, kLanes = 1;
  static constexpr int kWi[4] = {0, 0, 0, 0}, kAi[4] = {0, 0, 0, 0};
};

template <class S>
inline float32x4_t gather_h(const uint8_t* const* p, const int* idx, size_t off) {
  return h2f4(ld_u16(p[idx[0]] + off), ld_u16(p[idx[1]] + off), ld_u16(p[idx[2]] + off), ld_u16(p[idx[3]] + off));
}
template <class S>
inline float32x4_t gather_f(const uint8_t* const* p, const int* idx, size_t off) {
  return f4(ld_f32(p[idx[0]] + off), ld_f32(p[idx[1]] + off), ld_f32(p[idx[2]] + off), ld_f32(p[idx[3]] + off));
}

// ---- 32-element formats against Q8_0 / Q8_1 ------------------------------------------------------------
// A format: block sizes, where the activation quants start, how a weight block unpacks to 32 int8 in element
// order (lo = elements 0..15, hi = 16..31), and the reference's per-block float formula (vec_dot_ref.cpp).

inline int8x16_t s8(uint8x16_t v) { return vreinterpretq_s8_u8(v); }

// Q5 high bits: bit i of the 32-bit qh is bit 4 of element i. Byte j/8 of qh, tested against bit j%8.
inline void q5_high(const uint8_t* qh, uint8x16_t& lo, uint8x16_t& hi) {
  static constexpr uint8_t kSelLo[16] = {0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1};
  static constexpr uint8_t kSelHi[16] = {2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3};
  static constexpr uint8_t kBit[16] = {1, 2, 4, 8, 16, 32, 64, 128, 1, 2, 4, 8, 16, 32, 64, 128};
  const uint8x16_t bytes = vreinterpretq_u8_u32(vdupq_n_u32(ld_u32(qh)));
  const uint8x16_t bit = vld1q_u8(kBit), b4 = vdupq_n_u8(0x10);
  lo = vandq_u8(vtstq_u8(vqtbl1q_u8(bytes, vld1q_u8(kSelLo)), bit), b4);
  hi = vandq_u8(vtstq_u8(vqtbl1q_u8(bytes, vld1q_u8(kSelHi)), bit), b4);
}

struct Q4_0 {
  static constexpr size_t kWSize = sizeof(BlockQ4_0), kASize = sizeof(BlockQ8_0), kAq = 2;
  static constexpr bool kMin = false;
  static void unpack(const uint8_t* b, int8x16_t& lo, int8x16_t& hi) {
    const uint8x16_t q = vld1q_u8(b + 2);
    lo = vsubq_s8(s8(vandq_u8(q, vdupq_n_u8(15))), vdupq_n_s8(8));
    hi = vsubq_s8(s8(vshrq_n_u8(q, 4)), vdupq_n_s8(8));
  }
  // sumf += (float)sumi * d(x) * d(y)
  static float32x4_t finish(int32x4_t s, float32x4_t dx, float32x4_t dy, float32x4_t, float32x4_t) {
    return vmulq_f32(vmulq_f32(vcvtq_f32_s32(s), dx), dy);
  }
};

struct Q4_1 {
  static constexpr size_t kWSize = sizeof(BlockQ4_1), kASize = sizeof(BlockQ8_1), kAq = 4;
  static constexpr bool kMin = true;
  static void unpack(const uint8_t* b, int8x16_t& lo, int8x16_t& hi) {
    const uint8x16_t q = vld1q_u8(b + 4);
    lo = s8(vandq_u8(q, vdupq_n_u8(15)));
    hi = s8(vshrq_n_u8(q, 4));
  }
  // sumf += (d(x) * d(y)) * (float)sumi + m(x) * s(y)
  static float32x4_t finish(int32x4_t s, float32x4_t dx, float32x4_t dy, float32x4_t mx, float32x4_t sy) {
    return vaddq_f32(vmulq_f32(vmulq_f32(dx, dy), vcvtq_f32_s32(s)), vmulq_f32(mx, sy));
  }
};

struct Q5_0 {
  static constexpr size_t kWSize = sizeof(BlockQ5_0), kASize = sizeof(BlockQ8_0), kAq = 2;
  static constexpr bool kMin = false;
  static void unpack(const uint8_t* b, int8x16_t& lo, int8x16_t& hi) {
    uint8x16_t hlo, hhi;
    q5_high(b + 2, hlo, hhi);
    const uint8x16_t q = vld1q_u8(b + 6);
    lo = vsubq_s8(s8(vorrq_u8(vandq_u8(q, vdupq_n_u8(15)), hlo)), vdupq_n_s8(16));
    hi = vsubq_s8(s8(vorrq_u8(vshrq_n_u8(q, 4), hhi)), vdupq_n_s8(16));
  }
  // sumf += (d(x) * d(y)) * (float)sumi
  static float32x4_t finish(int32x4_t s, float32x4_t dx, float32x4_t dy, float32x4_t, float32x4_t) {
    return vmulq_f32(vmulq_f32(dx, dy), vcvtq_f32_s32(s));
  }
};

struct Q5_1 {
  static constexpr size_t kWSize = sizeof(BlockQ5_1), kASize = sizeof(BlockQ8_1), kAq = 4;
  static constexpr bool kMin = true;
  static void unpack(const uint8_t* b, int8x16_t& lo, int8x16_t& hi) {
    uint8x16_t hlo, hhi;
    q5_high(b + 4, hlo, hhi);
    const uint8x16_t q = vld1q_u8(b + 8);
    lo = s8(vorrq_u8(vandq_u8(q, vdupq_n_u8(15)), hlo));
    hi = s8(vorrq_u8(vshrq_n_u8(q, 4), hhi));
  }
  static float32x4_t finish(int32x4_t s, float32x4_t dx, float32x4_t dy, float32x4_t mx, float32x4_t sy) {
    return Q4_1::finish(s, dx, dy, mx, sy);
  }
};

struct Q8_0 {
  static constexpr size_t kWSize = sizeof(BlockQ8_0), kASize = sizeof(BlockQ8_0), kAq = 2;
  static constexpr bool kMin = false;
  static void unpack(const uint8_t* b, int8x16_t& lo, int8x16_t& hi) {
    lo = vld1q_s8(reinterpret_cast<const int8_t*>(b + 2));
    hi = vld1q_s8(reinterpret_cast<const int8_t*>(b + 18));
  }
  // sumf += (float)sumi * (d(x) * d(y))
  static float32x4_t finish(int32x4_t s, float32x4_t dx, float32x4_t dy, float32x4_t, float32x4_t) {
    return vmulq_f32(vcvtq_f32_s32(s), vmulq_f32(dx, dy));
  }
};

struct IQ4_NL {
  static constexpr size_t kWSize = sizeof(BlockIQ4_NL), kASize = sizeof(BlockQ8_0), kAq = 2;
  static constexpr bool kMin = false;
  static void unpack(const uint8_t* b, int8x16_t& lo, int8x16_t& hi) {
    const int8x16_t levels = vld1q_s8(kIq4nlValues);
    const uint8x16_t q = vld1q_u8(b + 2);
    lo = vqtbl1q_s8(levels, vandq_u8(q, vdupq_n_u8(15)));
    hi = vqtbl1q_s8(levels, vshrq_n_u8(q, 4));
  }
  // sumf += (d(y) * d(x)) * (float)sumi; the product of two floats is commutative, bit for bit
  static float32x4_t finish(int32x4_t s, float32x4_t dx, float32x4_t dy, float32x4_t, float32x4_t) {
    return vmulq_f32(vmulq_f32(dy, dx), vcvtq_f32_s32(s));
  }
};

// The 4 lanes' block terms. w[i] / a[i]: the shape's distinct weight / activation blocks.
template <class F, class S>
inline float32x4_t group32(const uint8_t* const* w, const uint8_t* const* a) {
  int8x16_t wl[S::kW], wh[S::kW], al[S::kA], ah[S::kA];
  for (int i = 0; i < S::kW; ++i) F::unpack(w[i], wl[i], wh[i]);
  for (int i = 0; i < S::kA; ++i) {
    al[i] = vld1q_s8(reinterpret_cast<const int8_t*>(a[i] + F::kAq));
    ah[i] = vld1q_s8(reinterpret_cast<const int8_t*>(a[i] + F::kAq + 16));
  }
  int32x4_t sumi;
#if ONDI_NEON_LEVEL >= 2
  if constexpr (std::is_same_v<S, Square>) {
    sumi = mmla16(mmla16(vdupq_n_s32(0), wl[0], wl[1], al[0], al[1]), wh[0], wh[1], ah[0], ah[1]);
  } else
#endif
  {
    int32x4_t acc[4];
    for (int l = 0; l < 4; ++l) acc[l] = dot32(wl[S::kWi[l]], wh[S::kWi[l]], al[S::kAi[l]], ah[S::kAi[l]]);
    sumi = hsum4(acc);
  }
  const float32x4_t dx = gather_h<S>(w, S::kWi, 0), dy = gather_h<S>(a, S::kAi, 0);
  float32x4_t mx = dx, sy = dy;
  if constexpr (F::kMin) {
    mx = gather_h<S>(w, S::kWi, 2);
    sy = gather_h<S>(a, S::kAi, 2);
  }
  return F::finish(sumi, dx, dy, mx, sy);
}

template <class F>
float vec_dot32(int64_t n, const void* wv, const void* av) {
  const auto* w = static_cast<const uint8_t*>(wv);
  const auto* a = static_cast<const uint8_t*>(av);
  const int64_t nb = n / 32;
  float sumf = 0.0f;
  for (int64_t ib = 0; ib < nb; ib += 4) {
    const uint8_t* wp[4];
    const uint8_t* ap[4];
    for (int l = 0; l < 4; ++l) {
      const int64_t b = std::min<int64_t>(ib + l, nb - 1);  // a short last group repeats its last block
      wp[l] = w + static_cast<size_t>(b) * F::kWSize;
      ap[l] = a + static_cast<size_t>(b) * F::kASize;
    }
    float t[4];
    vst1q_f32(t, group32<F, Seq>(wp, ap));
    const int valid = static_cast<int>(std::min<int64_t>(4, nb - ib));
    for (int l = 0; l < valid; ++l) sumf += t[l];  // ascending block order, as the reference
  }
  return sumf;
}

// ---- k-quants against Q8_K ---------------------------------------------------------------------------
// Per super-block and lane: isum = sum_j scale_j * (exact sub-block dot), summs = sum_j min_j * bsum_j; then
// the reference's (dy * d) * isum - (dy * dmin) * summs, lane-wise.

inline const int8_t* q8k_qs(const uint8_t* a) { return reinterpret_cast<const int8_t*>(a + 4); }
constexpr size_t kQ8KBsums = 4 + 256;

// Lane sums of per-lane accumulators: 4 lanes via the pairwise tree, one lane via a horizontal add.
template <class S>
inline int32x4_t lanes(const int32x4_t* acc) {
  if constexpr (S::kLanes == 4) {
    return hsum4(acc);
  } else {
    return vsetq_lane_s32(vaddvq_s32(acc[0]), vdupq_n_s32(0), 0);
  }
}

// The 8 sub-blocks' activation sums (pairs of Q8_K's 16-value bsums): |each| <= 32 * 128, fits int16.
inline int16x8_t bsums32(const uint8_t* a) {
  const int16x8_t b0 = vld1q_s16(reinterpret_cast<const int16_t*>(a + kQ8KBsums));
  const int16x8_t b1 = vld1q_s16(reinterpret_cast<const int16_t*>(a + kQ8KBsums + 16));
  return vpaddq_s16(b0, b1);
}

// Q4_K / Q5_K 12-byte scales (blocks.h) as bytes sc[0..7] and mn[0..7], with 32-bit word operations: with
// words w0 = bytes 0..3, w1 = 4..7, w2 = 8..11, sc[0..3] = w0 & 63 per byte, mn[0..3] = w1 & 63,
// sc[4..7] = (w2 & 15) | (w0 >> 6) << 4, mn[4..7] = (w2 >> 4) | (w1 >> 6) << 4.
inline void k4_scales(const uint8_t* s, uint8_t sc[8], uint8_t mn[8]) {
  const uint32_t w0 = ld_u32(s), w1 = ld_u32(s + 4), w2 = ld_u32(s + 8);
  const uint32_t sc_lo = w0 & 0x3f3f3f3fu, mn_lo = w1 & 0x3f3f3f3fu;
  const uint32_t sc_hi = (w2 & 0x0f0f0f0fu) | (((w0 >> 6) & 0x03030303u) << 4);
  const uint32_t mn_hi = ((w2 >> 4) & 0x0f0f0f0fu) | (((w1 >> 6) & 0x03030303u) << 4);
  std::memcpy(sc, &sc_lo, 4);
  std::memcpy(sc + 4, &sc_hi, 4);
  std::memcpy(mn, &mn_lo, 4);
  std::memcpy(mn + 4, &mn_hi, 4);
}

// kD / kDmin: byte offsets of the weight block's fp16 d and dmin.
template <class S, size_t kD = 0, size_t kDmin = 2>
inline float32x4_t finish_k_min(const uint8_t* const* w, const uint8_t* const* a, int32x4_t isum, int32x4_t summs) {
  const float32x4_t dy = gather_f<S>(a, S::kAi, 0);
  const float32x4_t d = gather_h<S>(w, S::kWi, kD), dmin = gather_h<S>(w, S::kWi, kDmin);
  return vsubq_f32(vmulq_f32(vmulq_f32(dy, d), vcvtq_f32_s32(isum)),
                   vmulq_f32(vmulq_f32(dy, dmin), vcvtq_f32_s32(summs)));
}

// summs lanes: sum_j mn[j] * bsum32[j] for each lane's (weight, activation) pair.
template <class S>
inline int32x4_t k_summs(const int16x8_t* mins, const uint8_t* const* a) {
  int16x8_t bs[S::kA];
  for (int i = 0; i < S::kA; ++i) bs[i] = bsums32(a[i]);
  int32x4_t acc[4];
  for (int l = 0; l < S::kLanes; ++l) {
    const int16x8_t m = mins[S::kWi[l]], b = bs[S::kAi[l]];
    acc[l] = vmlal_high_s16(vmull_s16(vget_low_s16(m), vget_low_s16(b)), m, b);
  }
  return lanes<S>(acc);
}

// Q4_K (kFive = false) and Q5_K: chunk c of 64 values is sub-blocks 2c (low nibbles of qs[32c..32c+31], plus
// bit 2c of qh) and 2c + 1 (high nibbles, bit 2c + 1).
template <bool kFive, class S>
inline float32x4_t group_k4(const uint8_t* const* w, const uint8_t* const* a) {
  constexpr size_t kScales = 4, kQh = 16, kQs = kFive ? 48 : 16;
  uint8_t sc[S::kW][8], mn[S::kW][8];
  int16x8_t mins[S::kW];
  uint8x16_t qh0[S::kW], qh1[S::kW];
  for (int i = 0; i < S::kW; ++i) {
    k4_scales(w[i] + kScales, sc[i], mn[i]);
    mins[i] = vreinterpretq_s16_u16(vmovl_u8(vld1_u8(mn[i])));
    if constexpr (kFive) {
      qh0[i] = vld1q_u8(w[i] + kQh);
      qh1[i] = vld1q_u8(w[i] + kQh + 16);
    }
  }
  int32x4_t isum[4];
  for (int l = 0; l < 4; ++l) isum[l] = vdupq_n_s32(0);
  const uint8x16_t m4 = vdupq_n_u8(15), b4 = vdupq_n_u8(0x10);
  for (int c = 0; c < 4; ++c) {
    int8x16_t lo0[S::kW], lo1[S::kW], hi0[S::kW], hi1[S::kW];
    for (int i = 0; i < S::kW; ++i) {
      const uint8x16_t q0 = vld1q_u8(w[i] + kQs + 32 * c), q1 = vld1q_u8(w[i] + kQs + 32 * c + 16);
      uint8x16_t l0 = vandq_u8(q0, m4), l1 = vandq_u8(q1, m4), h0 = vshrq_n_u8(q0, 4), h1 = vshrq_n_u8(q1, 4);
      if constexpr (kFive) {
        const uint8x16_t bit_lo = vdupq_n_u8(static_cast<uint8_t>(1u << (2 * c)));
        const uint8x16_t bit_hi = vdupq_n_u8(static_cast<uint8_t>(2u << (2 * c)));
        l0 = vorrq_u8(l0, vandq_u8(vtstq_u8(qh0[i], bit_lo), b4));
        l1 = vorrq_u8(l1, vandq_u8(vtstq_u8(qh1[i], bit_lo), b4));
        h0 = vorrq_u8(h0, vandq_u8(vtstq_u8(qh0[i], bit_hi), b4));
        h1 = vorrq_u8(h1, vandq_u8(vtstq_u8(qh1[i], bit_hi), b4));
      }
      lo0[i] = s8(l0);
      lo1[i] = s8(l1);
      hi0[i] = s8(h0);
      hi1[i] = s8(h1);
    }
    int8x16_t y[S::kA][4];
    for (int i = 0; i < S::kA; ++i)
      for (int k = 0; k < 4; ++k) y[i][k] = vld1q_s8(q8k_qs(a[i]) + 64 * c + 16 * k);
#if ONDI_NEON_LEVEL >= 2
    if constexpr (std::is_same_v<S, Square>) {
      // [w0.a0, w0.a1, w1.a0, w1.a1] per sub-block, scaled by each lane's weight scale
      const int32x4_t s0 =
          mmla16(mmla16(vdupq_n_s32(0), lo0[0], lo0[1], y[0][0], y[1][0]), lo1[0], lo1[1], y[0][1], y[1][1]);
      const int32x4_t s1 =
          mmla16(mmla16(vdupq_n_s32(0), hi0[0], hi0[1], y[0][2], y[1][2]), hi1[0], hi1[1], y[0][3], y[1][3]);
      const int32_t k0[4] = {sc[0][2 * c], sc[0][2 * c], sc[1][2 * c], sc[1][2 * c]};
      const int32_t k1[4] = {sc[0][2 * c + 1], sc[0][2 * c + 1], sc[1][2 * c + 1], sc[1][2 * c + 1]};
      isum[0] = vmlaq_s32(vmlaq_s32(isum[0], s0, vld1q_s32(k0)), s1, vld1q_s32(k1));
      continue;
    }
#endif
    for (int l = 0; l < S::kLanes; ++l) {
      const int wi = S::kWi[l], ai = S::kAi[l];
      const int32x4_t s0 = dot32(lo0[wi], lo1[wi], y[ai][0], y[ai][1]);
      const int32x4_t s1 = dot32(hi0[wi], hi1[wi], y[ai][2], y[ai][3]);
      isum[l] = vmlaq_n_s32(vmlaq_n_s32(isum[l], s0, sc[wi][2 * c]), s1, sc[wi][2 * c + 1]);
    }
  }
  int32x4_t is;
#if ONDI_NEON_LEVEL >= 2
  if constexpr (std::is_same_v<S, Square>) {
    is = isum[0];  // already one lane per output
  } else
#endif
  {
    is = lanes<S>(isum);
  }
  return finish_k_min<S>(w, a, is, k_summs<S>(mins, a));
}

// Q6_K, half h (128 values): from ql (64 bytes) and qh (32 bytes), 8 sub-blocks of 16 in value order:
// k = 2 v + (l >= 16) for the 4 value groups v (see blocks.h), each q in [0, 63] minus 32.
template <class S>
inline float32x4_t group_q6k(const uint8_t* const* w, const uint8_t* const* a) {
  constexpr size_t kQl = 0, kQh = 128, kSc = 192, kD = 208;
  int32x4_t isum[4];
  for (int l = 0; l < 4; ++l) isum[l] = vdupq_n_s32(0);
  const uint8x16_t m4 = vdupq_n_u8(15), m3 = vdupq_n_u8(3 << 4);
  const int8x16_t bias = vdupq_n_s8(32);
  for (int h = 0; h < 2; ++h) {
    int8x16_t v[S::kW][8];
    for (int i = 0; i < S::kW; ++i) {
      const uint8_t* ql = w[i] + kQl + 64 * h;
      const uint8_t* qh = w[i] + kQh + 32 * h;
      for (int half = 0; half < 2; ++half) {
        const uint8x16_t l0 = vld1q_u8(ql + 16 * half), l1 = vld1q_u8(ql + 32 + 16 * half);
        const uint8x16_t hb = vld1q_u8(qh + 16 * half);
        v[i][0 + half] = vsubq_s8(s8(vorrq_u8(vandq_u8(l0, m4), vandq_u8(vshlq_n_u8(hb, 4), m3))), bias);
        v[i][2 + half] = vsubq_s8(s8(vorrq_u8(vandq_u8(l1, m4), vandq_u8(vshlq_n_u8(hb, 2), m3))), bias);
        v[i][4 + half] = vsubq_s8(s8(vorrq_u8(vshrq_n_u8(l0, 4), vandq_u8(hb, m3))), bias);
        v[i][6 + half] = vsubq_s8(s8(vorrq_u8(vshrq_n_u8(l1, 4), vandq_u8(vshrq_n_u8(hb, 2), m3))), bias);
      }
    }
    for (int k = 0; k < 8; ++k) {
      int8x16_t y[S::kA];
      for (int i = 0; i < S::kA; ++i) y[i] = vld1q_s8(q8k_qs(a[i]) + 128 * h + 16 * k);
      for (int l = 0; l < S::kLanes; ++l) {
        const int wi = S::kWi[l];
        const int32_t scale = static_cast<int8_t>(w[wi][kSc + 8 * h + k]);
        isum[l] = vmlaq_n_s32(isum[l], dot16(vdupq_n_s32(0), v[wi][k], y[S::kAi[l]]), scale);
      }
    }
  }
  const float32x4_t dy = gather_f<S>(a, S::kAi, 0), d = gather_h<S>(w, S::kWi, kD);
  return vmulq_f32(vmulq_f32(dy, d), vcvtq_f32_s32(lanes<S>(isum)));  // (dy * d) * isum
}

// Q2_K: 16 sub-blocks of 16 in the 2-bit-plane packing (blocks.h): in half h, bits 2s of qs[32h + l] are value
// 128h + 32s + l, sub-block 8h + 2s + (l >= 16). Scales are the low nibbles of scales[j], mins the high ones.
template <class S>
inline float32x4_t group_q2k(const uint8_t* const* w, const uint8_t* const* a) {
  constexpr size_t kScales = 0, kQs = 16, kD = 80, kDmin = 82;
  int16x8_t mins[S::kW][2];
  for (int i = 0; i < S::kW; ++i) {
    const uint8x16_t sc = vld1q_u8(w[i] + kScales);
    const uint8x16_t mn = vshrq_n_u8(sc, 4);
    mins[i][0] = vreinterpretq_s16_u16(vmovl_u8(vget_low_u8(mn)));
    mins[i][1] = vreinterpretq_s16_u16(vmovl_high_u8(mn));
  }
  int32x4_t isum[4];
  for (int l = 0; l < 4; ++l) isum[l] = vdupq_n_s32(0);
  const uint8x16_t m2 = vdupq_n_u8(3);
  for (int h = 0; h < 2; ++h) {
    uint8x16_t q0[S::kW], q1[S::kW];
    for (int i = 0; i < S::kW; ++i) {
      q0[i] = vld1q_u8(w[i] + kQs + 32 * h);
      q1[i] = vld1q_u8(w[i] + kQs + 32 * h + 16);
    }
    for (int s = 0; s < 4; ++s) {
      int8x16_t v0[S::kW], v1[S::kW];
      for (int i = 0; i < S::kW; ++i) {
        v0[i] = s8(vandq_u8(q0[i], m2));
        v1[i] = s8(vandq_u8(q1[i], m2));
        q0[i] = vshrq_n_u8(q0[i], 2);
        q1[i] = vshrq_n_u8(q1[i], 2);
      }
      int8x16_t y0[S::kA], y1[S::kA];
      for (int i = 0; i < S::kA; ++i) {
        y0[i] = vld1q_s8(q8k_qs(a[i]) + 128 * h + 32 * s);
        y1[i] = vld1q_s8(q8k_qs(a[i]) + 128 * h + 32 * s + 16);
      }
      const int j = 8 * h + 2 * s;
      for (int l = 0; l < S::kLanes; ++l) {
        const int wi = S::kWi[l], ai = S::kAi[l];
        const int32_t s0 = w[wi][kScales + j] & 15, s1 = w[wi][kScales + j + 1] & 15;
        isum[l] = vmlaq_n_s32(isum[l], dot16(vdupq_n_s32(0), v0[wi], y0[ai]), s0);
        isum[l] = vmlaq_n_s32(isum[l], dot16(vdupq_n_s32(0), v1[wi], y1[ai]), s1);
      }
    }
  }
  int32x4_t summs[4];
  for (int l = 0; l < S::kLanes; ++l) {
    const uint8_t* b = a[S::kAi[l]] + kQ8KBsums;
    const int16x8_t b0 = vld1q_s16(reinterpret_cast<const int16_t*>(b));
    const int16x8_t b1 = vld1q_s16(reinterpret_cast<const int16_t*>(b + 16));
    const int16x8_t* m = mins[S::kWi[l]];
    summs[l] = vmlal_high_s16(
        vmlal_s16(vmull_s16(vget_low_s16(m[0]), vget_low_s16(b0)), vget_low_s16(m[1]), vget_low_s16(b1)), m[0], b0);
    summs[l] = vmlal_high_s16(summs[l], m[1], b1);
  }
  return finish_k_min<S, kD, kDmin>(w, a, lanes<S>(isum), lanes<S>(summs));
}

// Q3_K: the Q2_K bit planes for the low 2 bits, bit (4h + s) of hmask[l] as bit 2 (set: no -4 offset), 16 signed
// 6-bit scales.
template <class S>
inline float32x4_t group_q3k(const uint8_t* const* w, const uint8_t* const* a) {
  constexpr size_t kHmask = 0, kQs = 32, kScales = 96, kD = 108;
  int8_t sc[S::kW][16];
  uint8x16_t hm0[S::kW], hm1[S::kW];
  for (int i = 0; i < S::kW; ++i) {
    quant::q3k_scales(w[i] + kScales, sc[i]);
    hm0[i] = vld1q_u8(w[i] + kHmask);
    hm1[i] = vld1q_u8(w[i] + kHmask + 16);
  }
  int32x4_t isum[4];
  for (int l = 0; l < 4; ++l) isum[l] = vdupq_n_s32(0);
  const uint8x16_t m2 = vdupq_n_u8(3), b2 = vdupq_n_u8(4);
  const int8x16_t four = vdupq_n_s8(4);
  for (int h = 0; h < 2; ++h) {
    uint8x16_t q0[S::kW], q1[S::kW];
    for (int i = 0; i < S::kW; ++i) {
      q0[i] = vld1q_u8(w[i] + kQs + 32 * h);
      q1[i] = vld1q_u8(w[i] + kQs + 32 * h + 16);
    }
    for (int s = 0; s < 4; ++s) {
      const uint8x16_t bit = vdupq_n_u8(static_cast<uint8_t>(1u << (4 * h + s)));
      int8x16_t v0[S::kW], v1[S::kW];
      for (int i = 0; i < S::kW; ++i) {
        v0[i] = vsubq_s8(s8(vorrq_u8(vandq_u8(q0[i], m2), vandq_u8(vtstq_u8(hm0[i], bit), b2))), four);
        v1[i] = vsubq_s8(s8(vorrq_u8(vandq_u8(q1[i], m2), vandq_u8(vtstq_u8(hm1[i], bit), b2))), four);
        q0[i] = vshrq_n_u8(q0[i], 2);
        q1[i] = vshrq_n_u8(q1[i], 2);
      }
      int8x16_t y0[S::kA], y1[S::kA];
      for (int i = 0; i < S::kA; ++i) {
        y0[i] = vld1q_s8(q8k_qs(a[i]) + 128 * h + 32 * s);
        y1[i] = vld1q_s8(q8k_qs(a[i]) + 128 * h + 32 * s + 16);
      }
      const int j = 8 * h + 2 * s;
      for (int l = 0; l < S::kLanes; ++l) {
        const int wi = S::kWi[l], ai = S::kAi[l];
        isum[l] = vmlaq_n_s32(isum[l], dot16(vdupq_n_s32(0), v0[wi], y0[ai]), sc[wi][j]);
        isum[l] = vmlaq_n_s32(isum[l], dot16(vdupq_n_s32(0), v1[wi], y1[ai]), sc[wi][j + 1]);
      }
    }
  }
  const float32x4_t dy = gather_f<S>(a, S::kAi, 0), d = gather_h<S>(w, S::kWi, kD);
  return vmulq_f32(vmulq_f32(dy, d), vcvtq_f32_s32(lanes<S>(isum)));  // (dy * d) * isum
}

struct Q2_K {
  static constexpr size_t kWSize = sizeof(BlockQ2_K);
  template <class S>
  static float32x4_t group(const uint8_t* const* w, const uint8_t* const* a) {
    return group_q2k<S>(w, a);
  }
};
struct Q3_K {
  static constexpr size_t kWSize = sizeof(BlockQ3_K);
  template <class S>
  static float32x4_t group(const uint8_t* const* w, const uint8_t* const* a) {
    return group_q3k<S>(w, a);
  }
};
struct Q4_K {
  static constexpr size_t kWSize = sizeof(BlockQ4_K);
  template <class S>
  static float32x4_t group(const uint8_t* const* w, const uint8_t* const* a) {
    return group_k4<false, S>(w, a);
  }
};
struct Q5_K {
  static constexpr size_t kWSize = sizeof(BlockQ5_K);
  template <class S>
  static float32x4_t group(const uint8_t* const* w, const uint8_t* const* a) {
    return group_k4<true, S>(w, a);
  }
};
struct Q6_K {
  static constexpr size_t kWSize = sizeof(BlockQ6_K);
  template <class S>
  static float32x4_t group(const uint8_t* const* w, const uint8_t* const* a) {
    return group_q6k<S>(w, a);
  }
};

template <class F>
float vec_dot_k(int64_t n, const void* wv, const void* av) {
  const auto* w = static_cast<const uint8_t*>(wv);
  const auto* a = static_cast<const uint8_t*>(av);
  float sumf = 0.0f;
  for (int64_t ib = 0; ib < n / 256; ++ib) {
    const uint8_t* wp = w + static_cast<size_t>(ib) * F::kWSize;
    const uint8_t* ap = a + static_cast<size_t>(ib) * sizeof(BlockQ8_K);
    sumf += vgetq_lane_f32(F::template group<One>(&wp, &ap), 0);
  }
  return sumf;
}

// ---- GEMM tiles for the block formats --------------------------------------------------------------------
// F: a format with kWSize, kASize and group<S>(w, a). Tokens are taken in chunks of kTokChunk (their
// activation rows stay in cache while the rows stream past), pairs of tokens with pairs of rows (Square), a
// single leftover token with 4 rows at a time (Rows4). A short tile repeats its last row / token and stores
// only the real outputs.

constexpr int64_t kTokChunk = 8;

template <class F32Fmt>
struct Blk32 {  // adapts a 32-element format to the gemm driver
  static constexpr size_t kWSize = F32Fmt::kWSize, kASize = F32Fmt::kASize;
  static constexpr int64_t kBlock = 32;
  template <class S>
  static float32x4_t group(const uint8_t* const* w, const uint8_t* const* a) {
    return group32<F32Fmt, S>(w, a);
  }
};
template <class K>
struct BlkK {
  static constexpr size_t kWSize = K::kWSize, kASize = sizeof(BlockQ8_K);
  static constexpr int64_t kBlock = 256;
  template <class S>
  static float32x4_t group(const uint8_t* const* w, const uint8_t* const* a) {
    return K::template group<S>(w, a);
  }
};

// Accumulates the S-shaped tile over all blocks: lane l = dot(row wr[kWi[l]], token ar[kAi[l]]).
template <class F, class S>
inline float32x4_t tile(int64_t nb, const uint8_t* const* wr, const uint8_t* const* ar) {
  float32x4_t acc = vdupq_n_f32(0.0f);
  for (int64_t ib = 0; ib < nb; ++ib) {
    const uint8_t* wp[S::kW];
    const uint8_t* ap[S::kA];
    for (int i = 0; i < S::kW; ++i) wp[i] = wr[i] + static_cast<size_t>(ib) * F::kWSize;
    for (int i = 0; i < S::kA; ++i) ap[i] = ar[i] + static_cast<size_t>(ib) * F::kASize;
    acc = vaddq_f32(acc, F::template group<S>(wp, ap));  // lane-wise sumf += term, ascending blocks
  }
  return acc;
}

template <class F>
void gemm_blocks(int64_t n, const void* wv, size_t w_stride, int64_t n_rows, const void* av, size_t act_stride,
                 int64_t n_tok, float* y, size_t ldy) {
  const auto* w = static_cast<const uint8_t*>(wv);
  const auto* a = static_cast<const uint8_t*>(av);
  const int64_t nb = n / F::kBlock;
  auto row = [&](int64_t r) { return w + static_cast<size_t>(std::min(r, n_rows - 1)) * w_stride; };
  auto out = [&](int64_t t, int64_t r) -> float& { return y[static_cast<size_t>(t) * ldy + static_cast<size_t>(r)]; };
  for (int64_t t0 = 0; t0 < n_tok; t0 += kTokChunk) {
    const int64_t t1 = std::min(n_tok, t0 + kTokChunk);
    const int64_t pairs_end = t0 + (t1 - t0) / 2 * 2;
    for (int64_t r = 0; r < n_rows; r += 2) {
      const uint8_t* wr[2] = {row(r), row(r + 1)};
      for (int64_t t = t0; t < pairs_end; t += 2) {
        const uint8_t* ar[2] = {a + static_cast<size_t>(t) * act_stride, a + static_cast<size_t>(t + 1) * act_stride};
        float v[4];
        vst1q_f32(v, tile<F, Square>(nb, wr, ar));
        out(t, r) = v[0];
        out(t + 1, r) = v[1];
        if (r + 1 < n_rows) {
          out(t, r + 1) = v[2];
          out(t + 1, r + 1) = v[3];
        }
      }
    }
    if (pairs_end < t1) {  // one token left in this chunk
      const int64_t t = pairs_end;
      const uint8_t* ar[1] = {a + static_cast<size_t>(t) * act_stride};
      for (int64_t r = 0; r < n_rows; r += 4) {
        const uint8_t* wr[4] = {row(r), row(r + 1), row(r + 2), row(r + 3)};
        float v[4];
        vst1q_f32(v, tile<F, Rows4>(nb, wr, ar));
        for (int l = 0; l < 4 && r + l < n_rows; ++l) out(t, r + l) = v[l];
      }
    }
  }
}

// ---- F16 / BF16 ------------------------------------------------------------------------------------------
// Products of two halves (two bf16) are exact in f32; they are summed in f64 in 8 lanes (4 registers): lane
// k of register j takes elements 8i + 2j + k. Then (r0 + r1) + (r2 + r3), its two lanes, and the n % 8 tail
// in element order. Every output of every tile shape follows exactly this sequence.

template <bool kBf16>
inline void load8(const uint8_t* p, float32x4_t& lo, float32x4_t& hi) {
  const uint16x8_t h = vld1q_u16(reinterpret_cast<const uint16_t*>(p));
  if constexpr (kBf16) {
    lo = vreinterpretq_f32_u32(vshll_n_u16(vget_low_u16(h), 16));
    hi = vreinterpretq_f32_u32(vshll_high_n_u16(h, 16));
  } else {
    const float16x8_t f = vreinterpretq_f16_u16(h);
    lo = vcvt_f32_f16(vget_low_f16(f));
    hi = vcvt_high_f32_f16(f);
  }
}
template <bool kBf16>
inline float load1(const uint8_t* p) {
  return kBf16 ? bf16_to_f32(ld_u16(p)) : fp16_to_f32(ld_u16(p));
}

// R rows x T tokens; out[t][r].
template <bool kBf16, int R, int T>
inline void tile_f16(int64_t n, const uint8_t* const* wr, const uint8_t* const* ar, float out[T][R]) {
  float64x2_t acc[R][T][4];
  for (int r = 0; r < R; ++r)
    for (int t = 0; t < T; ++t)
      for (int j = 0; j < 4; ++j) acc[r][t][j] = vdupq_n_f64(0.0);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    float32x4_t wl[R], wh[R], xl[T], xh[T];
    for (int r = 0; r < R; ++r) load8<kBf16>(wr[r] + 2 * i, wl[r], wh[r]);
    for (int t = 0; t < T; ++t) load8<kBf16>(ar[t] + 2 * i, xl[t], xh[t]);
    for (int r = 0; r < R; ++r)
      for (int t = 0; t < T; ++t) {
        const float32x4_t p0 = vmulq_f32(wl[r], xl[t]), p1 = vmulq_f32(wh[r], xh[t]);
        acc[r][t][0] = vaddq_f64(acc[r][t][0], vcvt_f64_f32(vget_low_f32(p0)));
        acc[r][t][1] = vaddq_f64(acc[r][t][1], vcvt_high_f64_f32(p0));
        acc[r][t][2] = vaddq_f64(acc[r][t][2], vcvt_f64_f32(vget_low_f32(p1)));
        acc[r][t][3] = vaddq_f64(acc[r][t][3], vcvt_high_f64_f32(p1));
      }
  }
  for (int r = 0; r < R; ++r)
    for (int t = 0; t < T; ++t) {
      const float64x2_t s = vaddq_f64(vaddq_f64(acc[r][t][0], acc[r][t][1]), vaddq_f64(acc[r][t][2], acc[r][t][3]));
      double sum = vgetq_lane_f64(s, 0) + vgetq_lane_f64(s, 1);
      for (int64_t k = i; k < n; ++k)
        sum += static_cast<double>(load1<kBf16>(wr[r] + 2 * k) * load1<kBf16>(ar[t] + 2 * k));
      out[t][r] = static_cast<float>(sum);
    }
}

template <bool kBf16>
float vec_dot_f16(int64_t n, const void* w, const void* a) {
  const uint8_t* wr[1] = {static_cast<const uint8_t*>(w)};
  const uint8_t* ar[1] = {static_cast<const uint8_t*>(a)};
  float out[1][1];
  tile_f16<kBf16, 1, 1>(n, wr, ar, out);
  return out[0][0];
}

template <bool kBf16>
void gemm_f16(int64_t n, const void* wv, size_t w_stride, int64_t n_rows, const void* av, size_t act_stride,
              int64_t n_tok, float* y, size_t ldy) {
  const auto* w = static_cast<const uint8_t*>(wv);
  const auto* a = static_cast<const uint8_t*>(av);
  auto row = [&](int64_t r) { return w + static_cast<size_t>(std::min(r, n_rows - 1)) * w_stride; };
  auto tok = [&](int64_t t) { return a + static_cast<size_t>(std::min(t, n_tok - 1)) * act_stride; };
  auto out = [&](int64_t t, int64_t r) -> float& { return y[static_cast<size_t>(t) * ldy + static_cast<size_t>(r)]; };
  for (int64_t t0 = 0; t0 < n_tok; t0 += kTokChunk) {
    const int64_t t1 = std::min(n_tok, t0 + kTokChunk);
    const int64_t pairs_end = t0 + (t1 - t0) / 2 * 2;
    for (int64_t r = 0; r < n_rows; r += 2) {
      const uint8_t* wr[2] = {row(r), row(r + 1)};
      for (int64_t t = t0; t < pairs_end; t += 2) {
        const uint8_t* ar[2] = {tok(t), tok(t + 1)};
        float v[2][2];
        tile_f16<kBf16, 2, 2>(n, wr, ar, v);
        for (int dt = 0; dt < 2; ++dt)
          for (int dr = 0; dr < 2 && r + dr < n_rows; ++dr) out(t + dt, r + dr) = v[dt][dr];
      }
    }
    if (pairs_end < t1) {
      const uint8_t* ar[1] = {tok(pairs_end)};
      for (int64_t r = 0; r < n_rows; r += 4) {
        const uint8_t* wr[4] = {row(r), row(r + 1), row(r + 2), row(r + 3)};
        float v[1][4];
        tile_f16<kBf16, 4, 1>(n, wr, ar, v);
        for (int dr = 0; dr < 4 && r + dr < n_rows; ++dr) out(pairs_end, r + dr) = v[0][dr];
      }
    }
  }
}

}  // namespace

VecDotFn vec_dot(GgmlType weight) {
  switch (weight) {
    case GgmlType::F16:
      return vec_dot_f16<false>;
    case GgmlType::BF16:
      return vec_dot_f16<true>;
    case GgmlType::Q4_0:
      return vec_dot32<Q4_0>;
    case GgmlType::Q4_1:
      return vec_dot32<Q4_1>;
    case GgmlType::Q5_0:
      return vec_dot32<Q5_0>;
    case GgmlType::Q5_1:
      return vec_dot32<Q5_1>;
    case GgmlType::Q8_0:
      return vec_dot32<Q8_0>;
    case GgmlType::IQ4_NL:
      return vec_dot32<IQ4_NL>;
    case GgmlType::Q2_K:
      return vec_dot_k<Q2_K>;
    case GgmlType::Q3_K:
      return vec_dot_k<Q3_K>;
    case GgmlType::Q4_K:
      return vec_dot_k<Q4_K>;
    case GgmlType::Q5_K:
      return vec_dot_k<Q5_K>;
    case GgmlType::Q6_K:
      return vec_dot_k<Q6_K>;
    default:
      return nullptr;  // F32: the scalar reference
  }
}

GemmFn gemm(GgmlType weight) {
  switch (weight) {
    case GgmlType::F16:
      return gemm_f16<false>;
    case GgmlType::BF16:
      return gemm_f16<true>;
    case GgmlType::Q4_0:
      return gemm_blocks<Blk32<Q4_0>>;
    case GgmlType::Q4_1:
      return gemm_blocks<Blk32<Q4_1>>;
    case GgmlType::Q5_0:
      return gemm_blocks<Blk32<Q5_0>>;
    case GgmlType::Q5_1:
      return gemm_blocks<Blk32<Q5_1>>;
    case GgmlType::Q8_0:
      return gemm_blocks<Blk32<Q8_0>>;
    case GgmlType::IQ4_NL:
      return gemm_blocks<Blk32<IQ4_NL>>;
    case GgmlType::Q2_K:
      return gemm_blocks<BlkK<Q2_K>>;
    case GgmlType::Q3_K:
      return gemm_blocks<BlkK<Q3_K>>;
    case GgmlType::Q4_K:
      return gemm_blocks<BlkK<Q4_K>>;
    case GgmlType::Q5_K:
      return gemm_blocks<BlkK<Q5_K>>;
    case GgmlType::Q6_K:
      return gemm_blocks<BlkK<Q6_K>>;
    default:
      return nullptr;
  }
}

}  // namespace ondi::neon::ONDI_NEON_NS
