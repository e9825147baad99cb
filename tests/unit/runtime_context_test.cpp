// Reproducibility of the forward pass: the logits of a token must not depend on the thread count, the prefill
// chunk size, or which other sequences share its batch. Checked bit for bit on a golden model (the oracle for
// the values themselves is tests/golden; here the oracle is the same computation done another way).
#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "model/model.h"
#include "runtime/context.h"
#include "runtime/generate.h"

namespace ondi {
namespace {

const std::vector<int32_t> kIdsA = {331, 154, 404, 49, 74, 96, 374, 59, 219, 38, 88, 444, 428, 71, 246, 92, 434};
const std::vector<int32_t> kIdsB = {5, 77, 301, 12, 499, 250, 3};

std::unique_ptr<Model> load(const char* name) {
  auto m = Model::load(std::string(ONDI_GOLDEN_DIR) + "/" + name);
  EXPECT_TRUE(m.ok()) << m.status().message();
  return m.ok() ? std::move(m).value() : nullptr;
}

std::vector<float> run_alone(const Model& m, const std::vector<int32_t>& ids, int threads, int batch) {
  ContextParams cp;
  cp.n_ctx = 64;
  cp.n_batch = batch;
  cp.n_outputs = batch;  // all logits of a chunk at once, so chunks really are `batch` tokens
  cp.n_threads = threads;
  auto ctx = Context::create(m, cp);
  EXPECT_TRUE(ctx.ok());
  std::vector<float> out(ids.size() * size_t(m.hparams().n_vocab));
  Status st = evaluate(**ctx, 0, ids, ids.size(), out.data());
  EXPECT_TRUE(st.ok()) << st.message();
  return out;
}

TEST(Context, ThreadCountAndChunkSizeDoNotChangeLogitBits) {
  auto m = load("llama-math-Q4_K_M.gguf");
  ASSERT_TRUE(m);
  const auto ref = run_alone(*m, kIdsA, 1, 512);
  for (int threads : {2, 3, 5}) {
    for (int batch : {1, 4, 7, 512}) {
      const auto got = run_alone(*m, kIdsA, threads, batch);
      ASSERT_EQ(0, std::memcmp(ref.data(), got.data(), ref.size() * sizeof(float)))
          << "threads " << threads << " batch " << batch;
    }
  }
}

TEST(Context, SequencesSharingABatchMatchTheirSoloRuns) {
  auto m = load("qwen2-math-Q8_0.gguf");
  ASSERT_TRUE(m);
  const size_t V = size_t(m->hparams().n_vocab);
  const auto solo_a = run_alone(*m, kIdsA, 2, 512);
  const auto solo_b = run_alone(*m, kIdsB, 2, 512);

  ContextParams cp;
  cp.n_ctx = 64;
  cp.n_seq = 3;
  cp.n_threads = 2;
  cp.n_outputs = cp.n_batch;  // every token's logits
  auto ctx = Context::create(*m, cp);
  ASSERT_TRUE(ctx.ok());
  // Interleave A (seq 2) and B (seq 0) in one batch; seq 1 stays empty.
  Batch b;
  size_t ia = 0, ib = 0;
  std::vector<std::pair<int, size_t>> order;
  while (ia < kIdsA.size() || ib < kIdsB.size()) {
    if (ia < kIdsA.size()) {
      b.add(kIdsA[ia], int32_t(ia), 2, true);
      order.push_back({0, ia++});
    }
    if (ib < kIdsB.size()) {
      b.add(kIdsB[ib], int32_t(ib), 0, true);
      order.push_back({1, ib++});
    }
  }
  ASSERT_TRUE((*ctx)->decode(b).ok());
  for (size_t i = 0; i < order.size(); ++i) {
    const auto& solo = order[i].first == 0 ? solo_a : solo_b;
    ASSERT_EQ(0, std::memcmp((*ctx)->logits(i), solo.data() + order[i].second * V, V * sizeof(float))) << i;
  }
  EXPECT_EQ((*ctx)->seq_len(2), int32_t(kIdsA.size()));
  EXPECT_EQ((*ctx)->seq_len(1), 0);

  // Continue sequence B alone by one token after copying its prefix into slot 1: same as a fresh run.
  ASSERT_TRUE((*ctx)->seq_copy(0, 1, int32_t(kIdsB.size())).ok());
  b.clear();
  b.add(9, int32_t(kIdsB.size()), 1, true);
  ASSERT_TRUE((*ctx)->decode(b).ok());
  std::vector<int32_t> b_plus = kIdsB;
  b_plus.push_back(9);
  const auto solo_b_plus = run_alone(*m, b_plus, 1, 3);
  EXPECT_EQ(0, std::memcmp((*ctx)->logits(0), solo_b_plus.data() + kIdsB.size() * V, V * sizeof(float)));
}

// Up to eight sequences of different lengths, fed in uneven batches that mix prefill chunks of some sequences
// with single decode tokens of others, on a model whose output projection (151k rows) is split across threads:
// every logit row equals the sequence's solo run bit for bit.
TEST(Context, EightSequencesInUnevenBatchesMatchSoloRuns) {
  auto m = load("qwen2-tok-f16.gguf");
  ASSERT_TRUE(m);
  const size_t V = size_t(m->hparams().n_vocab);
  std::vector<std::vector<int32_t>> seqs;
  for (int s = 0; s < 8; ++s) {
    std::vector<int32_t> ids;
    for (int i = 0; i < 3 + 2 * s; ++i) ids.push_back((s * 7919 + i * 104729) % 151000);
    seqs.push_back(ids);
  }
  ContextParams cp;
  cp.n_ctx = 32;
  cp.n_seq = 8;
  cp.n_batch = 16;
  cp.n_outputs = 16;  // every token's logits
  cp.n_threads = 3;
  auto ctx = Context::create(*m, cp);
  ASSERT_TRUE(ctx.ok());
  std::vector<size_t> done(8, 0);
  std::vector<std::vector<float>> got(8);
  for (int s = 0; s < 8; ++s) got[size_t(s)].resize(seqs[size_t(s)].size() * V);
  for (int step = 0;; ++step) {
    Batch b;
    std::vector<std::pair<int, size_t>> who;
    for (int s = 0; s < 8 && b.size() < 16; ++s) {
      // Sequence s takes (s + step) % 4 + 1 tokens this step, so chunk boundaries differ per sequence.
      const size_t take = std::min<size_t>(size_t((s + step) % 4 + 1), seqs[size_t(s)].size() - done[size_t(s)]);
      for (size_t i = 0; i < take && b.size() < 16; ++i) {
        const size_t p = done[size_t(s)]++;
        b.add(seqs[size_t(s)][p], int32_t(p), s, true);
        who.push_back({s, p});
      }
    }
    if (b.size() == 0) break;
    ASSERT_TRUE((*ctx)->decode(b).ok());
    for (size_t i = 0; i < who.size(); ++i)
      std::memcpy(got[size_t(who[i].first)].data() + who[i].second * V, (*ctx)->logits(i), V * sizeof(float));
  }
  for (int s = 0; s < 8; ++s) {
    const auto solo = run_alone(*m, seqs[size_t(s)], 1, 512);
    ASSERT_EQ(0, std::memcmp(solo.data(), got[size_t(s)].data(), solo.size() * sizeof(float))) << "sequence " << s;
  }
}

// The prefix came from the cache (kept after truncation) or was computed: the continuation's logits are the same.
TEST(Context, TruncatedPrefixContinuesLikeAFreshRun) {
  auto m = load("llama-math-Q5_K_M.gguf");
  ASSERT_TRUE(m);
  const size_t V = size_t(m->hparams().n_vocab);
  ContextParams cp;
  cp.n_ctx = 64;
  cp.n_threads = 2;
  auto ctx = Context::create(*m, cp);
  ASSERT_TRUE(ctx.ok());
  std::vector<float> scratch(kIdsA.size() * V);
  ASSERT_TRUE(evaluate(**ctx, 0, kIdsA, 0, scratch.data()).ok());
  (*ctx)->seq_truncate(0, 5);  // keep a 5-token prefix, drop the rest
  const std::vector<int32_t> tail = {17, 300, 42};
  std::vector<float> got(tail.size() * V);
  ASSERT_TRUE(evaluate(**ctx, 0, tail, tail.size(), got.data()).ok());
  std::vector<int32_t> fresh(kIdsA.begin(), kIdsA.begin() + 5);
  fresh.insert(fresh.end(), tail.begin(), tail.end());
  const auto want = run_alone(*m, fresh, 3, 4);
  EXPECT_EQ(0, std::memcmp(want.data() + 5 * V, got.data(), got.size() * sizeof(float)));
}

TEST(Context, RejectsBadBatchesWithoutChangingState) {
  auto m = load("llama-math-Q8_0.gguf");
  ASSERT_TRUE(m);
  ContextParams cp;
  cp.n_ctx = 4;
  cp.n_batch = 3;
  cp.n_threads = 1;
  auto ctx = Context::create(*m, cp);
  ASSERT_TRUE(ctx.ok());
  Batch b;
  b.add(512, 0, 0, true);  // vocab is 512: out of range
  EXPECT_EQ((*ctx)->decode(b).code(), Errc::invalid_argument);
  b.clear();
  b.add(1, 1, 0, true);  // position gap
  EXPECT_EQ((*ctx)->decode(b).code(), Errc::invalid_argument);
  b.clear();
  b.add(1, 0, 1, true);  // no sequence 1
  EXPECT_EQ((*ctx)->decode(b).code(), Errc::invalid_argument);
  b.clear();
  for (int i = 0; i < 4; ++i) b.add(1, i, 0, false);  // more than n_batch
  EXPECT_EQ((*ctx)->decode(b).code(), Errc::invalid_argument);
  EXPECT_EQ((*ctx)->seq_len(0), 0);
  std::vector<float> out(512);
  EXPECT_TRUE(evaluate(**ctx, 0, {1, 2, 3, 4}, 1, out.data()).ok());
  EXPECT_EQ(evaluate(**ctx, 0, {5}, 1, out.data()).code(), Errc::out_of_range);  // context full
  EXPECT_EQ((*ctx)->seq_len(0), 4);
}

TEST(StopMatcher, HoldsBackPossibleStopPrefixes) {
  StopMatcher m({"<end>", "xyz"});
  bool stopped = false;
  EXPECT_EQ(m.push("hello <e", stopped), "hello ");
  EXPECT_FALSE(stopped);
  // "x" could start "xyz": held back until the next piece shows it does not.
  EXPECT_EQ(m.push("nx", stopped), "<en");
  EXPECT_EQ(m.push(" ab<en", stopped), "x ab");
  EXPECT_EQ(m.push("d> tail", stopped), "");
  EXPECT_TRUE(stopped);
  StopMatcher n({"xyz"});
  EXPECT_EQ(n.push("axy", stopped), "a");
  EXPECT_EQ(n.flush(), "xy");
  StopMatcher none({});
  EXPECT_EQ(none.push("abc", stopped), "abc");
}

}  // namespace
}  // namespace ondi
