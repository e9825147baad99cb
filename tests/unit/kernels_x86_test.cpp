// x86-64 kernel sets (kernels/x86) against the scalar reference (kernels/ref), for every set this CPU runs:
//  - quantized dots equal the reference bit for bit (block integer sums are exact; the per-block float formula
//    and block order are the reference's, one f32 lane per output), over every weight type, 1..20 blocks and
//    large rows, misaligned pointers, and weight blocks of random bytes (every quant and scale bit pattern);
//  - F32/F16/BF16 dots sum in another order: within a bound derived below;
//  - gemm equals vec_dot bit for bit for 1..9 tokens and row counts that are not multiples of the tile;
//  - the SIMD activation converters write the reference's bytes (ties, zeros, signed maxima, subnormals, NaN).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "core/fp16.h"
#include "kernels/kernels.h"
#include "kernels/x86/x86_sets.h"
#include "tensor/blocks.h"
#include "tensor/quants.h"
#include "tensor/types.h"

namespace ondi {
namespace {

constexpr GgmlType kQuantTypes[] = {GgmlType::Q4_0, GgmlType::Q4_1, GgmlType::Q5_0,  GgmlType::Q5_1,
                                    GgmlType::Q8_0, GgmlType::Q2_K, GgmlType::Q3_K,  GgmlType::Q4_K,
                                    GgmlType::Q5_K, GgmlType::Q6_K, GgmlType::IQ4_NL};
constexpr GgmlType kFloatTypes[] = {GgmlType::F16, GgmlType::BF16};  // F32 keeps the reference kernel

enum class Set { kAvx2, kAvx512 };

class X86Kernels : public ::testing::TestWithParam<Set> {
 protected:
  void SetUp() override {
    ks_ = GetParam() == Set::kAvx2 ? x86::avx2_set() : x86::avx512_set();
    if (!ks_) GTEST_SKIP() << "not an x86-64 build";
    if (!ks_->supported()) GTEST_SKIP() << ks_->name << " not supported by this CPU";
  }
  VecDotFn dot(GgmlType t) const { return ks_->vec_dot(t); }
  GemmFn gemm(GgmlType t) const { return ks_->gemm(t); }
  const KernelSet* ks_ = nullptr;
};

bool same_bits(float a, float b) { return std::memcmp(&a, &b, 4) == 0; }

// Byte offsets of a block's fp16 scale fields (random bytes there could be inf/NaN, which says nothing).
std::vector<size_t> half_fields(GgmlType t) {
  switch (t) {
    case GgmlType::Q4_0:
      return {offsetof(BlockQ4_0, d)};
    case GgmlType::Q4_1:
      return {offsetof(BlockQ4_1, d), offsetof(BlockQ4_1, m)};
    case GgmlType::Q5_0:
      return {offsetof(BlockQ5_0, d)};
    case GgmlType::Q5_1:
      return {offsetof(BlockQ5_1, d), offsetof(BlockQ5_1, m)};
    case GgmlType::Q8_0:
      return {offsetof(BlockQ8_0, d)};
    case GgmlType::IQ4_NL:
      return {offsetof(BlockIQ4_NL, d)};
    case GgmlType::Q2_K:
      return {offsetof(BlockQ2_K, d), offsetof(BlockQ2_K, dmin)};
    case GgmlType::Q3_K:
      return {offsetof(BlockQ3_K, d)};
    case GgmlType::Q4_K:
      return {offsetof(BlockQ4_K, d), offsetof(BlockQ4_K, dmin)};
    case GgmlType::Q5_K:
      return {offsetof(BlockQ5_K, d), offsetof(BlockQ5_K, dmin)};
    case GgmlType::Q6_K:
      return {offsetof(BlockQ6_K, d)};
    default:
      return {};
  }
}

// n_rows weight rows of type t (n elements each) at `off` bytes into the buffer: encoded from N(0, 0.05) floats,
// or random bytes with finite random scales.
std::vector<uint8_t> make_weights(GgmlType t, int64_t n, int64_t n_rows, size_t off, bool raw, std::mt19937& rng) {
  const size_t rs = *row_size(t, n);
  std::vector<uint8_t> buf(off + rs * static_cast<size_t>(n_rows));
  if (raw) {
    for (auto& b : buf) b = static_cast<uint8_t>(rng());
    const size_t bsz = type_info(t)->type_size;
    std::uniform_real_distribution<float> sd(-0.02f, 0.02f);
    for (size_t b = off; b + bsz <= buf.size(); b += bsz)
      for (size_t f : half_fields(t)) {
        const uint16_t h = f32_to_fp16(sd(rng));
        std::memcpy(&buf[b + f], &h, 2);
      }
    return buf;
  }
  std::normal_distribution<float> wd(0.0f, 0.05f);
  std::vector<float> w(static_cast<size_t>(n));
  for (int64_t r = 0; r < n_rows; ++r) {
    for (auto& v : w) v = wd(rng);
    quantize_row(t, w.data(), buf.data() + off + static_cast<size_t>(r) * rs, n);
  }
  return buf;
}

// n_tok activation rows in vec_dot_type(t), converted by the scalar reference.
std::vector<uint8_t> make_acts(GgmlType t, int64_t n, int64_t n_tok, size_t off, std::mt19937& rng) {
  const GgmlType at = vec_dot_type(t);
  const size_t rs = *row_size(at, n);
  std::vector<uint8_t> buf(off + rs * static_cast<size_t>(n_tok));
  std::normal_distribution<float> ad(0.0f, 2.0f);
  std::vector<float> a(static_cast<size_t>(n));
  for (int64_t k = 0; k < n_tok; ++k) {
    for (auto& v : a) v = ad(rng);
    a[static_cast<size_t>(k) % a.size()] = 40.0f;  // an outlier, as residual streams have
    ref::quantize_activations(at, a.data(), buf.data() + off + static_cast<size_t>(k) * rs, n);
  }
  return buf;
}

std::vector<int64_t> sizes(GgmlType t) {
  const int64_t bs = std::max<int64_t>(type_info(t)->block_size, 32);
  std::vector<int64_t> v;
  for (int nb = 1; nb <= 20; ++nb) v.push_back(nb * bs);
  v.push_back(bs == 32 ? 8192 : 16384);  // large rows (the 1B model's FFN width and beyond)
  return v;
}

TEST_P(X86Kernels, QuantizedDotsEqualReferenceBitwise) {
  std::mt19937 rng(7);
  for (GgmlType t : kQuantTypes) {
    for (bool raw : {false, true}) {
      for (int64_t n : sizes(t)) {
        const size_t ow = static_cast<size_t>(n / 32 + raw) % 7, oa = static_cast<size_t>(3 * n / 32 + 1) % 5;
        const auto w = make_weights(t, n, 1, ow, raw, rng);
        const auto a = make_acts(t, n, 1, oa, rng);
        const float want = ref::vec_dot_fn(t)(n, w.data() + ow, a.data() + oa);
        const float got = dot(t)(n, w.data() + ow, a.data() + oa);
        ASSERT_TRUE(std::isfinite(want)) << type_name(t);
        EXPECT_TRUE(same_bits(got, want))
            << type_name(t) << " n=" << n << " raw=" << raw << " got " << got << " want " << want;
      }
    }
  }
}

// F16/BF16: both kernels form exact f32 products p_i and sum them in f64 (in different orders), then round to
// f32. With s = sum |p_i| and u64 = 2^-53, each f64 sum is within (n - 1) u64 s of the exact sum S, and each f32
// rounding adds at most 2^-24 of its input: |got - want| <= 2^-24 (|S1| + |S2|) + 2 n u64 s, with
// |S_k| <= |S| + n u64 s <= s (1 + n u64).
double float_bound(int64_t n, double s) {
  const double u64 = std::ldexp(1.0, -53), u = std::ldexp(1.0, -24), nd = static_cast<double>(n);
  return 2 * u * s * (1 + nd * u64) + 2 * nd * u64 * s;
}

TEST_P(X86Kernels, FloatDotsWithinDerivedBound) {
  std::mt19937 rng(8);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  for (GgmlType t : kFloatTypes) {
    for (int64_t n : {1, 3, 7, 8, 9, 15, 16, 17, 31, 64, 100, 2048, 8195}) {
      std::vector<float> wf(static_cast<size_t>(n)), af(static_cast<size_t>(n));
      for (auto& v : wf) v = dist(rng);
      for (auto& v : af) v = dist(rng);
      const size_t ow = static_cast<size_t>(n) % 3 * 2 + 1, oa = static_cast<size_t>(n) % 5 * 2 + 1;  // odd
      std::vector<uint8_t> w(*row_size(t, n) + ow), a(*row_size(t, n) + oa);
      quantize_row(t, wf.data(), w.data() + ow, n);
      ref::quantize_activations(t, af.data(), a.data() + oa, n);
      std::vector<float> wd(static_cast<size_t>(n)), ad(static_cast<size_t>(n));
      dequantize_row(t, w.data() + ow, wd.data(), n);
      dequantize_row(t, a.data() + oa, ad.data(), n);
      double s = 0;
      for (int64_t i = 0; i < n; ++i) s += std::fabs(static_cast<double>(wd[i]) * ad[i]);
      const float want = ref::vec_dot_fn(t)(n, w.data() + ow, a.data() + oa);
      const float got = dot(t)(n, w.data() + ow, a.data() + oa);
      EXPECT_LE(std::fabs(static_cast<double>(got) - want), float_bound(n, s))
          << type_name(t) << " n=" << n << " got " << got << " want " << want;
    }
  }
}

// Every gemm element is the set's vec_dot on that pair, bit for bit, whatever the tile shape covers.
TEST_P(X86Kernels, GemmEqualsVecDotBitwise) {
  std::mt19937 rng(9);
  for (GgmlType t : {GgmlType::Q4_0, GgmlType::Q4_1, GgmlType::Q5_0, GgmlType::Q5_1, GgmlType::Q8_0, GgmlType::IQ4_NL,
                     GgmlType::Q2_K, GgmlType::Q3_K, GgmlType::Q4_K, GgmlType::Q5_K, GgmlType::Q6_K, GgmlType::F16,
                     GgmlType::BF16}) {
    const bool half = t == GgmlType::F16 || t == GgmlType::BF16;
    const int64_t bs = std::max<int64_t>(type_info(t)->block_size, 32);
    // the widest rows make several row blocks (qgemm keeps ~128 KB of rows in L2, the 16-bit gemm ~512 KB of f64),
    // with a remainder; 16-bit rows of any length (their tails: n % 8 >= 4, n % 4)
    const int64_t wide = half ? 4099 : 128 * bs;
    const std::vector<int64_t> lengths =
        half ? std::vector<int64_t>{1, 7, 12, 45, wide} : std::vector<int64_t>{bs, 3 * bs, wide};
    for (int64_t n : lengths) {
      for (int64_t n_rows : {1, 5, 8, 13, 19, 61}) {
        if ((n == wide) != (n_rows == 61)) continue;
        const size_t ow = 3, oa = 1;
        const bool raw = !half && n_rows % 2 == 1;
        const auto w = make_weights(t, n, n_rows, ow, raw, rng);
        const size_t ws = *row_size(t, n);
        const size_t as = *row_size(vec_dot_type(t), n);
        for (int64_t n_tok : {1, 2, 3, 4, 5, 6, 7, 8, 9, 15, 16, 17, 19, 35}) {  // every group size and remainder
          const auto a = make_acts(t, n, n_tok, oa, rng);
          const size_t ldy = static_cast<size_t>(n_rows) + 3;
          std::vector<float> y(ldy * static_cast<size_t>(n_tok), -1.0f);
          gemm(t)(n, w.data() + ow, ws, n_rows, a.data() + oa, as, n_tok, y.data(), ldy);
          for (int64_t k = 0; k < n_tok; ++k) {
            for (int64_t r = 0; r < n_rows; ++r) {
              const float want =
                  dot(t)(n, w.data() + ow + static_cast<size_t>(r) * ws, a.data() + oa + static_cast<size_t>(k) * as);
              const float got = y[static_cast<size_t>(k) * ldy + static_cast<size_t>(r)];
              ASSERT_TRUE(same_bits(got, want)) << type_name(t) << " n=" << n << " rows=" << n_rows << " tok=" << n_tok
                                                << " (" << r << ", " << k << ")";
            }
            for (size_t r = static_cast<size_t>(n_rows); r < ldy; ++r)  // the tile writes only its rows
              ASSERT_EQ(y[static_cast<size_t>(k) * ldy + r], -1.0f);
          }
        }
      }
    }
  }
}

// Interleaved copies (kernels.h): the gemm over the copy equals the reference dot on the file's rows bit for bit, for
// every token-group path (1..35 tokens, packed row blocks from 16 on), row counts off the 8-row tile, copies written
// in several tile ranges, products started at a later tile, misaligned activations, random-byte blocks.
TEST_P(X86Kernels, InterleavedGemmEqualsReferenceBitwise) {
  std::mt19937 rng(11);
  int checked = 0;
  for (GgmlType t : kQuantTypes) {
    const int64_t bs = std::max<int64_t>(type_info(t)->block_size, 32);
    const size_t tile_bytes = ks_->interleaved_bytes(t, 2 * bs, kInterleaveRows);
    if (tile_bytes == 0) continue;
    ++checked;
    ASSERT_EQ(ks_->interleaved_bytes(t, 2 * bs, 13), 2 * tile_bytes);
    ASSERT_EQ(ks_->interleaved_bytes(t, 2 * bs, 16), 2 * tile_bytes);
    EXPECT_EQ(ks_->interleaved_bytes(t, bs + 16, 8), 0u) << "not a whole number of blocks";
    const InterleavedGemmFn il = ks_->interleaved_gemm(t);
    ASSERT_NE(il, nullptr);
    for (int64_t n : {bs, 3 * bs, int64_t{4096}}) {
      for (int64_t n_rows : {1, 7, 8, 9, 16, 23, 61}) {
        if ((n == 4096) != (n_rows == 61)) continue;
        const bool raw = n_rows % 2 == 1;
        const size_t ow = 5, oa = 3;
        const auto w = make_weights(t, n, n_rows, ow, raw, rng);
        const size_t ws = *row_size(t, n);
        const size_t as = *row_size(vec_dot_type(t), n);
        const size_t bytes = ks_->interleaved_bytes(t, n, n_rows);
        const int64_t tiles = (n_rows + 7) / 8;
        std::vector<uint8_t> copy(bytes + 64, 0xAB);
        uint8_t* c = copy.data() + 32;  // 32-byte aligned at most: the kernels must not assume more
        // in two ranges, the second first (each tile is written on its own)
        ks_->interleave(t, n, w.data() + ow, ws, n_rows, tiles / 2, tiles, c);
        ks_->interleave(t, n, w.data() + ow, ws, n_rows, 0, tiles / 2, c);
        const size_t tb = bytes / static_cast<size_t>(tiles);
        for (int64_t n_tok : {1, 2, 3, 4, 5, 8, 9, 15, 16, 17, 35}) {
          const auto a = make_acts(t, n, n_tok, oa, rng);
          for (int64_t r0 : {int64_t{0}, int64_t{8}}) {
            if (r0 >= n_rows) continue;
            const int64_t rows = n_rows - r0;
            const size_t ldy = static_cast<size_t>(rows) + 2;
            std::vector<float> y(ldy * static_cast<size_t>(n_tok), -1.0f);
            il(n, c + static_cast<size_t>(r0 / 8) * tb, rows, a.data() + oa, as, n_tok, y.data(), ldy);
            for (int64_t k = 0; k < n_tok; ++k) {
              for (int64_t r = 0; r < rows; ++r) {
                const float want = ref::vec_dot_fn(t)(n, w.data() + ow + static_cast<size_t>(r0 + r) * ws,
                                                      a.data() + oa + static_cast<size_t>(k) * as);
                const float got = y[static_cast<size_t>(k) * ldy + static_cast<size_t>(r)];
                ASSERT_TRUE(same_bits(got, want)) << type_name(t) << " n=" << n << " rows=" << n_rows << " from " << r0
                                                  << " tok=" << n_tok << " (" << r << ", " << k << ")";
              }
              for (size_t r = static_cast<size_t>(rows); r < ldy; ++r) ASSERT_EQ(y[k * ldy + r], -1.0f);
            }
          }
        }
      }
    }
  }
  EXPECT_GE(checked, 5) << "Q4_0, Q4_1, IQ4_NL, Q4_K and Q6_K are interleaved";
}

// 16-bit rows whose f64 sums depend on their order at f32 precision: large products (~2^22..2^27) that cancel in
// pairs, among small ones (~2^-26..2^-22) that make the result. A partial sum of ~2^32 rounds the small terms
// away in an order-dependent way, far above the f32 ulp of the small result, so gemm's tiles and the per-element
// dot agree here only if they add the products in the same order (random data, whose sums round to the same f32
// in any order, cannot tell).
TEST_P(X86Kernels, HalfGemmKeepsOneOrderWhereOrderShows) {
  std::mt19937 rng(12);
  std::uniform_real_distribution<float> mant(1.0f, 2.0f);
  for (GgmlType t : kFloatTypes) {
    for (int64_t n : {203, 1030, 4099}) {
      const int64_t n_rows = 13, n_tok_max = 9, pairs = n * 3 / 8;
      const size_t ws = *row_size(t, n), as = ws;
      std::vector<uint8_t> w(ws * static_cast<size_t>(n_rows) + 1), a(as * static_cast<size_t>(n_tok_max) + 3);
      std::vector<int64_t> pos(static_cast<size_t>(n));  // pos[0, 2 pairs): the cancelling pairs
      for (int64_t k = 0; k < n; ++k) pos[static_cast<size_t>(k)] = k;
      std::shuffle(pos.begin(), pos.end(), rng);
      std::vector<float> row(static_cast<size_t>(n)), base(static_cast<size_t>(n), 0x1p-12f);
      for (int64_t i = 0; i < 2 * pairs; ++i) base[static_cast<size_t>(pos[static_cast<size_t>(i)])] = 0x1p12f;
      for (int64_t r = 0; r < n_rows; ++r) {
        for (int64_t i = 0; i < pairs; ++i) {
          const float x = std::ldexp(mant(rng), 10 + static_cast<int>(rng() % 6));
          row[static_cast<size_t>(pos[static_cast<size_t>(2 * i)])] = x;
          row[static_cast<size_t>(pos[static_cast<size_t>(2 * i + 1)])] = -x;
        }
        for (int64_t i = 2 * pairs; i < n; ++i)
          row[static_cast<size_t>(pos[static_cast<size_t>(i)])] =
              std::ldexp(mant(rng), -14 + static_cast<int>(rng() % 5)) * (rng() % 2 ? 1.0f : -1.0f);
        quantize_row(t, row.data(), w.data() + 1 + static_cast<size_t>(r) * ws, n);
      }
      for (int64_t k = 0; k < n_tok_max; ++k) {  // powers of two keep the products exact and the cancellations
        std::vector<float> act(base);
        for (auto& v : act) v = std::ldexp(k % 2 ? -v : v, static_cast<int>(k % 3) - 1);
        ref::quantize_activations(t, act.data(), a.data() + 3 + static_cast<size_t>(k) * as, n);
      }
      int order_shows = 0;
      for (int64_t n_tok : {1, 2, 3, 4, 5, 9}) {
        const size_t ldy = static_cast<size_t>(n_rows);
        std::vector<float> y(ldy * static_cast<size_t>(n_tok));
        gemm(t)(n, w.data() + 1, ws, n_rows, a.data() + 3, as, n_tok, y.data(), ldy);
        for (int64_t k = 0; k < n_tok; ++k)
          for (int64_t r = 0; r < n_rows; ++r) {
            const uint8_t* wr = w.data() + 1 + static_cast<size_t>(r) * ws;
            const uint8_t* ak = a.data() + 3 + static_cast<size_t>(k) * as;
            const float want = dot(t)(n, wr, ak);
            ASSERT_TRUE(same_bits(y[static_cast<size_t>(k) * ldy + static_cast<size_t>(r)], want))
                << type_name(t) << " n=" << n << " tok=" << n_tok << " (" << r << ", " << k << ")";
            order_shows += !same_bits(want, ref::vec_dot_fn(t)(n, wr, ak));
          }
      }
      // the data is what the comment says: the reference's (sequential) order gives other bits for most elements
      EXPECT_GT(order_shows, 200) << type_name(t) << " n=" << n;
    }
  }
}

// The integer sums' worst cases: every weight byte one extreme pattern (all-zero nibbles are Q4_0's -8, 0x80 is
// Q8_0's -128, ...) against activations that are all +127 or all -127, through every tile shape. Overflow of an
// int16 partial sum (maddubs) would show up here and not in random data.
TEST_P(X86Kernels, GemmExtremeBlocksEqualReferenceBitwise) {
  for (GgmlType t : kQuantTypes) {
    const int64_t n = 512;
    const size_t ws = *row_size(t, n);
    const GgmlType at = vec_dot_type(t);
    const size_t as = *row_size(at, n);
    const size_t bsz = type_info(t)->type_size;
    for (uint8_t pat : {0x00, 0xFF, 0x80, 0x7F, 0x88, 0x77, 0x0F, 0xF0}) {
      const int64_t n_rows = 11;
      std::vector<uint8_t> w(ws * static_cast<size_t>(n_rows), pat);
      for (size_t b = 0; b + bsz <= w.size(); b += bsz)
        for (size_t f : half_fields(t)) {
          const uint16_t h = f32_to_fp16(0.01f * static_cast<float>(1 + b % 5));
          std::memcpy(&w[b + f], &h, 2);
        }
      for (float sign : {1.0f, -1.0f}) {
        const int64_t n_tok = 17;
        std::vector<uint8_t> a(as * static_cast<size_t>(n_tok));
        std::vector<float> x(static_cast<size_t>(n), sign);
        for (int64_t k = 0; k < n_tok; ++k)
          ref::quantize_activations(at, x.data(), a.data() + static_cast<size_t>(k) * as, n);
        std::vector<float> y(static_cast<size_t>(n_rows * n_tok));
        for (int64_t nt : {1, 4, 8, 9, 16, 17}) {
          gemm(t)(n, w.data(), ws, n_rows, a.data(), as, nt, y.data(), static_cast<size_t>(n_rows));
          for (int64_t k = 0; k < nt; ++k)
            for (int64_t r = 0; r < n_rows; ++r) {
              const float want =
                  ref::vec_dot_fn(t)(n, w.data() + static_cast<size_t>(r) * ws, a.data() + static_cast<size_t>(k) * as);
              ASSERT_TRUE(same_bits(y[static_cast<size_t>(k * n_rows + r)], want))
                  << type_name(t) << " pattern " << int(pat) << " sign " << sign << " tokens " << nt << " (" << r
                  << ", " << k << "): got " << y[static_cast<size_t>(k * n_rows + r)] << " want " << want;
            }
        }
      }
    }
  }
}

// ---- activation converters ------------------------------------------------------------------------------

// Rows that exercise the converters' decisions: ties at the rounding boundary (a block whose maximum is 127 has
// scale 1 for Q8_0/Q8_1, and -127 or 127 gives |iscale| = 1 for Q8_K, so k + 0.5 is an exact tie), all-zero and
// partly zero blocks, +max and -max both present (Q8_K keeps the first), subnormals, and random scales.
std::vector<float> tricky_row(int64_t n, int kind, std::mt19937& rng) {
  std::vector<float> x(static_cast<size_t>(n));
  std::normal_distribution<float> nd(0.0f, 1.0f);
  std::uniform_int_distribution<int> ki(-126, 126);
  const float scale = std::ldexp(1.0f, static_cast<int>(rng() % 40) - 20);
  for (int64_t i = 0; i < n; ++i) {
    float v = 0.0f;
    switch (kind) {
      case 0:
        v = nd(rng) * scale;
        break;
      case 1:
        v = static_cast<float>(ki(rng)) + ((rng() & 1) ? 0.5f : -0.5f);
        break;  // ties
      case 2:
        v = (rng() % 3 == 0) ? 0.0f : nd(rng);
        break;
      case 3:
        v = 0.0f;
        break;
      case 4:
        v = nd(rng) * 1e-40f;
        break;  // subnormal f32
      default:
        v = static_cast<float>(ki(rng));
        break;
    }
    x[static_cast<size_t>(i)] = v;
  }
  if (kind == 1 || kind == 5) {
    for (int64_t b = 0; b < n; b += 32) x[static_cast<size_t>(b + (rng() % 32)) % x.size()] = (rng() & 1) ? 127 : -127;
    if (n >= 64) {  // both signs of the maximum in one super-block: the first one decides the sign
      x[5] = -127.0f;
      x[40] = 127.0f;
    }
  }
  return x;
}

// F16/BF16 rows: values exactly halfway between two representable values (ties to even), around the f16
// subnormal range and the overflow threshold, and infinities.
std::vector<float> half_row(int64_t n, bool bf16, std::mt19937& rng) {
  std::vector<float> x(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    const uint32_t r = static_cast<uint32_t>(rng());
    float v;
    switch (r % 6) {
      case 0: {  // a tie: keep the upper bits, set the first dropped bit only
        const uint32_t keep = bf16 ? 0xffff0000u : 0xffffe000u, half = bf16 ? 0x8000u : 0x1000u;
        uint32_t u = (r * 2654435761u) & keep & 0x47ffffffu;  // finite, |v| < 2^16 for f16
        u |= half;
        std::memcpy(&v, &u, 4);
        break;
      }
      case 1:
        v = std::ldexp(static_cast<float>(r % 4096), -36);
        break;  // f16 subnormal range
      case 2:
        v = 65504.0f + static_cast<float>(r % 32);
        break;  // f16 max and the rounding to inf
      case 3:
        v = (r & 8) ? std::numeric_limits<float>::infinity() : -65520.0f;
        break;
      default:
        v = std::ldexp(static_cast<float>(static_cast<int32_t>(r)), -28);
        break;
    }
    x[static_cast<size_t>(i)] = v;
  }
  return x;
}

TEST_P(X86Kernels, ActivationConvertersMatchReferenceBytes) {
  std::mt19937 rng(10);
  for (GgmlType t : {GgmlType::Q8_0, GgmlType::Q8_1, GgmlType::Q8_K, GgmlType::F16, GgmlType::BF16}) {
    const int64_t bs = type_info(t)->block_size;
    for (int row = 0; row < 240; ++row) {
      const int64_t n = bs == 1 ? 1 + static_cast<int64_t>(rng() % 300) : bs * (1 + static_cast<int64_t>(rng() % 9));
      const std::vector<float> x = bs == 1 ? half_row(n, t == GgmlType::BF16, rng) : tricky_row(n, row % 6, rng);
      const size_t sz = *row_size(t, n);
      std::vector<uint8_t> want(sz), got(sz + 3, 0xAA);
      ref::quantize_activations(t, x.data(), want.data(), n);
      ASSERT_TRUE(ks_->quantize_activations(t, x.data(), got.data() + 3, n)) << type_name(t);
      ASSERT_EQ(std::memcmp(want.data(), got.data() + 3, sz), 0) << type_name(t) << " row " << row << " n=" << n;
    }
    // NaN in the input: the reference's handling, whatever it is
    std::vector<float> x = tricky_row(bs == 1 ? 40 : bs * 2, 0, rng);
    x[3] = std::numeric_limits<float>::quiet_NaN();
    const int64_t n = static_cast<int64_t>(x.size());
    std::vector<uint8_t> want(*row_size(t, n)), got(want.size());
    ref::quantize_activations(t, x.data(), want.data(), n);
    ASSERT_TRUE(ks_->quantize_activations(t, x.data(), got.data(), n));
    EXPECT_EQ(want, got) << type_name(t) << " with NaN";
  }
}

INSTANTIATE_TEST_SUITE_P(Sets, X86Kernels, ::testing::Values(Set::kAvx2, Set::kAvx512),
                         [](const ::testing::TestParamInfo<Set>& i) {
                           return std::string(i.param == Set::kAvx2 ? "avx2" : "avx512vnni");
                         });

}  // namespace
}  // namespace ondi
