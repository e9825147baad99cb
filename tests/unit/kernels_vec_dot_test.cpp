// Dot-product kernels: activation conversion, the weight -> activation format mapping, hand-built block dots,
// and vec_dot(weight, quantize_activations(x)) against an f64 dot of the decoded operands over many sizes and
// misaligned buffers, with a bound derived from the kernels' float operations.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

#include "kernels/kernels.h"
#include "tensor/quants.h"
#include "tensor/types.h"

namespace ondi {
namespace {

constexpr GgmlType kWeightTypes[] = {GgmlType::F32,  GgmlType::F16,  GgmlType::BF16, GgmlType::Q4_0,  GgmlType::Q4_1,
                                     GgmlType::Q5_0, GgmlType::Q5_1, GgmlType::Q8_0, GgmlType::Q2_K,  GgmlType::Q3_K,
                                     GgmlType::Q4_K, GgmlType::Q5_K, GgmlType::Q6_K, GgmlType::IQ4_NL};

TEST(KernelsVecDot, VecDotTypeMapping) {
  // As documented in kernels.h (the reference engine's vec_dot_type table).
  EXPECT_EQ(vec_dot_type(GgmlType::F32), GgmlType::F32);
  EXPECT_EQ(vec_dot_type(GgmlType::F16), GgmlType::F16);
  EXPECT_EQ(vec_dot_type(GgmlType::BF16), GgmlType::BF16);
  for (GgmlType t : {GgmlType::Q4_0, GgmlType::Q5_0, GgmlType::Q8_0, GgmlType::IQ4_NL})
    EXPECT_EQ(vec_dot_type(t), GgmlType::Q8_0) << type_name(t);
  for (GgmlType t : {GgmlType::Q4_1, GgmlType::Q5_1}) EXPECT_EQ(vec_dot_type(t), GgmlType::Q8_1) << type_name(t);
  for (GgmlType t : {GgmlType::Q2_K, GgmlType::Q3_K, GgmlType::Q4_K, GgmlType::Q5_K, GgmlType::Q6_K})
    EXPECT_EQ(vec_dot_type(t), GgmlType::Q8_K) << type_name(t);
}

TEST(KernelsVecDot, KernelsExistForWeightTypesOnly) {
  for (GgmlType t : kWeightTypes) {
    EXPECT_NE(vec_dot_fn(t), nullptr) << type_name(t);
    EXPECT_NE(ref::vec_dot_fn(t), nullptr) << type_name(t);
    // activations and weights agree on the block size
    EXPECT_EQ(type_info(vec_dot_type(t))->block_size, type_info(t)->block_size) << type_name(t);
  }
  EXPECT_EQ(vec_dot_fn(GgmlType::Q8_1), nullptr);
  EXPECT_EQ(vec_dot_fn(GgmlType::Q8_K), nullptr);
}

// ---- activation conversion ------------------------------------------------------------------------------

// F16/BF16 round to nearest, ties to even: 1 + 2^-11 lies halfway between the halves 1 (0x3C00) and
// 1 + 2^-10 (0x3C01) -> 0x3C00; 1 + 3 * 2^-11 halfway between 0x3C01 and 0x3C02 -> 0x3C02. BF16 (8-bit
// significand): 1 + 2^-8 -> 0x3F80, 1 + 3 * 2^-8 -> 0x3F82.
TEST(KernelsVecDot, FloatActivationsRoundHalfEven) {
  const float x[2] = {1.0f + std::ldexp(1.0f, -11), 1.0f + 3 * std::ldexp(1.0f, -11)};
  uint16_t h[2];
  quantize_activations(GgmlType::F16, x, h, 2);
  EXPECT_EQ(h[0], 0x3C00);
  EXPECT_EQ(h[1], 0x3C02);
  const float y[2] = {1.0f + std::ldexp(1.0f, -8), 1.0f + 3 * std::ldexp(1.0f, -8)};
  quantize_activations(GgmlType::BF16, y, h, 2);
  EXPECT_EQ(h[0], 0x3F80);
  EXPECT_EQ(h[1], 0x3F82);
  float f[2];
  quantize_activations(GgmlType::F32, x, f, 2);
  EXPECT_EQ(std::memcmp(f, x, sizeof f), 0);
}

// The activation encoders are the formats' reference encoders (whose rounding rules are tested in
// tensor_quants_test.cpp), and the dispatched entry point equals the scalar reference byte for byte.
TEST(KernelsVecDot, QuantizedActivationsMatchReferenceEncoders) {
  std::mt19937 rng(3);
  std::normal_distribution<float> dist(0.0f, 3.0f);
  std::vector<float> x(1024);
  for (auto& v : x) v = dist(rng);
  for (GgmlType t : {GgmlType::F32, GgmlType::F16, GgmlType::BF16, GgmlType::Q8_0, GgmlType::Q8_1, GgmlType::Q8_K}) {
    const size_t sz = *row_size(t, 1024);
    std::vector<uint8_t> a(sz), b(sz), c(sz);
    quantize_row(t, x.data(), a.data(), 1024);
    ref::quantize_activations(t, x.data(), b.data(), 1024);
    quantize_activations(t, x.data(), c.data(), 1024);
    EXPECT_EQ(a, b) << type_name(t);
    EXPECT_EQ(a, c) << type_name(t);
  }
}

// ---- hand-built dots -------------------------------------------------------------------------------------

void put16(uint8_t* p, uint16_t v) {
  p[0] = static_cast<uint8_t>(v);
  p[1] = static_cast<uint8_t>(v >> 8);
}

// Q4_0 (d = 0.5, q = (7i+3) % 16) x Q8_0 (d = 0.25, q8 = 5i - 80): the dot is d dy sum((q - 8) q8),
// exact in f32 (small integers times powers of two).
TEST(KernelsVecDot, HandBuiltQ4_0xQ8_0) {
  uint8_t w[18] = {}, a[34] = {};
  put16(w, 0x3800);
  put16(a, 0x3400);
  auto q = [](int i) { return (7 * i + 3) % 16; };
  for (int j = 0; j < 16; ++j) w[2 + j] = static_cast<uint8_t>(q(j) | q(j + 16) << 4);
  long sum = 0;
  for (int i = 0; i < 32; ++i) {
    a[2 + i] = static_cast<uint8_t>(static_cast<int8_t>(5 * i - 80));
    sum += (q(i) - 8) * (5 * i - 80);
  }
  EXPECT_EQ(vec_dot_fn(GgmlType::Q4_0)(32, w, a), 0.125f * static_cast<float>(sum));
}

// Q4_1 x Q8_1: sum (d q + m)(dy q8) = d dy sum(q q8) + m (dy sum q8), and the kernel takes the second factor
// from the activation block's s field. With s deliberately set to 3 (not dy * sum q8) the result must be
// d dy sum(q q8) + m * 3: this pins down that the format's s is what the dot uses.
TEST(KernelsVecDot, HandBuiltQ4_1xQ8_1UsesStoredSum) {
  uint8_t w[20] = {}, a[36] = {};
  put16(w, 0x3800);      // d = 0.5
  put16(w + 2, 0xC000);  // m = -2
  put16(a, 0x3400);      // dy = 0.25
  put16(a + 2, 0x4200);  // s = 3
  auto q = [](int i) { return (5 * i + 1) % 16; };
  for (int j = 0; j < 16; ++j) w[4 + j] = static_cast<uint8_t>(q(j) | q(j + 16) << 4);
  long sum = 0;
  for (int i = 0; i < 32; ++i) {
    a[4 + i] = static_cast<uint8_t>(static_cast<int8_t>(i - 16));
    sum += q(i) * (i - 16);
  }
  EXPECT_EQ(vec_dot_fn(GgmlType::Q4_1)(32, w, a), 0.125f * static_cast<float>(sum) - 2.0f * 3.0f);
}

// ---- against an f64 oracle -------------------------------------------------------------------------------

bool has_min(GgmlType t) {
  return t == GgmlType::Q4_1 || t == GgmlType::Q5_1 || t == GgmlType::Q2_K || t == GgmlType::Q4_K ||
         t == GgmlType::Q5_K;
}

// Bound on |kernel - f64 dot of the decoded operands|, u = 2^-24 (f32 unit roundoff), nb blocks:
//  - each block's float formula takes <= 4 roundings of terms whose magnitudes sum to at most M_b;
//  - accumulating nb block results in f32 adds <= nb u sum_b |r_b| <= nb u M;
//  - the oracle's decoded operands carry <= 2 roundings each (e.g. Q6_K's (d * sc) * q, Q8_K's d * q);
// so |err| <= (nb + 8) u M. Here M = sum |w_i a_i| for symmetric formats. For formats with a min, a block
// value is a difference A - B (scale term minus min term) that may cancel, so M also counts
// 2 * amax_b(w) |a_i| per element (|min| <= amax of the block's decoded weights plus one step).
// Q8_1 activations additionally carry s = fp16(dy * sum q8), whose relative error <= 2^-11 (+ the f32
// product) multiplies |m| <= amax_b(w): + 2^-10 amax_b(w) |sum_b a_i| per block.
// F32 / F16 / BF16 use nb = n (one element per block): sequential f32 accumulation gives (n + 1) u sum|w a|.
double error_bound(GgmlType t, const std::vector<float>& w, const std::vector<float>& a) {
  const int64_t bs = type_info(t)->block_size, n = static_cast<int64_t>(w.size()), nb = n / bs;
  const double u = std::ldexp(1.0, -24);
  double M = 0, s_term = 0;
  const int64_t span = bs == 1 ? 1 : bs;
  for (int64_t b = 0; b < nb; ++b) {
    double amax = 0, asum = 0;
    for (int64_t i = b * span; i < (b + 1) * span; ++i) amax = std::max(amax, std::fabs(static_cast<double>(w[i])));
    for (int64_t i = b * span; i < (b + 1) * span; ++i) {
      M += std::fabs(static_cast<double>(w[i]) * a[i]);
      if (has_min(t)) M += 2 * amax * std::fabs(static_cast<double>(a[i]));
      asum += a[i];
    }
    if (vec_dot_type(t) == GgmlType::Q8_1) s_term += std::ldexp(1.0, -10) * amax * std::fabs(asum);
  }
  return static_cast<double>(nb + 8) * u * M + s_term + 1e-30;
}

struct Case {
  std::vector<float> wdec, adec;  // decoded operands
  std::vector<uint8_t> wbuf, abuf;
};

// Encodes w and a (activations via quantize_activations) into buffers misaligned by (ow, oa) bytes.
Case make_case(GgmlType t, const std::vector<float>& w, const std::vector<float>& a, size_t ow, size_t oa) {
  const int64_t n = static_cast<int64_t>(w.size());
  const GgmlType at = vec_dot_type(t);
  Case c;
  c.wbuf.assign(*row_size(t, n) + 16, 0);
  c.abuf.assign(*row_size(at, n) + 16, 0);
  quantize_row(t, w.data(), c.wbuf.data() + ow, n);
  quantize_activations(at, a.data(), c.abuf.data() + oa, n);
  c.wdec.resize(w.size());
  c.adec.resize(a.size());
  dequantize_row(t, c.wbuf.data() + ow, c.wdec.data(), n);
  dequantize_row(at, c.abuf.data() + oa, c.adec.data(), n);
  return c;
}

TEST(KernelsVecDot, MatchesF64DotOfDecodedOperands) {
  std::mt19937 rng(12345);
  std::normal_distribution<float> wdist(0.0f, 0.05f), adist(0.0f, 2.0f);
  for (GgmlType t : kWeightTypes) {
    const int64_t bs = std::max<int64_t>(type_info(t)->block_size, 32);  // floats: multiples of 32 elements too
    for (int nb = 1; nb <= 20; ++nb) {
      const int64_t n = nb * bs;
      std::vector<float> w(static_cast<size_t>(n)), a(static_cast<size_t>(n));
      for (auto& v : w) v = wdist(rng);
      for (auto& v : a) v = adist(rng);
      a[static_cast<size_t>(nb) % a.size()] = 40.0f;  // an outlier activation, as in real residual streams
      const size_t ow = static_cast<size_t>(nb) % 8, oa = static_cast<size_t>(3 * nb + 1) % 8;
      Case c = make_case(t, w, a, ow, oa);
      double exact = 0;
      for (int64_t i = 0; i < n; ++i) exact += static_cast<double>(c.wdec[i]) * c.adec[i];
      const float got = vec_dot_fn(t)(n, c.wbuf.data() + ow, c.abuf.data() + oa);
      EXPECT_LE(std::fabs(got - exact), error_bound(t, c.wdec, c.adec))
          << type_name(t) << " n=" << n << " got " << got << " exact " << exact;
      EXPECT_EQ(got, ref::vec_dot_fn(t)(n, c.wbuf.data() + ow, c.abuf.data() + oa)) << type_name(t);
    }
  }
}

// Odd lengths for the float formats (their block size is 1).
TEST(KernelsVecDot, FloatTypesOddLengths) {
  std::mt19937 rng(99);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  for (GgmlType t : {GgmlType::F32, GgmlType::F16, GgmlType::BF16}) {
    for (int64_t n : {1, 3, 17, 31, 33, 257, 1001}) {
      std::vector<float> w(static_cast<size_t>(n)), a(static_cast<size_t>(n));
      for (auto& v : w) v = dist(rng);
      for (auto& v : a) v = dist(rng);
      Case c = make_case(t, w, a, static_cast<size_t>(n % 8), 1);
      double exact = 0;
      for (int64_t i = 0; i < n; ++i) exact += static_cast<double>(c.wdec[i]) * c.adec[i];
      const float got = vec_dot_fn(t)(n, c.wbuf.data() + n % 8, c.abuf.data() + 1);
      EXPECT_LE(std::fabs(got - exact), error_bound(t, c.wdec, c.adec)) << type_name(t) << " n=" << n;
    }
  }
}

// The same bytes at any address give bit-identical results (blocks carry no alignment guarantee in GGUF).
TEST(KernelsVecDot, ResultIndependentOfAlignment) {
  std::mt19937 rng(7);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  for (GgmlType t : kWeightTypes) {
    const int64_t n = 2 * std::max<int64_t>(type_info(t)->block_size, 32);
    std::vector<float> w(static_cast<size_t>(n)), a(static_cast<size_t>(n));
    for (auto& v : w) v = dist(rng);
    for (auto& v : a) v = dist(rng);
    Case base = make_case(t, w, a, 0, 0);
    const float want = vec_dot_fn(t)(n, base.wbuf.data(), base.abuf.data());
    for (size_t ow = 0; ow < 8; ++ow)
      for (size_t oa = 0; oa < 8; ++oa) {
        Case c = make_case(t, w, a, ow, oa);
        ASSERT_EQ(vec_dot_fn(t)(n, c.wbuf.data() + ow, c.abuf.data() + oa), want)
            << type_name(t) << " offsets " << ow << "," << oa;
      }
  }
}

// Zero activations or zero weights give exactly zero (no stale state such as Q8_K bsums of a zero block).
TEST(KernelsVecDot, ZeroOperandsGiveZero) {
  for (GgmlType t : kWeightTypes) {
    const int64_t n = 2 * std::max<int64_t>(type_info(t)->block_size, 32);
    std::vector<float> zero(static_cast<size_t>(n), 0.0f), ones(static_cast<size_t>(n), 0.5f);
    Case c1 = make_case(t, ones, zero, 0, 0), c2 = make_case(t, zero, ones, 0, 0);
    EXPECT_EQ(vec_dot_fn(t)(n, c1.wbuf.data(), c1.abuf.data()), 0.0f) << type_name(t);
    EXPECT_EQ(vec_dot_fn(t)(n, c2.wbuf.data(), c2.abuf.data()), 0.0f) << type_name(t);
  }
}

}  // namespace
}  // namespace ondi
