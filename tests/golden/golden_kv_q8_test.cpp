// The Q8_0 KV cache's effect on quality, measured against the F16 cache on every golden model whose head size
// allows it: KL(F16 || Q8_0) of the softmaxed logits at every position, and how often the argmax changes. The
// figures are printed (and reported in docs/MEMORY.md). The bounds are about ten times what is measured (KL up to
// 2e-4, logits within 2e-2 of their range), to catch a broken cache (which moves logits by whole units and gives
// KL near 1) without failing on a change of summation order.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "golden_io.h"
#include "model/model.h"
#include "runtime/context.h"
#include "runtime/generate.h"

namespace ondi {
namespace {

std::vector<float> run(const Model& m, const golden::Logits& ref, GgmlType kv) {
  ContextParams cp;
  cp.n_ctx = int32_t(ref.n_tokens);
  cp.n_batch = int32_t(ref.n_tokens);
  cp.n_outputs = int32_t(ref.n_kept);
  cp.n_threads = 2;
  cp.kv_type = kv;
  auto ctx = Context::create(m, cp);
  EXPECT_TRUE(ctx.ok()) << ctx.status().message();
  std::vector<float> out(size_t(ref.n_kept) * ref.n_vocab);
  EXPECT_TRUE(evaluate(**ctx, 0, ref.ids, ref.n_kept, out.data()).ok());
  return out;
}

class KvQ8 : public ::testing::TestWithParam<const char*> {};

TEST_P(KvQ8, KlAgainstTheF16CacheIsSmall) {
  const std::string base = golden::dir() + "/" + GetParam();
  golden::Logits ref;
  std::string err;
  ASSERT_TRUE(golden::read_logits(base + ".logits", ref, err)) << err;
  auto m = Model::load(base + ".gguf");
  ASSERT_TRUE(m.ok()) << m.status().message();
  const auto a = run(**m, ref, GgmlType::F16);
  const auto b = run(**m, ref, GgmlType::Q8_0);
  double kl_sum = 0, kl_max = 0, scale = 0, max_diff = 0;
  int flips = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    scale = std::max(scale, std::fabs(double(a[i])));
    max_diff = std::max(max_diff, std::fabs(double(a[i]) - b[i]));
  }
  for (size_t r = 0; r < ref.n_kept; ++r) {
    const float* x = a.data() + r * ref.n_vocab;
    const float* y = b.data() + r * ref.n_vocab;
    size_t ax = 0, ay = 0;
    for (size_t v = 1; v < ref.n_vocab; ++v) {
      if (x[v] > x[ax]) ax = v;
      if (y[v] > y[ay]) ay = v;
    }
    flips += ax != ay;
    double zx = 0, zy = 0;
    for (size_t v = 0; v < ref.n_vocab; ++v) {
      zx += std::exp(double(x[v]) - x[ax]);
      zy += std::exp(double(y[v]) - y[ay]);
    }
    double kl = 0;
    for (size_t v = 0; v < ref.n_vocab; ++v) {
      const double lx = double(x[v]) - x[ax] - std::log(zx), ly = double(y[v]) - y[ay] - std::log(zy);
      kl += std::exp(lx) * (lx - ly);
    }
    kl_sum += kl;
    kl_max = std::max(kl_max, kl);
  }
  std::printf("[ kv q8_0 ] %-18s KL(F16 || Q8_0) mean %.2e max %.2e; max |diff| %.2e of the logit range; argmax "
              "changed at %d/%u positions\n",
              GetParam(), kl_sum / ref.n_kept, kl_max, max_diff / scale, flips, ref.n_kept);
  EXPECT_LE(kl_max, 2e-3);
  EXPECT_LE(max_diff / scale, 0.1);
}

INSTANTIATE_TEST_SUITE_P(Golden, KvQ8,
                         ::testing::Values("llama-math-f32", "llama-math-Q4_K_M", "llama-math-Q8_0", "qwen2-math-f32",
                                           "qwen2-math-Q4_K_M"),
                         [](const auto& i) {
                           std::string n = i.param;
                           for (char& c : n)
                             if (!isalnum(static_cast<unsigned char>(c))) c = '_';
                           return n;
                         });

}  // namespace
}  // namespace ondi
