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
  int32_t n_ctx = 4096;              // positions per sequence
  int32_t n_seq = 1;                 // independent sequences (KV slots)
  int32_t n_batch = 512;             // most tokens one decode() call takes
  int32_t n_threads = 0;             // 0: hardware concurrency
  int32_t n_outputs = 0;             // most logit rows one decode() call returns (0: n_seq); sizes the logits buffer
  GgmlType kv_type = GgmlType::F16;  // F16, or Q8_0 (about half the memory; needs head dims multiple of 32)
};

// What a context needs, computed before anything is allocated (ondi's memory is planned, then kept to).
struct MemoryPlan {
  uint64_t file_bytes = 0;        // the GGUF file, mapped (address space, shared with the page cache)
  uint64_t weights_resident = 0;  // the parts of the file the forward pass reads: they become resident
  uint64_t model_heap = 0;        // decoded norms/biases, tokenizer tables (estimated)
  uint64_t kv_cache = 0;          // n_layer x n_seq x n_ctx x (K + V) rows in the KV type
  uint64_t scratch = 0;           // activations for n_batch tokens, logits for n_outputs rows, per-thread
  uint64_t overhead = 0;          // code, libraries, thread stacks, allocator (a measured constant)
  uint64_t total() const { return weights_resident + model_heap + kv_cache + scratch + overhead; }
};
MemoryPlan plan_memory(const Model& model, const ContextParams& params);

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

  // KV access for session files, which hold positions as rows of all KV heads (k_row_bytes() / v_row_bytes() each):
  // positions [0, n) of one layer and sequence copied out to such rows, or in from them. seq_restore_len() declares
  // positions filled by a restore; callers must have written them.
  void kv_save(int64_t layer, int32_t seq, int32_t n, uint8_t* k_rows, uint8_t* v_rows);
  void kv_load(int64_t layer, int32_t seq, int32_t n, const uint8_t* k_rows, const uint8_t* v_rows);
  int64_t k_row() const { return k_row_; }  // elements per position (all KV heads)
  int64_t v_row() const { return v_row_; }
  size_t k_row_bytes() const { return k_row_bytes_; }  // bytes per position in the cache's type
  size_t v_row_bytes() const { return v_row_bytes_; }
  GgmlType kv_type() const { return params_.kv_type; }
  void seq_restore_len(int32_t seq, int32_t n) { seq_len_[static_cast<size_t>(seq)] = n; }

  const ContextParams& params() const { return params_; }
  const Model& model() const { return model_; }
  int32_t n_vocab() const { return static_cast<int32_t>(model_.hparams().n_vocab); }
  size_t kv_bytes() const;
  ThreadPool& pool() { return *pool_; }

  // The FFN runs over at most this many tokens at a time: its (tokens, n_ff) gate and up activations are the
  // largest scratch (32 MiB at 512 tokens for a 1B model), while a 128-token chunk already keeps the kernels
  // compute-bound. Each output element's reduction is unchanged, so chunking never changes a bit.
  static constexpr int64_t kFfnChunk = 128;

 private:
  Context(const Model& m, const ContextParams& p);
  Status validate(const Batch& b) const;
  void forward(const Batch& b);
  void attention(const Batch& b, int64_t layer);
  void store_kv(const float* x, uint8_t* dst, int64_t n) const;
  // Position pos of KV head `head`: that head's positions are contiguous (k_head_bytes_ / v_head_bytes_ apart).
  uint8_t* k_at(int64_t layer, int32_t seq, int64_t head, int32_t pos);
  uint8_t* v_at(int64_t layer, int32_t seq, int64_t head, int32_t pos);

  int64_t passes_ = 0;  // forward passes run (Model::interleave_step waits for the second)
  const Model& model_;
  ContextParams params_;
  std::unique_ptr<ThreadPool> pool_;
  std::vector<int32_t> seq_len_;
  // K and V per layer: (n_seq, n_head_kv, n_ctx, head_dim) in kv_type (F16 halves or Q8_0 blocks), so that one
  // head's keys are one sequential stream for attention (rows of all heads made them 128 of every 1024 bytes for
  // the 1B shape, which the hardware prefetchers do not follow). Left uninitialized (new T[]): pages are touched
  // only as positions fill; no position >= seq_len is read.
  std::vector<std::unique_ptr<uint8_t[]>> k_cache_, v_cache_;
  int64_t k_row_ = 0, v_row_ = 0;
  size_t k_row_bytes_ = 0, v_row_bytes_ = 0;    // one position, all KV heads
  size_t k_head_bytes_ = 0, v_head_bytes_ = 0;  // one position of one KV head

  // activations for up to n_batch tokens (gate_, up_: up to kFfnChunk tokens)
  std::vector<float> x_, h_, q_, k_, v_, attn_, gate_, up_, rope_, out_norm_, logits_;
  std::vector<int64_t> logit_row_;        // batch index -> row in logits_ (-1: none)
  std::vector<AttnScratch> att_scratch_;  // per thread
  OpScratch scratch_;
};

}  // namespace ondi
