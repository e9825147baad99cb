// An inference context: a KV cache for up to n_seq independent sequences of up to n_ctx tokens each, and
// the forward pass over batches that mix tokens of several sequences.
//
// Reproducibility contract: the logits of a token depend only on the model, its sequence's tokens and its
// position, never on the thread count, the batch it was computed in, or the other sequences.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

#include "core/status.h"
#include "core/thread_pool.h"
#include "model/model.h"
#include "runtime/attention.h"
#include "runtime/ops.h"

namespace ondi {

struct ContextParams {
  int32_t n_ctx = 4096;   // positions per sequence
  int32_t n_seq = 1;      // independent sequences (KV slots)
  int32_t n_batch = 512;  // most tokens one decode() call takes
  int32_t n_threads = 0;  // 0: hardware concurrency
};

// Tokens for one decode() call. For each sequence, its tokens must appear in increasing consecutive
// positions, the first at that sequence's current length.
struct Batch {
  std::vector<int32_t> token, pos, seq;
  std::vector<uint8_t> want_logits;
  void add(int32_t t, int32_t p, int32_t s, bool logits) {
    token.push_back(t);
    pos.push_back(p);
    seq.push_back(s);
    want_logits.push_back(logits ? 1 : 0);
  }
  void clear() {
    token.clear();
    pos.clear();
    seq.clear();
    want_logits.clear();
  }
  size_t size() const { return token.size(); }
};

class Context {
 public:
  static Result<std::unique_ptr<Context>> create(const Model& model, const ContextParams& params);

  // Runs the batch. Errc::invalid_argument for a bad token id / sequence / position, Errc::out_of_range when
  // a sequence would pass n_ctx. On error the cache is unchanged for every sequence.
  Status decode(const Batch& batch);
  // Logits (n_vocab floats) of batch token i of the last decode(); nullptr if it did not ask for them.
  const float* logits(size_t i) const;

  int32_t seq_len(int32_t seq) const { return seq_len_[static_cast<size_t>(seq)]; }
  // Drops positions >= n of a sequence (n = 0 clears it).
  void seq_truncate(int32_t seq, int32_t n);
  // Copies the first n positions of src's cache to dst (prefix sharing); dst's length becomes n.
  Status seq_copy(int32_t src, int32_t dst, int32_t n);

  const ContextParams& params() const { return params_; }
  const Model& model() const { return model_; }
  int32_t n_vocab() const { return static_cast<int32_t>(model_.hparams().n_vocab); }
  size_t kv_bytes() const;
  ThreadPool& pool() { return *pool_; }

 private:
  Context(const Model& m, const ContextParams& p);
  Status validate(const Batch& b) const;
  void forward(const Batch& b);
  void attention(const Batch& b, int64_t layer);
  uint16_t* k_at(int64_t layer, int32_t seq, int32_t pos);
  uint16_t* v_at(int64_t layer, int32_t seq, int32_t pos);

  const Model& model_;
  ContextParams params_;
  std::unique_ptr<ThreadPool> pool_;
  std::vector<int32_t> seq_len_;
  // K and V per layer: (n_seq, n_ctx, n_head_kv * head_dim) in F16.
  // Left uninitialized (new T[]): pages are touched only as positions fill; no position >= seq_len is read.
  std::vector<std::unique_ptr<uint16_t[]>> k_cache_, v_cache_;
  int64_t k_row_ = 0, v_row_ = 0;

  // activations for up to n_batch tokens
  std::vector<float> x_, h_, q_, k_, v_, attn_, gate_, up_, rope_, out_norm_, logits_;
  std::vector<int64_t> logit_row_;              // batch index -> row in logits_ (-1: none)
  std::vector<AttnScratch> att_scratch_;  // per thread
  OpScratch scratch_;
};

}  // namespace ondi
