#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <vector>

#include "core/fp16.h"
#include "core/thread_pool.h"

namespace ondi {
namespace {

TEST(ThreadPool, RunsEveryTaskExactlyOnce) {
  for (int threads : {1, 2, 3, 8}) {
    ThreadPool pool(threads);
    for (int rep = 0; rep < 50; ++rep) {
      std::vector<std::atomic<int>> hits(997);
      pool.run(997, [&](int64_t t, int thread) {
        EXPECT_GE(thread, 0);
        EXPECT_LT(thread, threads);
        hits[size_t(t)].fetch_add(1);
      });
      for (auto& h : hits) ASSERT_EQ(h.load(), 1);
    }
  }
}

TEST(ThreadPool, ParallelForCoversTheRangeOnce) {
  ThreadPool pool(3);
  for (int64_t n : {0, 1, 5, 16, 1000, 1001}) {
    std::vector<int> seen(size_t(n), 0);
    pool.parallel_for(n, 7, [&](int64_t b, int64_t e, int) {
      for (int64_t i = b; i < e; ++i) seen[size_t(i)]++;
    });
    for (int s : seen) ASSERT_EQ(s, 1);
  }
}

// fp16: every one of the 65536 half values round-trips exactly (NaNs stay NaN), and f32 -> f16 rounds to
// the nearest half, ties to even (checked against the definition on midpoints between adjacent halves).
TEST(Fp16, RoundTripsAndRoundsToNearestEven) {
  for (uint32_t h = 0; h < 65536; ++h) {
    const float f = fp16_to_f32(uint16_t(h));
    if (std::isnan(f)) {
      EXPECT_TRUE(std::isnan(fp16_to_f32(f32_to_fp16(f))));
      continue;
    }
    ASSERT_EQ(f32_to_fp16(f), h) << h;
  }
  for (uint32_t h = 0; h < 0x7bff; ++h) {  // positive finite, next one finite
    const float lo = fp16_to_f32(uint16_t(h)), hi = fp16_to_f32(uint16_t(h + 1));
    const float mid = lo + (hi - lo) / 2;  // exact in f32
    const uint16_t even = (h % 2 == 0) ? uint16_t(h) : uint16_t(h + 1);
    ASSERT_EQ(f32_to_fp16(mid), even) << h;
    ASSERT_EQ(f32_to_fp16(-mid), uint16_t(even | 0x8000)) << h;
  }
  EXPECT_EQ(f32_to_fp16(1e6f), 0x7c00);
  EXPECT_EQ(f32_to_bf16(1.0f), 0x3f80);
  EXPECT_EQ(f32_to_bf16(bits_to_f32(0x3f808000u)), 0x3f80);  // tie -> even
  EXPECT_EQ(f32_to_bf16(bits_to_f32(0x3f818000u)), 0x3f82);  // tie -> even (up)
}

}  // namespace
}  // namespace ondi
