// Quantizers: hand-derived behaviour of the reference quantizers (the rounding rules that decide the bytes),
// and quantize -> dequantize round trips of every type with error bounds derived from each format.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

#include "tensor/blocks.h"
#include "tensor/quants.h"
#include "tensor/types.h"

namespace ondi {
namespace {

uint16_t get16(const std::vector<uint8_t>& b, size_t off) { return static_cast<uint16_t>(b[off] | b[off + 1] << 8); }

std::vector<uint8_t> encode(GgmlType t, const std::vector<float>& x) {
  std::vector<uint8_t> out(*row_size(t, static_cast<int64_t>(x.size())));
  quantize_row(t, x.data(), out.data(), static_cast<int64_t>(x.size()));
  return out;
}

std::vector<float> roundtrip(GgmlType t, const std::vector<float>& x) {
  auto bytes = encode(t, x);
  std::vector<float> y(x.size());
  dequantize_row(t, bytes.data(), y.data(), static_cast<int64_t>(x.size()));
  return y;
}

TEST(TensorQuants, CanQuantizeEveryKnownType) {
  for (GgmlType t : {GgmlType::F32, GgmlType::F16, GgmlType::BF16, GgmlType::Q4_0, GgmlType::Q4_1, GgmlType::Q5_0,
                     GgmlType::Q5_1, GgmlType::Q8_0, GgmlType::Q8_1, GgmlType::Q2_K, GgmlType::Q3_K, GgmlType::Q4_K,
                     GgmlType::Q5_K, GgmlType::Q6_K, GgmlType::Q8_K, GgmlType::IQ4_NL})
    EXPECT_TRUE(can_quantize(t)) << type_name(t);
}

// Q4_0: d = (signed absmax) / -8, q = min(15, trunc(x / d + 8.5)). With x[0] = 4 the absmax (first of two
// equal magnitudes), d = -0.5 (fp16 0xB800):
//   x = 4    -> -8 + 8.5 = 0.5  -> q 0  -> decodes to 4
//   x = -4   ->  8 + 8.5 = 16.5 -> 16, clamped to 15 -> decodes to -3.5 (the level -8 exists only on one side)
//   x = 1    -> -2 + 8.5 = 6.5  -> q 6  -> 1
//   x = 0.25 -> -0.5 + 8.5 = 8  -> q 8  -> 0      (ties go up in q: truncation after +0.5)
//   x = -0.25 -> 0.5 + 8.5 = 9  -> q 9  -> -0.5
TEST(TensorQuants, Q4_0RoundingFollowsReference) {
  std::vector<float> x(32, 0.0f);
  x[0] = 4;
  x[1] = -4;
  x[2] = 1;
  x[3] = 0.25f;
  x[16] = -0.25f;
  auto b = encode(GgmlType::Q4_0, x);
  EXPECT_EQ(get16(b, 0), 0xB800);
  EXPECT_EQ(b[2 + 0] & 15, 0);
  EXPECT_EQ(b[2 + 1] & 15, 15);
  EXPECT_EQ(b[2 + 2] & 15, 6);
  EXPECT_EQ(b[2 + 3] & 15, 8);
  EXPECT_EQ(b[2 + 0] >> 4, 9);  // x[16]
  EXPECT_EQ(b[2 + 4] & 15, 8);  // zeros -> q 8
}

// Q4_1: d = (max - min) / 15, m = min, q = min(15, trunc((x - min) / d + 0.5)): ties round up (half-even
// would differ). min -1, max 2.75 -> d = 0.25 exactly (fp16 0x3400), 1/d = 4:
//   x = 0.125 -> 4.5 + 0.5 = 5 -> q 5;  x = 0.625 -> 6.5 + 0.5 = 7 -> q 7;  x = 2.75 -> 15.5 -> q 15.
TEST(TensorQuants, Q4_1AffineLevels) {
  std::vector<float> x(32, 2.75f);
  x[0] = -1;
  x[1] = 0.125f;
  x[2] = 0.625f;
  auto b = encode(GgmlType::Q4_1, x);
  EXPECT_EQ(get16(b, 0), 0x3400);
  EXPECT_EQ(get16(b, 2), 0xBC00);  // m = -1
  EXPECT_EQ(b[4 + 0] & 15, 0);
  EXPECT_EQ(b[4 + 1] & 15, 5);
  EXPECT_EQ(b[4 + 2] & 15, 7);
  EXPECT_EQ(b[4 + 3] & 15, 15);
}

// Q8_0: d = amax / 127, q = roundf(x / d): ties away from zero. amax = 127 -> d = 1, so q(2.5) = 3,
// q(-2.5) = -3, q(0.5) = 1, q(-63.5) = -64.
TEST(TensorQuants, Q8_0RoundsHalfAwayFromZero) {
  std::vector<float> x(32, 0.0f);
  x[0] = 127;
  x[1] = 2.5f;
  x[2] = -2.5f;
  x[3] = 0.5f;
  x[4] = -63.5f;
  auto b = encode(GgmlType::Q8_0, x);
  EXPECT_EQ(get16(b, 0), 0x3C00);
  EXPECT_EQ(static_cast<int8_t>(b[2]), 127);
  EXPECT_EQ(static_cast<int8_t>(b[3]), 3);
  EXPECT_EQ(static_cast<int8_t>(b[4]), -3);
  EXPECT_EQ(static_cast<int8_t>(b[5]), 1);
  EXPECT_EQ(static_cast<int8_t>(b[6]), -64);
}

// Q8_1 adds s = fp16(d * sum q). Same data as above: sum q = 127 + 3 - 3 + 1 - 64 = 64, d = 1 -> s = 64.
TEST(TensorQuants, Q8_1StoresScaledSum) {
  std::vector<float> x(32, 0.0f);
  x[0] = 127;
  x[1] = 2.5f;
  x[2] = -2.5f;
  x[3] = 0.5f;
  x[4] = -63.5f;
  auto b = encode(GgmlType::Q8_1, x);
  EXPECT_EQ(get16(b, 0), 0x3C00);
  EXPECT_EQ(get16(b, 2), 0x5400);  // 64 = 2^6: exponent 6 + 15 = 21 -> 21 << 10
  EXPECT_EQ(static_cast<int8_t>(b[4 + 4]), -64);
}

// Q8_K: iscale = -127 / (signed absmax), q = min(127, round-half-even(iscale * x)), d = 1 / iscale (f32),
// bsums = per-16 sums. With the absmax -127: iscale = 1, d = 1, q(2.5) = 2, q(3.5) = 4, q(-0.5) = 0.
// With the absmax +127 instead, iscale = -1: d = -1 and every q flips sign.
TEST(TensorQuants, Q8_KRoundsHalfEvenAndKeepsSignInScale) {
  std::vector<float> x(256, 0.0f);
  x[0] = -127;
  x[1] = 2.5f;
  x[2] = 3.5f;
  x[3] = -0.5f;
  x[17] = 5;
  auto b = encode(GgmlType::Q8_K, x);
  float d;
  std::memcpy(&d, b.data(), 4);
  EXPECT_EQ(d, 1.0f);
  EXPECT_EQ(static_cast<int8_t>(b[4 + 0]), -127);
  EXPECT_EQ(static_cast<int8_t>(b[4 + 1]), 2);
  EXPECT_EQ(static_cast<int8_t>(b[4 + 2]), 4);
  EXPECT_EQ(static_cast<int8_t>(b[4 + 3]), 0);
  int16_t bs0, bs1;
  std::memcpy(&bs0, b.data() + 260, 2);
  std::memcpy(&bs1, b.data() + 262, 2);
  EXPECT_EQ(bs0, -127 + 2 + 4);
  EXPECT_EQ(bs1, 5);

  x[0] = 127;
  b = encode(GgmlType::Q8_K, x);
  std::memcpy(&d, b.data(), 4);
  EXPECT_EQ(d, -1.0f);
  EXPECT_EQ(static_cast<int8_t>(b[4 + 0]), -127);
  EXPECT_EQ(static_cast<int8_t>(b[4 + 1]), -2);
  EXPECT_EQ(static_cast<int8_t>(b[4 + 17]), -5);
}

// An all-zero block encodes to bytes that decode to exact zeros in every format.
TEST(TensorQuants, ZeroBlocksDecodeToZero) {
  for (GgmlType t : {GgmlType::F16, GgmlType::BF16, GgmlType::Q4_0, GgmlType::Q4_1, GgmlType::Q5_0, GgmlType::Q5_1,
                     GgmlType::Q8_0, GgmlType::Q8_1, GgmlType::Q2_K, GgmlType::Q3_K, GgmlType::Q4_K, GgmlType::Q5_K,
                     GgmlType::Q6_K, GgmlType::Q8_K, GgmlType::IQ4_NL}) {
    std::vector<float> x(512, 0.0f);
    auto y = roundtrip(t, x);
    for (float v : y) ASSERT_EQ(v, 0.0f) << type_name(t);
  }
}

// ---- round trips --------------------------------------------------------------------------------------

std::vector<float> gaussian(size_t n, uint32_t seed, float sigma = 1.0f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, sigma);
  std::vector<float> x(n);
  for (auto& v : x) v = dist(rng);
  return x;
}

// Per-element bound for the 32-element formats, from the format's step and the fp16 rounding (relative
// error <= 2^-11) of its scale and min, for the block [x0, x0 + 32):
//   Q8_0 / Q8_1: step d = amax/127; nearest rounding -> d/2; |q| <= 127 times the fp16 error of d
//                -> amax * 2^-11. Bound amax * (1/254 + 2^-11).
//   Q4_0: |d| = amax/8; rounding d/2, but the clamp (level -8 exists on one side only) costs up to a full
//         step; fp16 error 8 |d| 2^-11. Bound amax/8 * (1 + 2^-8).
//   Q5_0: same with 16: amax/16 * (1 + 2^-7).
//   Q4_1 / Q5_1: step (max-min)/L (L = 15, 31), rounding step/2, fp16 error of d times L and of m.
//                Bound (max-min) * (1/(2L) + 2^-11) + |min| * 2^-11.
// plus 4 f32 ulps of amax for the arithmetic.
double simple_bound(GgmlType t, const float* x) {
  float amax = 0, mn = x[0], mx = x[0];
  for (int i = 0; i < 32; ++i) {
    amax = std::max(amax, std::fabs(x[i]));
    mn = std::min(mn, x[i]);
    mx = std::max(mx, x[i]);
  }
  const double u16 = std::ldexp(1.0, -11), slop = 4 * std::ldexp(static_cast<double>(amax), -24);
  switch (t) {
    case GgmlType::Q8_0:
    case GgmlType::Q8_1:
      return amax * (1.0 / 254 + u16) + slop;
    case GgmlType::Q4_0:
      return amax / 8.0 * (1 + std::ldexp(1.0, -8)) + slop;
    case GgmlType::Q5_0:
      return amax / 16.0 * (1 + std::ldexp(1.0, -7)) + slop;
    case GgmlType::Q4_1:
      return (mx - mn) * (1.0 / 30 + u16) + std::fabs(mn) * u16 + slop;
    case GgmlType::Q5_1:
      return (mx - mn) * (1.0 / 62 + u16) + std::fabs(mn) * u16 + slop;
    default:
      return 0;
  }
}

TEST(TensorQuants, SimpleQuantsRoundTripWithinStepBound) {
  for (GgmlType t : {GgmlType::Q4_0, GgmlType::Q4_1, GgmlType::Q5_0, GgmlType::Q5_1, GgmlType::Q8_0, GgmlType::Q8_1}) {
    for (int rows : {1, 3, 7}) {
      const int64_t n = 96;  // three blocks per row
      auto x = gaussian(static_cast<size_t>(rows * n), 1000 + rows);
      x[5] = 9.0f;  // an outlier: its block's step grows, the others' do not
      for (int r = 0; r < rows; ++r) {
        std::vector<float> row(x.begin() + r * n, x.begin() + (r + 1) * n);
        auto y = roundtrip(t, row);
        for (int64_t i = 0; i < n; ++i)
          ASSERT_LE(std::fabs(y[i] - row[i]), simple_bound(t, row.data() + (i / 32) * 32))
              << type_name(t) << " row " << r << " elem " << i;
      }
    }
  }
}

// F16 / BF16 are round-to-nearest: relative error <= 2^-11 / 2^-8 (normal range).
TEST(TensorQuants, FloatFormatsRoundTrip) {
  auto x = gaussian(333, 7);
  auto h = roundtrip(GgmlType::F16, x), b = roundtrip(GgmlType::BF16, x), f = roundtrip(GgmlType::F32, x);
  for (size_t i = 0; i < x.size(); ++i) {
    EXPECT_LE(std::fabs(h[i] - x[i]), std::ldexp(std::fabs(x[i]), -11));
    EXPECT_LE(std::fabs(b[i] - x[i]), std::ldexp(std::fabs(x[i]), -8));
    EXPECT_EQ(f[i], x[i]);
  }
}

// Q8_K: step |d| = amax/127 in f32 (no fp16 rounding): |error| <= amax/254 plus f32 arithmetic.
TEST(TensorQuants, Q8_KRoundTripWithinHalfStep) {
  auto x = gaussian(256 * 5, 11);
  auto y = roundtrip(GgmlType::Q8_K, x);
  for (size_t b = 0; b < 5; ++b) {
    float amax = 0;
    for (int i = 0; i < 256; ++i) amax = std::max(amax, std::fabs(x[256 * b + i]));
    for (int i = 0; i < 256; ++i) ASSERT_LE(std::fabs(y[256 * b + i] - x[256 * b + i]), amax * (1.0 / 254 + 1e-6)) << i;
  }
}

double rel_rms(const std::vector<float>& x, const std::vector<float>& y) {
  double e = 0, s = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    e += (static_cast<double>(y[i]) - x[i]) * (static_cast<double>(y[i]) - x[i]);
    s += static_cast<double>(x[i]) * x[i];
  }
  return std::sqrt(e / s);
}

// Bounds for N(0, 1) data, relative RMS. A uniform quantizer with step D has RMS error D / sqrt(12).
// Steps per format (sub-block of n values, range from Gaussian order statistics):
//   Q2_K:   n 16, 4 levels over [min, max] ~ 3.5 sigma  -> D ~ 1.17 -> 0.34
//   Q3_K:   n 16, 8 levels over +-amax ~ +-2.0 sigma    -> D ~ 0.50 -> 0.144
//   Q4_K:   n 32, 16 levels over ~ 4.1 sigma            -> D ~ 0.27 -> 0.079
//   Q5_K:   n 32, 32 levels                             -> D ~ 0.13 -> 0.038
//   Q6_K:   n 16, 64 levels over +-amax                 -> D ~ 0.063 -> 0.018
//   IQ4_NL: n 32, 16 non-uniform levels over +-2.1 sigma, mean gap ~16/127 amax -> D ~ 0.26 -> 0.076
// The searches should do at least as well as plain rounding; the bounds allow 1.35x for the 4/6-bit
// quantization of the sub-block scales and for the fp16 super-scales.
double kquant_bound(GgmlType t) {
  switch (t) {
    case GgmlType::Q2_K:
      return 0.34 * 1.35;
    case GgmlType::Q3_K:
      return 0.144 * 1.35;
    case GgmlType::Q4_K:
      return 0.079 * 1.35;
    case GgmlType::Q5_K:
      return 0.038 * 1.35;
    case GgmlType::Q6_K:
      return 0.018 * 1.35;
    case GgmlType::IQ4_NL:
      return 0.076 * 1.35;
    default:
      return 0;
  }
}

TEST(TensorQuants, KQuantsAndIQ4NLRoundTripWithinRmsBound) {
  for (GgmlType t :
       {GgmlType::Q2_K, GgmlType::Q3_K, GgmlType::Q4_K, GgmlType::Q5_K, GgmlType::Q6_K, GgmlType::IQ4_NL}) {
    for (int rows : {1, 3, 5}) {
      const int64_t n = 512;
      auto x = gaussian(static_cast<size_t>(rows * n), 77 + rows, 0.02f);  // weight-like magnitudes
      std::vector<float> y(x.size());
      for (int r = 0; r < rows; ++r) {
        std::vector<float> row(x.begin() + r * n, x.begin() + (r + 1) * n);
        auto yr = roundtrip(t, row);
        std::copy(yr.begin(), yr.end(), y.begin() + r * n);
      }
      const double err = rel_rms(x, y);
      EXPECT_LT(err, kquant_bound(t)) << type_name(t) << " rows " << rows;
      RecordProperty(std::string(type_name(t)) + "_rel_rms_x1000", static_cast<int>(err * 1000));
    }
  }
}

// Rows where one sub-block is all zero, or constant, or holds one spike, stay well-formed: finite values,
// zeros where the input was zero-only sub-blocks (every format has an exact zero there: scale or level 0).
TEST(TensorQuants, KQuantsHandleDegenerateSubBlocks) {
  for (GgmlType t :
       {GgmlType::Q2_K, GgmlType::Q3_K, GgmlType::Q4_K, GgmlType::Q5_K, GgmlType::Q6_K, GgmlType::IQ4_NL}) {
    auto x = gaussian(512, 5);
    for (int i = 0; i < 32; ++i) x[i] = 0.0f;     // zero sub-block
    for (int i = 32; i < 64; ++i) x[i] = 0.75f;   // constant positive sub-block
    for (int i = 256; i < 288; ++i) x[i] = 0.0f;  // a spike in zeros
    x[270] = -50.0f;
    auto y = roundtrip(t, x);
    for (size_t i = 0; i < y.size(); ++i) ASSERT_TRUE(std::isfinite(y[i])) << type_name(t) << " " << i;
    EXPECT_NEAR(y[270], -50.0f, 50.0f * 0.1) << type_name(t);
    double e = 0;
    for (int i = 32; i < 64; ++i) e = std::max(e, std::fabs(static_cast<double>(y[i]) - 0.75));
    EXPECT_LT(e, 0.75 * 0.5) << type_name(t);
  }
}

}  // namespace
}  // namespace ondi
