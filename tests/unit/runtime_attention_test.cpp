// The SIMD attention paths against the scalar loops that specify them (runtime/attention.h): bit for bit, for
// every GQA group size, key count (whole and partial blocks of 8) and head size (with and without a tail).
#include <gtest/gtest.h>

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
    for (int64_t group : {1, 2, 3, 4, 8, 12}) {  // 12: two passes of at most 8 heads
      for (int32_t n_kv : {1, 2, 7, 8, 9, 15, 16, 17, 33, 100}) {
        const int64_t hdv = hd;
        const size_t k_stride = static_cast<size_t>(hd) * 3 + 5, v_stride = static_cast<size_t>(hdv) * 2 + 3;
        std::vector<uint16_t> k(k_stride * static_cast<size_t>(n_kv)), v(v_stride * static_cast<size_t>(n_kv));
        for (auto& x : k) x = f32_to_fp16(nd(rng));
        for (auto& x : v) x = f32_to_fp16(nd(rng));
        std::vector<float> q(static_cast<size_t>(group * hd));
        for (auto& x : q) x = 3.0f * nd(rng);
        std::vector<float> got(static_cast<size_t>(group * hdv), -7.0f), want(got.size());
        AttnScratch s1, s2;
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

}  // namespace
}  // namespace ondi
