// The SIMD attention paths against the scalar loops that specify them (runtime/attention.h): bit for bit, for
// every GQA group size, key count (whole and partial blocks of 8) and head size (with and without a tail); and the
// scalar spec against attention computed in double.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "core/fp16.h"
#include "runtime/attention.h"

namespace ondi {
namespace {

TEST(Attention, GroupEqualsScalarReferenceBitwise) {
  std::mt19937 rng(11);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  for (int64_t hd : {64, 68, 128}) {
    for (int64_t group : {1, 2, 3, 4, 5, 6, 7, 8, 12}) {           // 12: two passes of at most 8 heads
      for (int32_t n_kv : {1, 2, 7, 8, 9, 15, 16, 17, 33, 100}) {  // 33, 100: position chunks of 32
        const int64_t hdv = hd;
        const size_t k_stride = static_cast<size_t>(hd) * 3 + 5, v_stride = static_cast<size_t>(hdv) * 2 + 3;
        std::vector<uint16_t> k(k_stride * static_cast<size_t>(n_kv)), v(v_stride * static_cast<size_t>(n_kv));
        for (auto& x : k) x = f32_to_fp16(nd(rng));
        for (auto& x : v) x = f32_to_fp16(nd(rng));
        std::vector<float> q(static_cast<size_t>(group * hd));
        for (auto& x : q) x = 3.0f * nd(rng);
        std::vector<float> got(static_cast<size_t>(group * hdv), -7.0f), want(got.size());
        AttnScratch s1, s2;
        s1.prefetch = n_kv % 2 == 1;  // the decode path's prefetching must not change a bit either
        const float scale = 0.125f;
        attend_group(q.data(), group, k.data(), k_stride, v.data(), v_stride, n_kv, hd, hdv, scale, s1, got.data());
        for (int64_t g = 0; g < group; ++g)
          attend_reference(q.data() + g * hd, k.data(), k_stride, v.data(), v_stride, n_kv, hd, hdv, scale, s2,
                           want.data() + g * hdv);
        ASSERT_EQ(std::memcmp(got.data(), want.data(), got.size() * sizeof(float)), 0)
            << "hd " << hd << " group " << group << " n_kv " << n_kv;
      }
    }
  }
}

// The softmax's own exp against libm's in double: within 2 ulp over [-87, 0] (every 2^-12, and the ends), exactly 1
// at 0, and 0 below the cut-off.
TEST(Attention, SoftmaxExpWithinTwoUlp) {
  double worst = 0.0;
  for (int i = 0; i <= 87 * 4096; ++i) {
    const float x = -static_cast<float>(i) / 4096.0f;
    const double want = std::exp(static_cast<double>(x));
    const double ulp = std::ldexp(1.0, std::ilogb(want) - 23);
    worst = std::max(worst, std::fabs(static_cast<double>(softmax_exp(x)) - want) / ulp);
  }
  EXPECT_LE(worst, 2.0);
  EXPECT_EQ(softmax_exp(0.0f), 1.0f);
  EXPECT_EQ(softmax_exp(-87.5f), 0.0f);
  EXPECT_EQ(softmax_exp(-1e30f), 0.0f);
}

// The scalar spec against attention computed independently in double (q rounded to F16 as the spec says, libm's
// exp, plain sums): the only differences left are the spec's f32 dot products, its own exp (~2 ulp) and the F16
// rounding of each probability (relative 2^-11), so every output is within max|v| * 2^-10 of the double result.
// Scores spread over ~120 units so that some fall below exp's cut-off at -87 and some keys carry almost everything.
TEST(Attention, ReferenceMatchesDoublePrecisionAttention) {
  std::mt19937 rng(7);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  for (int64_t hd : {64, 68}) {
    for (int32_t n_kv : {1, 5, 64, 300}) {
      for (float spread : {0.1f, 4.0f, 30.0f}) {
        std::vector<uint16_t> k(static_cast<size_t>(hd * n_kv)), v(static_cast<size_t>(hd * n_kv));
        float vmax = 0.0f;
        for (auto& x : k) x = f32_to_fp16(nd(rng));
        for (auto& x : v) {
          x = f32_to_fp16(nd(rng));
          vmax = std::max(vmax, std::fabs(fp16_to_f32(x)));
        }
        std::vector<float> q(static_cast<size_t>(hd));
        for (auto& x : q) x = spread * nd(rng);
        const float scale = 1.0f / std::sqrt(static_cast<float>(hd));
        AttnScratch scratch;
        std::vector<float> got(static_cast<size_t>(hd));
        attend_reference(q.data(), k.data(), static_cast<size_t>(hd), v.data(), static_cast<size_t>(hd), n_kv, hd, hd,
                         scale, scratch, got.data());
        std::vector<double> sc(static_cast<size_t>(n_kv));
        double mx = -1e300;
        for (int32_t j = 0; j < n_kv; ++j) {
          double dot = 0.0;
          for (int64_t d = 0; d < hd; ++d)
            dot += static_cast<double>(fp16_to_f32(k[static_cast<size_t>(j * hd + d)])) *
                   fp16_to_f32(f32_to_fp16(q[static_cast<size_t>(d)]));
          sc[static_cast<size_t>(j)] = dot * scale;
          mx = std::max(mx, sc[static_cast<size_t>(j)]);
        }
        double sum = 0.0;
        for (auto& x : sc) sum += (x = std::exp(x - mx));
        for (int64_t d = 0; d < hd; ++d) {
          double want = 0.0;
          for (int32_t j = 0; j < n_kv; ++j)
            want += sc[static_cast<size_t>(j)] / sum * fp16_to_f32(v[static_cast<size_t>(j * hd + d)]);
          EXPECT_NEAR(got[static_cast<size_t>(d)], want, vmax * std::ldexp(1.0, -10))
              << "hd " << hd << " n_kv " << n_kv << " spread " << spread << " d " << d;
        }
      }
    }
  }
}

}  // namespace
}  // namespace ondi
