// A loaded model: hyper-parameters from GGUF metadata and weights bound to the mapped file (zero-copy for
// matrices; small 1-D tensors are decoded to f32 at load).
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "core/mmap_file.h"
#include "core/status.h"
#include "core/thread_pool.h"
#include "gguf/gguf.h"
#include "tensor/types.h"
#include "tokenizer/tokenizer.h"

namespace ondi {

enum class Arch { llama, qwen2, qwen3 };

struct HParams {
  Arch arch = Arch::llama;
  std::string arch_name;
  int64_t n_embd = 0;
  int64_t n_layer = 0;
  int64_t n_head = 0;
  int64_t n_head_kv = 0;
  int64_t head_dim = 0;    // per-head size of Q and K (<arch>.attention.key_length, default n_embd / n_head)
  int64_t head_dim_v = 0;  // per-head size of V
  int64_t n_ff = 0;
  int64_t n_vocab = 0;
  int64_t n_ctx_train = 0;
  int64_t n_rot = 0;  // rotated dimensions per head (<arch>.rope.dimension_count, default head_dim)
  float rope_base = 10000.0f;
  float rope_freq_scale = 1.0f;  // linear scaling: positions are multiplied by this
  float rms_eps = 1e-5f;
  bool rope_neox = false;  // pairs (i, i + n_rot/2) instead of adjacent (2i, 2i+1)
};

// A matrix's interleaved copy (kernels/kernels.h), published once complete (Model::interleave_step).
struct InterleavedCopy {
  uint8_t* tiles = nullptr;      // the copy's memory
  size_t tile_bytes = 0;         // bytes per tile of kInterleaveRows rows
  std::atomic<int64_t> rows{0};  // rows [0, rows) are written (a multiple of kInterleaveRows, or all)
};

// A 2-D weight matrix (n_out rows of n_in elements) in the file's own encoding.
struct Weight {
  std::string name;
  const uint8_t* data = nullptr;
  GgmlType type = GgmlType::F32;
  int64_t n_in = 0;   // ne[0]: elements per row (the contiguous dimension)
  int64_t n_out = 0;  // ne[1]: rows
  size_t row_bytes = 0;
  // Where the kernel set multiplies this type faster interleaved: its copy, set by Model::prepare_weights before any
  // forward pass (hence mutable); products read the rows the copy holds (copy->rows) from it, the others from `data`.
  mutable const InterleavedCopy* copy = nullptr;
  const uint8_t* row(int64_t r) const { return data + static_cast<size_t>(r) * row_bytes; }
  bool present() const { return data != nullptr; }
};

struct LayerWeights {
  std::vector<float> attn_norm, ffn_norm;  // (n_embd)
  Weight wq, wk, wv, wo;
  Weight ffn_gate, ffn_up, ffn_down;
  std::vector<float> bq, bk, bv;      // qwen2: (n_head*head_dim), (n_head_kv*head_dim), ...; empty otherwise
  std::vector<float> q_norm, k_norm;  // qwen3: (head_dim); empty otherwise
};

class Model {
 public:
  static Result<std::unique_ptr<Model>> load(const std::string& path);
  static Result<std::unique_ptr<Model>> load(std::unique_ptr<GgufFile> file);

  const HParams& hparams() const { return hp_; }
  const GgufFile& gguf() const { return *file_; }
  const Tokenizer* tokenizer() const { return tokenizer_.get(); }  // nullptr when the model has none
  const Vocab& vocab() const { return vocab_; }
  const std::string& tokenizer_error() const { return tokenizer_error_; }  // why tokenizer() is null

  const Weight& tok_embd() const { return tok_embd_; }
  const Weight& output() const { return output_; }  // == tok_embd for tied models
  const std::vector<float>& output_norm() const { return output_norm_; }
  const std::vector<float>& rope_freqs() const { return rope_freqs_; }  // empty: all 1
  const LayerWeights& layer(int64_t i) const { return layers_[static_cast<size_t>(i)]; }
  int64_t n_params() const { return n_params_; }
  uint64_t weight_bytes() const { return weight_bytes_; }
  // Heap the loaded model holds besides the mapping: decoded 1-D tensors (exact) and tokenizer tables (estimated).
  uint64_t heap_bytes() const { return heap_bytes_; }

  // Maps the pages of every weight a forward pass reads (all but an untied token embedding, read a row at a time)
  // into the process, spread over `pool` (core::prefault), and plans the interleaved copies of the matrices the
  // kernel set multiplies faster that way (kernels.h); the first call does it, later ones return at once. Without
  // memory for the copies, or with ONDI_INTERLEAVE=0 in the environment, every matrix stays in the file's layout.
  void prepare_weights(ThreadPool& pool) const;
  // Writes the next ~budget bytes of interleaved copies over `pool`, drops the file pages it copied from the process
  // (core::release_pages) and publishes how many rows of each matrix are copied. Contexts call it before each forward
  // pass but their first, so that no copy delays a first token and a pass pays a bounded share (ONDI_INTERLEAVE_STEP=
  // bytes in the environment replaces `budget`: tests leave matrices partly copied across passes with it); results
  // are bit-identical whether a product reads a copy or the file (kernels.h), so when a row switches changes no
  // output. Returns at once when everything is copied or another context is copying.
  void interleave_step(ThreadPool& pool, uint64_t budget) const;

 private:
  Model() = default;
  Status bind();

  std::unique_ptr<GgufFile> file_;
  HParams hp_;
  Vocab vocab_;
  std::unique_ptr<Tokenizer> tokenizer_;
  std::string tokenizer_error_;
  Weight tok_embd_, output_;
  std::vector<float> output_norm_, rope_freqs_;
  std::vector<LayerWeights> layers_;
  int64_t n_params_ = 0;
  uint64_t weight_bytes_ = 0;
  uint64_t heap_bytes_ = 0;
  mutable std::once_flag prepared_;
  // Interleaved copies (prepare_weights, interleave_step).
  struct IlChunk {
    const Weight* w;
    int64_t t0, t1;  // tiles
    size_t copy;     // index in il_copies_
  };
  mutable std::unique_ptr<AnonMemory> interleaved_;
  mutable std::deque<InterleavedCopy> il_copies_;
  mutable std::vector<uint8_t*> il_out_;                    // per copy: where its tiles go
  mutable std::unique_ptr<std::atomic<size_t>[]> il_left_;  // per copy: chunks not yet written
  mutable std::vector<IlChunk> il_chunks_;                  // in the order they are written
  mutable std::mutex il_mu_;                                // held by the context writing chunks
  mutable size_t il_next_ = 0;
  mutable uint64_t il_step_ =
      0;  // ONDI_INTERLEAVE_STEP (0: the caller's budget)                              // next chunk (under il_mu_)
  mutable std::atomic<bool> il_finished_{true};
};

}  // namespace ondi
