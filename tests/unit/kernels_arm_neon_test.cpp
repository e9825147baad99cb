// aarch64 NEON kernels (kernels/arm), at every level the CPU runs (base, +dotprod, +i8mm; scripts/test.d/
// 20-aarch64.sh runs this under qemu with CPU models that have each): against the scalar reference, which is
// the spec, and against themselves across tile shapes. Skipped on other architectures.
//
// What is asserted, and why it may be asserted:
//  - quantized formats: bit-identical to the reference. A block's integer sum is exact in any order; the block's
//    float formula is the reference's, operation for operation, lane-wise (AArch64 vector float arithmetic is
//    IEEE, as the scalar one, and the build forbids FMA contraction); blocks are accumulated in ascending order.
//  - F16/BF16: within a bound derived below (the f64 accumulation order differs from the reference's).
//  - gemm: every element bit-identical to vec_dot of the same kernel set, for any tile shape (batch invariance).
//  - Q8_0/Q8_1/Q8_K activation blocks: byte-identical to the reference.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <random>
#include <string_view>
#include <vector>

#include "core/fp16.h"
#include "kernels/arm/neon.h"
#include "kernels/kernels.h"
#include "tensor/quants.h"
#include "tensor/types.h"

namespace ondi {
namespace {

using neon::Level;

constexpr GgmlType kWeightTypes[] = {GgmlType::F32,  GgmlType::F16,  GgmlType::BF16, GgmlType::Q4_0,  GgmlType::Q4_1,
                                     GgmlType::Q5_0, GgmlType::Q5_1, GgmlType::Q8_0, GgmlType::Q2_K,  GgmlType::Q3_K,
                                     GgmlType::Q4_K, GgmlType::Q5_K, GgmlType::Q6_K, GgmlType::IQ4_NL};

std::vector<const KernelSet*> levels() {
  std::vector<const KernelSet*> v;
  for (Level l : {Level::kBase, Level::kDotprod, Level::kI8mm})
    if (const KernelSet* k = neon::kernel_set(l)) v.push_back(k);
  return v;
}

#define ONDI_REQUIRE_NEON()                                          \
  if (levels().empty()) {                                            \
    GTEST_SKIP() << "not an aarch64 build: no NEON kernels to test"; \
  }

bool is_float(GgmlType t) { return t == GgmlType::F16 || t == GgmlType::BF16; }

uint32_t bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}

int64_t block_of(GgmlType t) { return type_info(t)->block_size; }

// Byte offsets of the fp16 scale fields of a weight block (blocks.h).
std::vector<size_t> weight_scale_fields(GgmlType t) {
  switch (t) {
    case GgmlType::Q4_0:
    case GgmlType::Q5_0:
    case GgmlType::Q8_0:
    case GgmlType::IQ4_NL:
      return {0};
    case GgmlType::Q4_1:
    case GgmlType::Q5_1:
    case GgmlType::Q4_K:
    case GgmlType::Q5_K:
      return {0, 2};
    case GgmlType::Q2_K:
      return {80, 82};
    case GgmlType::Q3_K:
      return {108};
    case GgmlType::Q6_K:
      return {208};
    default:
      return {};
  }
}

// A finite fp16 of magnitude in [2^-12, 4): the range real scales live in, with all mantissa bits random.
uint16_t random_scale(std::mt19937& rng) {
  std::uniform_real_distribution<float> m(0.5f, 1.0f);
  std::uniform_int_distribution<int> e(-11, 2), s(0, 1);
  return f32_to_fp16((s(rng) ? -1.0f : 1.0f) * std::ldexp(m(rng), e(rng)));
}

// Weight rows: `random_bytes` fills every quant, scale and min bit at random (any encodable block, Q8_0's -128
// included) except the fp16 super-scales, kept finite; otherwise rows are real quantizations of N(0, 0.05).
std::vector<uint8_t> make_weights(GgmlType t, int64_t n, int64_t rows, size_t stride, size_t offset, bool random_bytes,
                                  std::mt19937& rng) {
  std::vector<uint8_t> buf(offset + stride * static_cast<size_t>(rows) + 16, 0xA5);
  const size_t row_bytes = *row_size(t, n);
  std::normal_distribution<float> dist(0.0f, 0.05f);
  std::uniform_int_distribution<int> byte(0, 255);
  for (int64_t r = 0; r < rows; ++r) {
    uint8_t* p = buf.data() + offset + static_cast<size_t>(r) * stride;
    if (random_bytes && !is_float(t)) {
      for (size_t i = 0; i < row_bytes; ++i) p[i] = static_cast<uint8_t>(byte(rng));
      const size_t bsize = type_info(t)->type_size;
      for (size_t b = 0; b < row_bytes / bsize; ++b)
        for (size_t off : weight_scale_fields(t)) {
          const uint16_t h = random_scale(rng);
          std::memcpy(p + b * bsize + off, &h, 2);
        }
    } else {
      std::vector<float> x(static_cast<size_t>(n));
      for (auto& v : x) v = dist(rng);
      quantize_row(t, x.data(), p, n);
    }
  }
  return buf;
}

// Activation rows in vec_dot_type(t), made by the reference converter from N(0, 2) with an outlier.
std::vector<uint8_t> make_acts(GgmlType t, int64_t n, int64_t toks, size_t stride, size_t offset, std::mt19937& rng) {
  const GgmlType at = vec_dot_type(t);
  std::vector<uint8_t> buf(offset + stride * static_cast<size_t>(toks) + 16, 0x5A);
  std::normal_distribution<float> dist(0.0f, 2.0f);
  std::vector<float> x(static_cast<size_t>(n));
  for (int64_t k = 0; k < toks; ++k) {
    for (auto& v : x) v = dist(rng);
    x[static_cast<size_t>(k * 7) % x.size()] = 40.0f;
    ref::quantize_activations(at, x.data(), buf.data() + offset + static_cast<size_t>(k) * stride, n);
  }
  return buf;
}

// ---- vec_dot against the reference ---------------------------------------------------------------------------

TEST(KernelsArmNeon, QuantizedVecDotBitIdenticalToReference) {
  ONDI_REQUIRE_NEON();
  std::mt19937 rng(2024);
  for (const KernelSet* k : levels()) {
    for (GgmlType t : kWeightTypes) {
      const VecDotFn f = k->vec_dot(t);
      if (!f || is_float(t)) continue;
      const VecDotFn want = ref::vec_dot_fn(t);
      for (int64_t nb : {1, 2, 3, 4, 5, 7, 8, 9, 13, 33}) {
        const int64_t n = nb * block_of(t);
        for (bool random_bytes : {false, true}) {
          const size_t ow = static_cast<size_t>(nb) % 8, oa = static_cast<size_t>(nb * 3 + 1) % 8;
          const auto w = make_weights(t, n, 1, *row_size(t, n), ow, random_bytes, rng);
          const auto a = make_acts(t, n, 1, *row_size(vec_dot_type(t), n), oa, rng);
          const float got = f(n, w.data() + ow, a.data() + oa), ref = want(n, w.data() + ow, a.data() + oa);
          ASSERT_EQ(bits(got), bits(ref)) << k->name << " " << type_name(t) << " n=" << n
                                          << " random_bytes=" << random_bytes << ": " << got << " vs " << ref;
        }
      }
    }
  }
}

// F16/BF16: both kernels sum the same exact products p_i (an f16 x f16 or bf16 x bf16 product fits in f32) in
// f64, in different orders. Any order of n additions is within (n - 1) u64 sum|p_i| of the exact sum S
// (u64 = 2^-53), so the two f64 sums differ by at most 2 (n - 1) u64 sum|p_i|; rounding each to f32 adds at
// most u32 |s| (u32 = 2^-24) per side, or half the smallest subnormal. Hence
//   |neon - ref| <= 2 n u64 sum|p_i| + 2^-23 max(|neon|, |ref|) (1 + 2^-22) + 2^-149.
TEST(KernelsArmNeon, FloatVecDotWithinDerivedBoundOfReference) {
  ONDI_REQUIRE_NEON();
  std::mt19937 rng(77);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  for (const KernelSet* k : levels()) {
    for (GgmlType t : {GgmlType::F16, GgmlType::BF16}) {
      const VecDotFn f = k->vec_dot(t);
      if (!f) continue;
      int differing = 0, cases = 0;
      double worst = 0;
      for (int64_t n : {1, 2, 7, 8, 9, 15, 16, 17, 31, 64, 257, 1001, 4099}) {
        for (int rep = 0; rep < 4; ++rep) {
          std::vector<float> x(static_cast<size_t>(n)), y(static_cast<size_t>(n));
          // rep 3: mixed magnitudes (2^-20 .. 2^10), where ordering matters most
          for (auto& v : x) v = rep == 3 ? std::ldexp(dist(rng), static_cast<int>(rng() % 31) - 20) : dist(rng);
          for (auto& v : y) v = dist(rng);
          const size_t ow = static_cast<size_t>(n + rep) % 8, oa = static_cast<size_t>(3 * n + 1) % 8;
          std::vector<uint8_t> wb(2 * static_cast<size_t>(n) + 16), ab(2 * static_cast<size_t>(n) + 16);
          quantize_row(t, x.data(), wb.data() + ow, n);
          ref::quantize_activations(t, y.data(), ab.data() + oa, n);
          std::vector<float> xd(x.size()), yd(y.size());
          dequantize_row(t, wb.data() + ow, xd.data(), n);
          dequantize_row(t, ab.data() + oa, yd.data(), n);
          double sum_abs = 0;
          for (int64_t i = 0; i < n; ++i) sum_abs += std::fabs(static_cast<double>(xd[i]) * yd[i]);
          const float got = f(n, wb.data() + ow, ab.data() + oa);
          const float ref = ref::vec_dot_fn(t)(n, wb.data() + ow, ab.data() + oa);
          const double bound = 2.0 * static_cast<double>(n) * std::ldexp(1.0, -53) * sum_abs +
                               std::ldexp(1.0, -23) * (1 + std::ldexp(1.0, -22)) *
                                   std::max(std::fabs(static_cast<double>(got)), std::fabs(static_cast<double>(ref))) +
                               std::ldexp(1.0, -149);
          const double diff = std::fabs(static_cast<double>(got) - ref);
          EXPECT_LE(diff, bound) << k->name << " " << type_name(t) << " n=" << n << " rep=" << rep;
          ++cases;
          if (got != ref) ++differing;
          worst = std::max(worst, diff / std::max(std::fabs(static_cast<double>(ref)), 1e-30));
        }
      }
      std::cout << "[ neon ] " << k->name << " " << type_name(t) << ": " << differing << "/" << cases
                << " results differ from the scalar reference, largest relative difference " << worst << "\n";
    }
  }
}

// ---- gemm == vec_dot -----------------------------------------------------------------------------------------

TEST(KernelsArmNeon, GemmBitIdenticalToVecDotForEveryTileShape) {
  ONDI_REQUIRE_NEON();
  std::mt19937 rng(5);
  for (const KernelSet* k : levels()) {
    for (GgmlType t : kWeightTypes) {
      const VecDotFn dot = k->vec_dot(t);
      const GemmFn gemm = k->gemm(t);
      if (!dot && !gemm) continue;
      ASSERT_TRUE(dot && gemm) << k->name << " " << type_name(t) << ": vec_dot and gemm come together";
      const int64_t n = (is_float(t) ? 3 : 2) * std::max<int64_t>(block_of(t), 32) + (is_float(t) ? 5 : 0);
      const size_t w_stride = *row_size(t, n) + 3, a_stride = *row_size(vec_dot_type(t), n) + 5;
      const int64_t max_rows = 9, max_tok = 17;
      const auto w = make_weights(t, n, max_rows, w_stride, 1, !is_float(t), rng);
      const auto a = make_acts(t, n, max_tok, a_stride, 3, rng);
      std::vector<float> want(static_cast<size_t>(max_rows * max_tok));
      for (int64_t r = 0; r < max_rows; ++r)
        for (int64_t tk = 0; tk < max_tok; ++tk)
          want[static_cast<size_t>(tk * max_rows + r)] = dot(n, w.data() + 1 + static_cast<size_t>(r) * w_stride,
                                                             a.data() + 3 + static_cast<size_t>(tk) * a_stride);
      for (int64_t rows : {1, 2, 3, 4, 5, 6, 7, 9}) {
        for (int64_t toks : {1, 2, 3, 4, 5, 6, 7, 8, 9, 17}) {
          const size_t ldy = static_cast<size_t>(rows) + 2;
          std::vector<float> y(ldy * static_cast<size_t>(toks) + 1, -12345.0f);
          gemm(n, w.data() + 1, w_stride, rows, a.data() + 3, a_stride, toks, y.data(), ldy);
          for (int64_t tk = 0; tk < toks; ++tk)
            for (size_t r = 0; r < ldy; ++r) {
              const float got = y[static_cast<size_t>(tk) * ldy + r];
              if (static_cast<int64_t>(r) >= rows) {
                ASSERT_EQ(got, -12345.0f) << k->name << " " << type_name(t) << ": wrote outside the tile";
                continue;
              }
              ASSERT_EQ(bits(got), bits(want[static_cast<size_t>(tk * max_rows) + r]))
                  << k->name << " " << type_name(t) << " rows=" << rows << " toks=" << toks << " r=" << r
                  << " t=" << tk;
            }
        }
      }
    }
  }
}

// ---- activation conversion -----------------------------------------------------------------------------------

// Inputs that stress each step: random scales over 12 decades, exact rounding ties (x = j + 0.5 with amax 127, so
// x * 127 / amax is a tie unless the inverse scale rounds), all-zero blocks, +-amax in one block (Q8_K takes the
// first as its signed max), tiny and subnormal values, a single outlier.
std::vector<float> tricky_activations(int64_t n, int variant, std::mt19937& rng) {
  std::vector<float> x(static_cast<size_t>(n));
  std::normal_distribution<float> dist(0.0f, 1.0f);
  std::uniform_int_distribution<int> expo(-20, 20);
  for (int64_t i = 0; i < n; ++i) {
    float& v = x[static_cast<size_t>(i)];
    switch (variant) {
      case 0:
        v = dist(rng);
        break;
      case 1:  // a different scale per 32 values
        v = std::ldexp(dist(rng), expo(rng) + static_cast<int>((i / 32) % 7));
        break;
      case 2:  // ties: halves up to 126.5, amax 127
        v = (i % 32 == 5) ? 127.0f : static_cast<float>(static_cast<int>(rng() % 253) - 126) + 0.5f;
        break;
      case 3:  // zero blocks in between
        v = (i / 32) % 3 == 1 ? 0.0f : dist(rng);
        break;
      case 4:  // -amax before +amax, then +amax before -amax
        v = dist(rng);
        if (i % 256 == 17) v = ((i / 256) % 2 ? 9.0f : -9.0f);
        if (i % 256 == 200) v = ((i / 256) % 2 ? -9.0f : 9.0f);
        break;
      case 5:  // tiny normal magnitudes (127 / amax still finite)
        v = std::ldexp(dist(rng), -118);
        break;
      case 6:  // Q8_K only: subnormal magnitudes, where its inverse scale overflows to infinity and the
               // reference's nearest_int returns defined bits (the Q8_0/Q8_1 reference would convert an
               // infinite float to int, which C++ leaves undefined)
        v = std::ldexp(dist(rng), -140);
        break;
      default:  // one outlier among small values
        v = dist(rng) * 1e-3f;
        if (i == n / 2) v = 300.0f;
        break;
    }
  }
  return x;
}

TEST(KernelsArmNeon, ActivationQuantizationByteIdenticalToReference) {
  ONDI_REQUIRE_NEON();
  std::mt19937 rng(31);
  for (const KernelSet* k : levels()) {
    ASSERT_NE(k->quantize_activations, nullptr);
    for (GgmlType at : {GgmlType::Q8_0, GgmlType::Q8_1, GgmlType::Q8_K}) {
      for (int64_t nb : {1, 2, 3, 5}) {
        const int64_t n = nb * (at == GgmlType::Q8_K ? 256 : 32) * (at == GgmlType::Q8_K ? 1 : 8);
        for (int variant = 0; variant < 8; ++variant) {
          if (variant == 6 && at != GgmlType::Q8_K) continue;
          const std::vector<float> x = tricky_activations(n, variant, rng);
          const size_t sz = *row_size(at, n);
          std::vector<uint8_t> want(sz), got(sz + 8, 0xEE);
          ref::quantize_activations(at, x.data(), want.data(), n);
          ASSERT_TRUE(k->quantize_activations(at, x.data(), got.data() + 1, n)) << k->name << " " << type_name(at);
          ASSERT_EQ(0, std::memcmp(want.data(), got.data() + 1, sz))
              << k->name << " " << type_name(at) << " n=" << n << " variant=" << variant;
          ASSERT_EQ(got[0], 0xEE);
          ASSERT_EQ(got[sz + 1], 0xEE) << "wrote past the row";
        }
      }
    }
  }
}

// ---- dispatch ------------------------------------------------------------------------------------------------

TEST(KernelsArmNeon, DispatchPicksTheHighestLevelThisCpuRuns) {
  ONDI_REQUIRE_NEON();
  const std::vector<const KernelSet*> v = levels();
  std::cout << "[ neon ] levels this CPU runs:";
  for (const KernelSet* k : v) std::cout << " " << k->name;
  std::cout << "; dispatch uses " << kernel_isa() << "\n";
  EXPECT_EQ(arm_neon_kernels(), v.back());
  const char* force = std::getenv("ONDI_KERNELS");
  if (force && std::string_view(force) == "scalar")
    EXPECT_STREQ(kernel_isa(), "scalar");
  else
    EXPECT_STREQ(kernel_isa(), v.back()->name);
}

}  // namespace
}  // namespace ondi
