#include "runtime/context.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <new>
#include <string>
#include <thread>

#include "core/fp16.h"
#include "core/process_memory.h"
#include "kernels/kernels.h"
#include "tensor/quants.h"

namespace ondi {

Context::Context(const Model& m, const ContextParams& p) : model_(m), params_(p) {}

Result<std::unique_ptr<Context>> Context::create(const Model& model, const ContextParams& params) {
  ContextParams p = params;
  if (p.n_threads <= 0) p.n_threads = static_cast<int32_t>(std::max(1u, std::thread::hardware_concurrency()));
  if (p.n_threads > 1024) return Status(Errc::invalid_argument, "n_threads must be at most 1024");
  if (p.n_ctx < 1 || p.n_ctx > (1 << 24)) return Status(Errc::invalid_argument, "n_ctx must be in [1, 16777216]");
  if (p.n_seq < 1 || p.n_seq > 256) return Status(Errc::invalid_argument, "n_seq must be in [1, 256]");
  if (p.n_batch < 1 || p.n_batch > 65536) return Status(Errc::invalid_argument, "n_batch must be in [1, 65536]");
  if (p.n_outputs == 0) p.n_outputs = p.n_seq;
  if (p.n_outputs < 1 || p.n_outputs > p.n_batch)
    return Status(Errc::invalid_argument, "n_outputs must be in [1, n_batch]");
  const HParams& hp = model.hparams();
  if (p.kv_type != GgmlType::F16 && p.kv_type != GgmlType::Q8_0)
    return Status(Errc::invalid_argument, "the KV cache type must be F16 or Q8_0");
  if (p.kv_type == GgmlType::Q8_0 && (hp.head_dim % 32 != 0 || hp.head_dim_v % 32 != 0))
    return Status(Errc::unsupported, "a Q8_0 KV cache needs head dimensions that are multiples of 32 (this model's: " +
                                         std::to_string(hp.head_dim) + ")");
  try {
    std::unique_ptr<Context> c(new Context(model, p));
    c->pool_ = std::make_unique<ThreadPool>(p.n_threads);
    c->seq_len_.assign(static_cast<size_t>(p.n_seq), 0);
    c->k_row_ = hp.n_head_kv * hp.head_dim;
    c->v_row_ = hp.n_head_kv * hp.head_dim_v;
    c->k_row_bytes_ = *row_size(p.kv_type, c->k_row_);
    c->v_row_bytes_ = *row_size(p.kv_type, c->v_row_);
    c->k_head_bytes_ = *row_size(p.kv_type, hp.head_dim);  // Q8_0: head dims are whole blocks (checked above)
    c->v_head_bytes_ = *row_size(p.kv_type, hp.head_dim_v);
    const size_t slots = static_cast<size_t>(p.n_seq) * static_cast<size_t>(p.n_ctx);
    for (int64_t l = 0; l < hp.n_layer; ++l) {
      c->k_cache_.emplace_back(new uint8_t[slots * c->k_row_bytes_]);
      c->v_cache_.emplace_back(new uint8_t[slots * c->v_row_bytes_]);
    }
    const size_t B = static_cast<size_t>(p.n_batch);
    c->x_.resize(B * hp.n_embd);
    c->h_.resize(B * hp.n_embd);
    c->q_.resize(B * hp.n_head * hp.head_dim);
    c->k_.resize(B * c->k_row_);
    c->v_.resize(B * c->v_row_);
    c->attn_.resize(B * hp.n_head * hp.head_dim_v);
    const size_t F = std::min<size_t>(B, kFfnChunk);
    c->gate_.resize(F * hp.n_ff);
    c->up_.resize(F * hp.n_ff);
    c->rope_.resize(B * hp.n_rot);
    c->out_norm_.resize(static_cast<size_t>(p.n_outputs) * hp.n_embd);
    c->logits_.resize(static_cast<size_t>(p.n_outputs) * hp.n_vocab);
    c->att_scratch_.resize(static_cast<size_t>(p.n_threads));
    model.prepare_weights(*c->pool_);
    return c;
  } catch (const std::bad_alloc&) {
    return Status(Errc::out_of_memory, "out of memory allocating a context of " + std::to_string(p.n_ctx) +
                                           " positions x " + std::to_string(p.n_seq) + " sequences");
  }
}

size_t Context::kv_bytes() const {
  return static_cast<size_t>(model_.hparams().n_layer) * static_cast<size_t>(params_.n_seq) *
         static_cast<size_t>(params_.n_ctx) * (k_row_bytes_ + v_row_bytes_);
}

uint8_t* Context::k_at(int64_t layer, int32_t seq, int64_t head, int32_t pos) {
  const size_t heads = static_cast<size_t>(model_.hparams().n_head_kv);
  return k_cache_[static_cast<size_t>(layer)].get() +
         ((static_cast<size_t>(seq) * heads + static_cast<size_t>(head)) * static_cast<size_t>(params_.n_ctx) +
          static_cast<size_t>(pos)) *
             k_head_bytes_;
}
uint8_t* Context::v_at(int64_t layer, int32_t seq, int64_t head, int32_t pos) {
  const size_t heads = static_cast<size_t>(model_.hparams().n_head_kv);
  return v_cache_[static_cast<size_t>(layer)].get() +
         ((static_cast<size_t>(seq) * heads + static_cast<size_t>(head)) * static_cast<size_t>(params_.n_ctx) +
          static_cast<size_t>(pos)) *
             v_head_bytes_;
}

void Context::kv_save(int64_t layer, int32_t seq, int32_t n, uint8_t* k_rows, uint8_t* v_rows) {
  for (int64_t h = 0; h < model_.hparams().n_head_kv; ++h)
    for (int32_t p = 0; p < n; ++p) {
      std::memcpy(k_rows + static_cast<size_t>(p) * k_row_bytes_ + static_cast<size_t>(h) * k_head_bytes_,
                  k_at(layer, seq, h, p), k_head_bytes_);
      std::memcpy(v_rows + static_cast<size_t>(p) * v_row_bytes_ + static_cast<size_t>(h) * v_head_bytes_,
                  v_at(layer, seq, h, p), v_head_bytes_);
    }
}

void Context::kv_load(int64_t layer, int32_t seq, int32_t n, const uint8_t* k_rows, const uint8_t* v_rows) {
  for (int64_t h = 0; h < model_.hparams().n_head_kv; ++h)
    for (int32_t p = 0; p < n; ++p) {
      std::memcpy(k_at(layer, seq, h, p),
                  k_rows + static_cast<size_t>(p) * k_row_bytes_ + static_cast<size_t>(h) * k_head_bytes_,
                  k_head_bytes_);
      std::memcpy(v_at(layer, seq, h, p),
                  v_rows + static_cast<size_t>(p) * v_row_bytes_ + static_cast<size_t>(h) * v_head_bytes_,
                  v_head_bytes_);
    }
}

void Context::seq_truncate(int32_t seq, int32_t n) {
  if (seq < 0 || seq >= params_.n_seq) return;
  seq_len_[static_cast<size_t>(seq)] = std::clamp(n, 0, seq_len_[static_cast<size_t>(seq)]);
}

Status Context::seq_copy(int32_t src, int32_t dst, int32_t n) {
  if (src < 0 || src >= params_.n_seq || dst < 0 || dst >= params_.n_seq)
    return Status(Errc::invalid_argument, "seq_copy: sequence id out of range");
  if (n < 0 || n > seq_len_[static_cast<size_t>(src)])
    return Status(Errc::invalid_argument,
                  "seq_copy: source sequence has fewer than " + std::to_string(n) + " positions");
  if (src == dst) {
    seq_len_[static_cast<size_t>(dst)] = n;
    return Status::Ok();
  }
  for (int64_t l = 0; l < model_.hparams().n_layer; ++l)
    for (int64_t h = 0; h < model_.hparams().n_head_kv; ++h) {
      std::memcpy(k_at(l, dst, h, 0), k_at(l, src, h, 0), static_cast<size_t>(n) * k_head_bytes_);
      std::memcpy(v_at(l, dst, h, 0), v_at(l, src, h, 0), static_cast<size_t>(n) * v_head_bytes_);
    }
  seq_len_[static_cast<size_t>(dst)] = n;
  return Status::Ok();
}

Status Context::validate(const Batch& b) const {
  const size_t n = b.size();
  if (n == 0) return Status(Errc::invalid_argument, "decode: empty batch");
  if (b.pos.size() != n || b.seq.size() != n || b.want_logits.size() != n)
    return Status(Errc::invalid_argument, "decode: batch arrays differ in length");
  if (n > static_cast<size_t>(params_.n_batch))
    return Status(Errc::invalid_argument, "decode: batch of " + std::to_string(n) + " tokens exceeds n_batch " +
                                              std::to_string(params_.n_batch));
  size_t n_logits = 0;
  for (uint8_t w : b.want_logits) n_logits += w != 0;
  if (n_logits > static_cast<size_t>(params_.n_outputs))
    return Status(Errc::invalid_argument, "decode: " + std::to_string(n_logits) +
                                              " tokens want logits, more than n_outputs " +
                                              std::to_string(params_.n_outputs));
  std::vector<int32_t> next(seq_len_);
  const int32_t n_vocab = static_cast<int32_t>(model_.hparams().n_vocab);
  for (size_t i = 0; i < n; ++i) {
    if (b.token[i] < 0 || b.token[i] >= n_vocab)
      return Status(Errc::invalid_argument, "decode: token id " + std::to_string(b.token[i]) + " at batch index " +
                                                std::to_string(i) + " is outside [0, " + std::to_string(n_vocab) + ")");
    const int32_t s = b.seq[i];
    if (s < 0 || s >= params_.n_seq)
      return Status(Errc::invalid_argument, "decode: sequence id " + std::to_string(s) + " is outside [0, " +
                                                std::to_string(params_.n_seq) + ")");
    if (b.pos[i] != next[static_cast<size_t>(s)])
      return Status(Errc::invalid_argument, "decode: token " + std::to_string(i) + " of sequence " + std::to_string(s) +
                                                " has position " + std::to_string(b.pos[i]) + ", expected " +
                                                std::to_string(next[static_cast<size_t>(s)]));
    if (b.pos[i] >= params_.n_ctx)
      return Status(Errc::out_of_range, "context full: sequence " + std::to_string(s) + " reached " +
                                            std::to_string(params_.n_ctx) + " tokens");
    ++next[static_cast<size_t>(s)];
  }
  return Status::Ok();
}

Status Context::decode(const Batch& b) {
  ONDI_RETURN_IF_ERROR(validate(b));
  forward(b);
  for (size_t i = 0; i < b.size(); ++i) seq_len_[static_cast<size_t>(b.seq[i])] = b.pos[i] + 1;
  return Status::Ok();
}

const float* Context::logits(size_t i) const {
  if (i >= logit_row_.size() || logit_row_[i] < 0) return nullptr;
  return logits_.data() + static_cast<size_t>(logit_row_[i]) * static_cast<size_t>(model_.hparams().n_vocab);
}

// Attention of every batch token over its own sequence's cached positions [0, pos]: one task per (token, KV head)
// for an F16 cache (the query heads sharing that KV head read its keys once, see attend_group), per (token, head)
// for Q8_0; every head's output is computed by one call alone, so the split over threads cannot change a bit.
void Context::attention(const Batch& b, int64_t layer) {
  const HParams& hp = model_.hparams();
  const int64_t T = static_cast<int64_t>(b.size());
  const int64_t hd = hp.head_dim, hdv = hp.head_dim_v, group = hp.n_head / hp.n_head_kv;
  const float scale = 1.0f / std::sqrt(static_cast<float>(hd));
  if (params_.kv_type == GgmlType::F16) {
    // Fewer tokens than a prefill token group: decoding steps, whose sequences each read their own cache once.
    for (AttnScratch& a : att_scratch_) a.prefetch = T < 16;
    pool_->run(T * hp.n_head_kv, [&](int64_t task, int thread) {
      const int64_t t = task / hp.n_head_kv, kvh = task % hp.n_head_kv, h = kvh * group;
      const int32_t s = b.seq[static_cast<size_t>(t)], n_kv = b.pos[static_cast<size_t>(t)] + 1;
      attend_group(q_.data() + (t * hp.n_head + h) * hd, group,
                   reinterpret_cast<const uint16_t*>(k_at(layer, s, kvh, 0)), static_cast<size_t>(hd),
                   reinterpret_cast<const uint16_t*>(v_at(layer, s, kvh, 0)), static_cast<size_t>(hdv), n_kv, hd, hdv,
                   scale, att_scratch_[static_cast<size_t>(thread)], attn_.data() + (t * hp.n_head + h) * hdv);
    });
    return;
  }
  pool_->run(T * hp.n_head, [&](int64_t task, int thread) {
    const int64_t t = task / hp.n_head, h = task % hp.n_head, kvh = h / group;
    const int32_t s = b.seq[static_cast<size_t>(t)], n_kv = b.pos[static_cast<size_t>(t)] + 1;
    attend_q8_0(q_.data() + (t * hp.n_head + h) * hd, k_at(layer, s, kvh, 0), k_head_bytes_, v_at(layer, s, kvh, 0),
                v_head_bytes_, n_kv, hd, hdv, scale, att_scratch_[static_cast<size_t>(thread)],
                attn_.data() + (t * hp.n_head + h) * hdv);
  });
}

// One position's K or V of one KV head (n values) into the cache's type: the same bytes as its part of the whole
// row's conversion (per element for F16; Q8_0 blocks never straddle heads, head dims being multiples of 32).
void Context::store_kv(const float* x, uint8_t* dst, int64_t n) const {
  if (params_.kv_type == GgmlType::F16) {
    uint16_t* d = reinterpret_cast<uint16_t*>(dst);
    for (int64_t i = 0; i < n; ++i) d[i] = f32_to_fp16(x[i]);
  } else {
    quantize_row(params_.kv_type, x, dst, n);
  }
}

void Context::forward(const Batch& b) {
  const HParams& hp = model_.hparams();
  const int64_t T = static_cast<int64_t>(b.size()), D = hp.n_embd;
  const int64_t q_dim = hp.n_head * hp.head_dim;
  ThreadPool& pool = *pool_;
  // Interleaved copies: none before the first pass (a first token waits for no copy), then ~8 MB per pass plus 1 MB
  // per token (a decode step pays ~2 ms of its ~25 ms on the 1B model, a long prefill gets through them all).
  if (passes_++ > 0) model_.interleave_step(pool, (8ull << 20) + static_cast<uint64_t>(T) * (1ull << 20));

  // x: (T, D) token embeddings
  const Weight& emb = model_.tok_embd();
  pool.parallel_for(T, 1, [&](int64_t t0, int64_t t1, int) {
    for (int64_t t = t0; t < t1; ++t)
      dequantize_row(emb.type, emb.row(b.token[static_cast<size_t>(t)]), x_.data() + t * D, D);
  });
  // rope_: (T, n_rot/2 pairs of cos, sin)
  const float* ff = model_.rope_freqs().empty() ? nullptr : model_.rope_freqs().data();
  for (int64_t t = 0; t < T; ++t)
    rope_cache(rope_.data() + t * hp.n_rot, b.pos[static_cast<size_t>(t)], hp.n_rot, hp.rope_base, hp.rope_freq_scale,
               ff);

  for (int64_t l = 0; l < hp.n_layer; ++l) {
    const LayerWeights& L = model_.layer(l);
    for (int64_t t = 0; t < T; ++t) rms_norm(x_.data() + t * D, L.attn_norm.data(), h_.data() + t * D, D, hp.rms_eps);
    const MatmulOut qkv[3] = {{&L.wq, q_.data()}, {&L.wk, k_.data()}, {&L.wv, v_.data()}};
    matmul_group(qkv, 3, h_.data(), T, pool, scratch_);
    for (int64_t t = 0; t < T; ++t) {
      float* q = q_.data() + t * q_dim;
      float* k = k_.data() + t * k_row_;
      float* v = v_.data() + t * v_row_;
      if (!L.bq.empty())
        for (int64_t i = 0; i < q_dim; ++i) q[i] += L.bq[static_cast<size_t>(i)];
      if (!L.bk.empty())
        for (int64_t i = 0; i < k_row_; ++i) k[i] += L.bk[static_cast<size_t>(i)];
      if (!L.bv.empty())
        for (int64_t i = 0; i < v_row_; ++i) v[i] += L.bv[static_cast<size_t>(i)];
      for (int64_t h = 0; h < hp.n_head; ++h) {
        float* qh = q + h * hp.head_dim;
        if (!L.q_norm.empty()) rms_norm(qh, L.q_norm.data(), qh, hp.head_dim, hp.rms_eps);
        rope_apply(qh, rope_.data() + t * hp.n_rot, hp.n_rot, hp.rope_neox);
      }
      const int32_t s = b.seq[static_cast<size_t>(t)], p = b.pos[static_cast<size_t>(t)];
      for (int64_t h = 0; h < hp.n_head_kv; ++h) {
        float* kh = k + h * hp.head_dim;
        if (!L.k_norm.empty()) rms_norm(kh, L.k_norm.data(), kh, hp.head_dim, hp.rms_eps);
        rope_apply(kh, rope_.data() + t * hp.n_rot, hp.n_rot, hp.rope_neox);
        store_kv(kh, k_at(l, s, h, p), hp.head_dim);
        store_kv(v + h * hp.head_dim_v, v_at(l, s, h, p), hp.head_dim_v);
      }
    }
    attention(b, l);
    matmul(L.wo, attn_.data(), T, h_.data(), pool, scratch_);
    for (int64_t i = 0; i < T * D; ++i) x_[static_cast<size_t>(i)] += h_[static_cast<size_t>(i)];

    for (int64_t t = 0; t < T; ++t) rms_norm(x_.data() + t * D, L.ffn_norm.data(), h_.data() + t * D, D, hp.rms_eps);
    // h_ rows [t0, t1) are read by gate and up before down overwrites them, so later chunks still see their input.
    for (int64_t t0 = 0; t0 < T; t0 += kFfnChunk) {
      const int64_t n = std::min(kFfnChunk, T - t0);
      matmul_swiglu(L.ffn_gate, L.ffn_up, h_.data() + t0 * D, n, gate_.data(), up_.data(), pool, scratch_);
      matmul(L.ffn_down, gate_.data(), n, h_.data() + t0 * D, pool, scratch_);
    }
    for (int64_t i = 0; i < T * D; ++i) x_[static_cast<size_t>(i)] += h_[static_cast<size_t>(i)];
  }

  // Final norm and output projection only for the tokens that asked for logits.
  logit_row_.assign(b.size(), -1);
  int64_t n_out = 0;
  for (size_t i = 0; i < b.size(); ++i)
    if (b.want_logits[i]) logit_row_[i] = n_out++;
  if (n_out == 0) return;
  for (size_t i = 0; i < b.size(); ++i)
    if (logit_row_[i] >= 0)
      rms_norm(x_.data() + static_cast<int64_t>(i) * D, model_.output_norm().data(),
               out_norm_.data() + logit_row_[i] * D, D, hp.rms_eps);
  matmul(model_.output(), out_norm_.data(), n_out, logits_.data(), pool, scratch_);
}

}  // namespace ondi

namespace ondi {

MemoryPlan plan_memory(const Model& m, const ContextParams& params) {
  const HParams& hp = m.hparams();
  ContextParams p = params;
  if (p.n_threads <= 0) p.n_threads = static_cast<int32_t>(std::max(1u, std::thread::hardware_concurrency()));
  if (p.n_outputs == 0) p.n_outputs = p.n_seq;
  const uint64_t B = static_cast<uint64_t>(std::max(1, p.n_batch)), O = static_cast<uint64_t>(std::max(1, p.n_outputs));
  const uint64_t k_row = static_cast<uint64_t>(hp.n_head_kv * hp.head_dim),
                 v_row = static_cast<uint64_t>(hp.n_head_kv * hp.head_dim_v);
  MemoryPlan plan;
  plan.file_bytes = m.gguf().file_size();
  // Every weight the forward pass multiplies is read in full each step; a separate (untied) token embedding is
  // only read row by row, at most one row per distinct token the context can hold.
  plan.weights_resident = m.weight_bytes();
  const Weight& emb = m.tok_embd();
  if (m.output().data != emb.data) {
    const uint64_t rows =
        std::min<uint64_t>(static_cast<uint64_t>(hp.n_vocab), static_cast<uint64_t>(p.n_ctx) * p.n_seq);
    plan.weights_resident -= emb.row_bytes * static_cast<uint64_t>(emb.n_out) - emb.row_bytes * rows;
  }
  // Interleaved copies (Model::prepare_weights): a copy holds whole tiles of rows, and a chunk being written (~256 KB
  // of rows, at least one tile) is resident twice, one per thread at a time. A tied embedding whose product is
  // copied leaves the resident set and is then read a row at a time.
  std::vector<const Weight*> mats{&m.output()};
  for (int64_t l = 0; l < hp.n_layer; ++l) {
    const LayerWeights& L = m.layer(l);
    for (const Weight* w : {&L.wq, &L.wk, &L.wv, &L.wo, &L.ffn_gate, &L.ffn_up, &L.ffn_down})
      if (w->present()) mats.push_back(w);
  }
  uint64_t chunk = 0;
  for (const Weight* w : mats) {
    const uint64_t c = interleaved_bytes(w->type, w->n_in, w->n_out);
    if (c == 0) continue;
    plan.weights_resident += c - w->row_bytes * static_cast<uint64_t>(w->n_out);
    chunk = std::max<uint64_t>({chunk, 256ull << 10, kInterleaveRows * w->row_bytes});
  }
  plan.weights_resident += static_cast<uint64_t>(p.n_threads) * chunk;
  // Each row read maps the kernel's fault-around window (64 KiB by default) of the file, not just the row.
  if (m.output().data == emb.data && interleaved_bytes(emb.type, emb.n_in, emb.n_out) > 0)
    plan.weights_resident +=
        std::min<uint64_t>(emb.row_bytes * static_cast<uint64_t>(emb.n_out),
                           (emb.row_bytes + (64ull << 10)) * static_cast<uint64_t>(p.n_ctx) * p.n_seq);
  plan.model_heap = m.heap_bytes();
  const GgmlType kv = p.kv_type == GgmlType::Q8_0 ? GgmlType::Q8_0 : GgmlType::F16;
  plan.kv_cache = static_cast<uint64_t>(hp.n_layer) * p.n_seq * static_cast<uint64_t>(p.n_ctx) *
                  (row_size(kv, static_cast<int64_t>(k_row)).value_or(2 * k_row) +
                   row_size(kv, static_cast<int64_t>(v_row)).value_or(2 * v_row));
  // Mirrors Context::create and the matmul scratch.
  const uint64_t F = std::min<uint64_t>(B, Context::kFfnChunk);
  uint64_t floats =
      B * (2 * hp.n_embd + hp.n_head * hp.head_dim + k_row + v_row + hp.n_head * hp.head_dim_v + hp.n_rot) +
      F * 2 * hp.n_ff + O * (hp.n_embd + hp.n_vocab);
  floats += static_cast<uint64_t>(p.n_threads) * (static_cast<uint64_t>(p.n_ctx) + hp.head_dim);
  // act_blocks: 32-element activation blocks of the largest product; max_in: the widest weight row
  uint64_t act = 0, act_blocks = 0, max_in = 0;
  bool half = false;  // F16/BF16 weights: the x86 kernels' f64 copies (src/kernels/x86/half_gemm.inc)
  auto consider = [&](const Weight& w, uint64_t rows) {
    if (!w.present()) return;
    half = half || w.type == GgmlType::F16 || w.type == GgmlType::BF16;
    act = std::max<uint64_t>(act, rows * *row_size(vec_dot_type(w.type), w.n_in));
    act_blocks = std::max<uint64_t>(act_blocks, rows * static_cast<uint64_t>(w.n_in) / 32);
    max_in = std::max<uint64_t>(max_in, static_cast<uint64_t>(w.n_in));
  };
  for (int64_t l = 0; l < hp.n_layer; ++l) {
    const LayerWeights& L = m.layer(l);
    for (const Weight* w : {&L.wq, &L.wk, &L.wv, &L.wo}) consider(*w, B);
    for (const Weight* w : {&L.ffn_gate, &L.ffn_up, &L.ffn_down}) consider(*w, F);
    // q, k, v (gate, up) are converted together: one copy per distinct activation type
    const Weight* qkv[3] = {&L.wq, &L.wk, &L.wv};
    const Weight* gu[2] = {&L.ffn_gate, &L.ffn_up};
    act = std::max<uint64_t>(act, matmul_group_act_bytes(qkv, 3, static_cast<int64_t>(B)));
    act = std::max<uint64_t>(act, matmul_group_act_bytes(gu, 2, static_cast<int64_t>(F)));
  }
  consider(m.output(), O);
  plan.scratch = floats * sizeof(float) + act;
  // The executable and libraries as resident now (the CLI's are ~14 MiB: libcrypto, libstdc++, libc, ...; an
  // embedding app's differ, so they are measured, not assumed), the allocator's own use, and each worker thread's
  // touched stack. tests/e2e/memory_plan.sh checks the total against the measured peak.
  // Read once per process: --fit's search plans ~17 times, and every plan of a process should agree.
  static const uint64_t code = [] {
    const uint64_t c = resident_code_bytes();
    return c != 0 ? c : 12ull << 20;  // no /proc: the CLI's figure on x86-64 Debian 12
  }();
  // Per thread: the touched stack (256 KiB) and the x86 kernels' scratch, one of each kind per thread whatever the
  // formats (thread_scratch): a packed copy of a ~128 KB row block (up to 4x its size, AVX2's IQ4_NL: 512 KiB),
  // 12 bytes per activation block of a product from 16 tokens on, and 32 per block of up to 15 tokens below that
  // (src/kernels/x86/packed_tiles.inc, packed_kquants.inc, quant_kernels.inc); for 16-bit weights, ~512 KiB (at
  // least 4 rows) of f64 rows and ~192 KiB (at least 3 tokens) of f64 activations (half_gemm.inc).
  const uint64_t packed = std::max<uint64_t>(512ull << 10, half ? 32 * max_in : 0);
  const uint64_t tokens =
      std::max<uint64_t>(12 * act_blocks + 15 * max_in, half ? std::max<uint64_t>(192ull << 10, 24 * max_in) : 0);
  const uint64_t per_thread = (256ull << 10) + packed + tokens;
  plan.overhead = code + (2ull << 20) + static_cast<uint64_t>(p.n_threads) * per_thread;
  return plan;
}

}  // namespace ondi
