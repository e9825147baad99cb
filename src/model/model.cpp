#include "model/model.h"

#include <cmath>
#include <cstdlib>
#include <new>
#include <string_view>

#include "core/mmap_file.h"
#include "kernels/kernels.h"
#include "tensor/quants.h"

namespace ondi {
namespace {

// Bounds that no real model comes near; they keep absurd metadata from turning into absurd allocations.
constexpr int64_t kMaxLayers = 1024;
constexpr int64_t kMaxEmbd = 1 << 17;
constexpr int64_t kMaxHeads = 4096;
constexpr int64_t kMaxHeadDim = 1024;
constexpr int64_t kMaxFF = 1 << 20;
constexpr int64_t kMaxVocab = 1 << 22;

struct KeyReader {
  const GgufFile& f;
  std::string prefix;  // "<arch>."

  Result<int64_t> required(const char* key, int64_t lo, int64_t hi) const {
    const std::string k = prefix + key;
    auto r = f.get_i64(k);
    if (!r.ok()) return r.status();
    if (*r < lo || *r > hi)
      return Status(Errc::format, f.name() + ": key '" + k + "' = " + std::to_string(*r) + " is outside [" +
                                      std::to_string(lo) + ", " + std::to_string(hi) + "]");
    return *r;
  }
  Result<int64_t> optional(const char* key, int64_t def, int64_t lo, int64_t hi) const {
    if (!f.find(prefix + key)) return def;
    return required(key, lo, hi);
  }
  Result<float> optional_f(const char* key, float def, float lo, float hi) const {
    const std::string k = prefix + key;
    if (!f.find(k)) return def;
    auto r = f.get_f32(k);
    if (!r.ok()) return r.status();
    if (!(std::isfinite(*r) && *r >= lo && *r <= hi))
      return Status(Errc::format, f.name() + ": key '" + k + "' = " + std::to_string(*r) + " is outside [" +
                                      std::to_string(lo) + ", " + std::to_string(hi) + "]");
    return *r;
  }
};

Result<HParams> read_hparams(const GgufFile& f) {
  HParams hp;
  ONDI_ASSIGN_OR_RETURN(hp.arch_name, f.get_str("general.architecture"));
  if (hp.arch_name == "llama") {
    hp.arch = Arch::llama;
  } else if (hp.arch_name == "qwen2") {
    hp.arch = Arch::qwen2;
  } else if (hp.arch_name == "qwen3") {
    hp.arch = Arch::qwen3;
  } else {
    return Status(Errc::unsupported,
                  f.name() + ": architecture '" + hp.arch_name + "' is not supported (supported: llama, qwen2, qwen3)");
  }
  hp.rope_neox = hp.arch != Arch::llama;
  KeyReader k{f, hp.arch_name + "."};
  ONDI_ASSIGN_OR_RETURN(hp.n_embd, k.required("embedding_length", 1, kMaxEmbd));
  ONDI_ASSIGN_OR_RETURN(hp.n_layer, k.required("block_count", 1, kMaxLayers));
  ONDI_ASSIGN_OR_RETURN(hp.n_head, k.required("attention.head_count", 1, kMaxHeads));
  ONDI_ASSIGN_OR_RETURN(hp.n_head_kv, k.optional("attention.head_count_kv", hp.n_head, 1, kMaxHeads));
  ONDI_ASSIGN_OR_RETURN(hp.n_ff, k.required("feed_forward_length", 1, kMaxFF));
  ONDI_ASSIGN_OR_RETURN(hp.n_ctx_train, k.optional("context_length", 4096, 1, int64_t(1) << 24));
  if (hp.n_head % hp.n_head_kv != 0)
    return Status(Errc::format, f.name() + ": head_count " + std::to_string(hp.n_head) +
                                    " is not a multiple of head_count_kv " + std::to_string(hp.n_head_kv));
  const int64_t def_hd = hp.n_embd % hp.n_head == 0 ? hp.n_embd / hp.n_head : 0;
  ONDI_ASSIGN_OR_RETURN(hp.head_dim, k.optional("attention.key_length", def_hd, 1, kMaxHeadDim));
  ONDI_ASSIGN_OR_RETURN(hp.head_dim_v, k.optional("attention.value_length", hp.head_dim, 1, kMaxHeadDim));
  if (hp.head_dim == 0)
    return Status(Errc::format, f.name() + ": embedding_length is not a multiple of head_count and no key_length");
  ONDI_ASSIGN_OR_RETURN(hp.n_rot, k.optional("rope.dimension_count", hp.head_dim, 2, hp.head_dim));
  if (hp.n_rot % 2 != 0) return Status(Errc::format, f.name() + ": rope.dimension_count must be even");
  ONDI_ASSIGN_OR_RETURN(hp.rope_base, k.optional_f("rope.freq_base", 10000.0f, 1.0f, 1e12f));
  ONDI_ASSIGN_OR_RETURN(hp.rms_eps, k.optional_f("attention.layer_norm_rms_epsilon", 1e-5f, 0.0f, 1.0f));
  if (f.find(k.prefix + "rope.scaling.type")) {
    ONDI_ASSIGN_OR_RETURN(std::string type, f.get_str(k.prefix + "rope.scaling.type"));
    if (type == "linear") {
      ONDI_ASSIGN_OR_RETURN(float factor, k.optional_f("rope.scaling.factor", 1.0f, 1e-3f, 1e6f));
      hp.rope_freq_scale = 1.0f / factor;
    } else if (type != "none") {
      return Status(Errc::unsupported, f.name() + ": rope scaling '" + type + "' is not supported");
    }
  }
  return hp;
}

std::string shape_str(const GgufTensorInfo& t) {
  std::string s = "[";
  for (uint32_t i = 0; i < t.n_dims; ++i) s += (i ? ", " : "") + std::to_string(t.ne[i]);
  return s + "]";
}

struct Binder {
  const GgufFile& f;
  int64_t* n_params;
  uint64_t* bytes;

  Result<const GgufTensorInfo*> find(const std::string& name, std::vector<int64_t> shape, bool optional) {
    const GgufTensorInfo* t = f.find_tensor(name);
    if (!t) {
      if (optional) return static_cast<const GgufTensorInfo*>(nullptr);
      return Status(Errc::format, f.name() + ": missing tensor '" + name + "'");
    }
    bool ok = t->n_dims <= 4;
    for (size_t i = 0; i < 4 && ok; ++i) ok = t->ne[i] == (i < shape.size() ? shape[i] : 1);
    if (!ok) {
      GgufTensorInfo want;
      want.n_dims = static_cast<uint32_t>(shape.size());
      for (size_t i = 0; i < shape.size(); ++i) want.ne[i] = shape[i];
      return Status(Errc::format,
                    f.name() + ": tensor '" + name + "' has shape " + shape_str(*t) + ", expected " + shape_str(want));
    }
    *n_params += t->n_elements();
    *bytes += t->n_bytes;
    return t;
  }

  Result<Weight> matrix(const std::string& name, int64_t n_in, int64_t n_out, bool optional = false) {
    ONDI_ASSIGN_OR_RETURN(const GgufTensorInfo* t, find(name, {n_in, n_out}, optional));
    Weight w;
    if (!t) return w;
    w.name = name;
    if (!vec_dot_fn(t->type))
      return Status(Errc::unsupported, f.name() + ": tensor '" + name + "' has type " +
                                           std::string(type_name(t->type)) + ", which ondi cannot multiply");
    const GgmlType act = vec_dot_type(t->type);
    if (n_in % type_info(act)->block_size != 0)
      return Status(Errc::unsupported, f.name() + ": tensor '" + name + "': row length " + std::to_string(n_in) +
                                           " is not a multiple of " + std::to_string(type_info(act)->block_size) +
                                           " as type " + std::string(type_name(t->type)) + " requires");
    w.data = f.tensor_data(*t);
    w.type = t->type;
    w.n_in = n_in;
    w.n_out = n_out;
    w.row_bytes = *row_size(t->type, n_in);
    return w;
  }

  // 1-D tensors are small: decode to f32 whatever their type.
  Result<std::vector<float>> vector(const std::string& name, int64_t n, bool optional = false) {
    ONDI_ASSIGN_OR_RETURN(const GgufTensorInfo* t, find(name, {n}, optional));
    std::vector<float> v;
    if (!t) return v;
    const TypeInfo* info = type_info(t->type);
    if (!info->weight_type || n % info->block_size != 0)
      return Status(Errc::unsupported,
                    f.name() + ": tensor '" + name + "' has unsupported type " + std::string(info->name));
    v.resize(static_cast<size_t>(n));
    dequantize_row(t->type, f.tensor_data(*t), v.data(), n);
    for (float x : v)
      if (!std::isfinite(x)) return Status(Errc::format, f.name() + ": tensor '" + name + "' holds a non-finite value");
    return v;
  }
};

}  // namespace

Result<std::unique_ptr<Model>> Model::load(const std::string& path) {
  ONDI_ASSIGN_OR_RETURN(auto file, GgufFile::open(path));
  return load(std::move(file));
}

Result<std::unique_ptr<Model>> Model::load(std::unique_ptr<GgufFile> file) {
  try {
    std::unique_ptr<Model> m(new Model());
    m->file_ = std::move(file);
    ONDI_RETURN_IF_ERROR(m->bind());
    return m;
  } catch (const std::bad_alloc&) {
    return Status(Errc::out_of_memory, "out of memory while loading the model");
  }
}

Status Model::bind() {
  const GgufFile& f = *file_;
  ONDI_ASSIGN_OR_RETURN(hp_, read_hparams(f));
  const GgufTensorInfo* emb = f.find_tensor("token_embd.weight");
  if (!emb) return Status(Errc::format, f.name() + ": missing tensor 'token_embd.weight'");
  if (emb->n_dims != 2 || emb->ne[1] < 1 || emb->ne[1] > kMaxVocab)
    return Status(Errc::format, f.name() + ": tensor 'token_embd.weight' has shape " + shape_str(*emb) +
                                    ", expected [" + std::to_string(hp_.n_embd) + ", n_vocab]");
  hp_.n_vocab = emb->ne[1];

  Binder b{f, &n_params_, &weight_bytes_};
  const int64_t d = hp_.n_embd, q_dim = hp_.n_head * hp_.head_dim, k_dim = hp_.n_head_kv * hp_.head_dim,
                v_dim = hp_.n_head_kv * hp_.head_dim_v, o_in = hp_.n_head * hp_.head_dim_v;
  ONDI_ASSIGN_OR_RETURN(tok_embd_, b.matrix("token_embd.weight", d, hp_.n_vocab));
  ONDI_ASSIGN_OR_RETURN(output_norm_, b.vector("output_norm.weight", d));
  ONDI_ASSIGN_OR_RETURN(output_, b.matrix("output.weight", d, hp_.n_vocab, /*optional=*/true));
  if (!output_.present()) output_ = tok_embd_;
  ONDI_ASSIGN_OR_RETURN(rope_freqs_, b.vector("rope_freqs.weight", hp_.n_rot / 2, /*optional=*/true));
  for (float x : rope_freqs_)
    if (!(x > 0)) return Status(Errc::format, f.name() + ": tensor 'rope_freqs.weight' holds a non-positive factor");

  layers_.resize(static_cast<size_t>(hp_.n_layer));
  for (int64_t i = 0; i < hp_.n_layer; ++i) {
    LayerWeights& L = layers_[static_cast<size_t>(i)];
    const std::string p = "blk." + std::to_string(i) + ".";
    ONDI_ASSIGN_OR_RETURN(L.attn_norm, b.vector(p + "attn_norm.weight", d));
    ONDI_ASSIGN_OR_RETURN(L.wq, b.matrix(p + "attn_q.weight", d, q_dim));
    ONDI_ASSIGN_OR_RETURN(L.wk, b.matrix(p + "attn_k.weight", d, k_dim));
    ONDI_ASSIGN_OR_RETURN(L.wv, b.matrix(p + "attn_v.weight", d, v_dim));
    ONDI_ASSIGN_OR_RETURN(L.wo, b.matrix(p + "attn_output.weight", o_in, d));
    ONDI_ASSIGN_OR_RETURN(L.ffn_norm, b.vector(p + "ffn_norm.weight", d));
    ONDI_ASSIGN_OR_RETURN(L.ffn_gate, b.matrix(p + "ffn_gate.weight", d, hp_.n_ff));
    ONDI_ASSIGN_OR_RETURN(L.ffn_up, b.matrix(p + "ffn_up.weight", d, hp_.n_ff));
    ONDI_ASSIGN_OR_RETURN(L.ffn_down, b.matrix(p + "ffn_down.weight", hp_.n_ff, d));
    // Biases are what make qwen2 qwen2, but llama-style files sometimes carry them too: bind when present.
    const bool need_bias = hp_.arch == Arch::qwen2;
    ONDI_ASSIGN_OR_RETURN(L.bq, b.vector(p + "attn_q.bias", q_dim, !need_bias));
    ONDI_ASSIGN_OR_RETURN(L.bk, b.vector(p + "attn_k.bias", k_dim, !need_bias));
    ONDI_ASSIGN_OR_RETURN(L.bv, b.vector(p + "attn_v.bias", v_dim, !need_bias));
    if (hp_.arch == Arch::qwen3) {
      ONDI_ASSIGN_OR_RETURN(L.q_norm, b.vector(p + "attn_q_norm.weight", hp_.head_dim));
      ONDI_ASSIGN_OR_RETURN(L.k_norm, b.vector(p + "attn_k_norm.weight", hp_.head_dim));
    }
  }

  auto floats = [](const std::vector<float>& v) { return static_cast<uint64_t>(v.size()) * sizeof(float); };
  heap_bytes_ = floats(output_norm_) + floats(rope_freqs_);
  for (const LayerWeights& L : layers_)
    for (const auto* v : {&L.attn_norm, &L.ffn_norm, &L.bq, &L.bk, &L.bv, &L.q_norm, &L.k_norm})
      heap_bytes_ += floats(*v);

  auto vocab = load_vocab(f);
  if (!vocab.ok()) return vocab.status();
  vocab_ = std::move(vocab).value();
  if (!vocab_.tokens.empty() && static_cast<int64_t>(vocab_.tokens.size()) > hp_.n_vocab)
    return Status(Errc::format, f.name() + ": the tokenizer has " + std::to_string(vocab_.tokens.size()) +
                                    " tokens but token_embd.weight only " + std::to_string(hp_.n_vocab) + " rows");
  // Tokenizer tables: each token and merge is held as a string in the parsed GGUF metadata, in the vocabulary
  // and in the tokenizer's own indexes, plus hash-table entries. An estimate, calibrated on the Llama 3 (128k
  // tokens, 280k merges) and Qwen3 (151k, 151k) vocabularies, where it lands within ~5% of the measured heap.
  for (const auto& t : vocab_.tokens) heap_bytes_ += 4 * (sizeof(std::string) + t.size()) + 96;
  for (const auto& mg : vocab_.merges) heap_bytes_ += 3 * (sizeof(std::string) + mg.size()) + 64;
  if (vocab_.tokens.empty()) {
    tokenizer_error_ = f.name() + ": the model has no tokenizer (tokenizer.ggml.model = '" + vocab_.model + "')";
  } else {
    auto tok = Tokenizer::create(vocab_);
    if (tok.ok()) {
      tokenizer_ = std::move(tok).value();
    } else {
      tokenizer_error_ = tok.status().message();
    }
  }
  return Status::Ok();
}

void Model::prepare_weights(ThreadPool& pool) const {
  std::call_once(prepared_, [&] {
    const char* env = std::getenv("ONDI_INTERLEAVE");
    const bool allowed = !(env && std::string_view(env) == "0");
    if (const char* step = std::getenv("ONDI_INTERLEAVE_STEP")) il_step_ = std::strtoull(step, nullptr, 10);
    // The matrices a forward pass multiplies (output_ is tok_embd_'s twin when tied: only the product gets a copy;
    // the embedding's rows are still read from the file).
    std::vector<const Weight*> mats;
    for (const LayerWeights& L : layers_)
      for (const Weight* w : {&L.wq, &L.wk, &L.wv, &L.wo, &L.ffn_gate, &L.ffn_up, &L.ffn_down})
        if (w->present()) mats.push_back(w);
    mats.push_back(&output_);
    std::vector<std::pair<const Weight*, size_t>> il;  // weight, offset of its copy
    size_t total = 0;
    for (const Weight* w : mats) {
      const size_t bytes = allowed ? interleaved_bytes(w->type, w->n_in, w->n_out) : 0;
      if (bytes == 0) continue;
      il.emplace_back(w, total);
      total += (bytes + 63) & ~size_t{63};
    }
    if (total > 0) {
      auto mem = AnonMemory::allocate(total, file_->name() + ": interleaved weights");
      if (mem.ok()) interleaved_ = std::move(mem).value();
    }
    if (interleaved_) {
      // Chunks of ~256 KB of file rows, matrix by matrix in the order a forward pass reads them.
      for (const auto& [w, off] : il) {
        const size_t k = il_copies_.size();
        InterleavedCopy& copy = il_copies_.emplace_back();
        copy.tile_bytes = interleaved_bytes(w->type, w->n_in, kInterleaveRows);
        copy.tiles = interleaved_->data() + off;
        const int64_t tiles = (w->n_out + kInterleaveRows - 1) / kInterleaveRows;
        const int64_t step =
            std::max<int64_t>(1, static_cast<int64_t>((256u << 10) / (kInterleaveRows * w->row_bytes)));
        for (int64_t t0 = 0; t0 < tiles; t0 += step) il_chunks_.push_back({w, t0, std::min(tiles, t0 + step), k});
        w->copy = &il_copies_[k];
      }
      il_left_ = std::make_unique<std::atomic<size_t>[]>(il_copies_.size());
      for (const IlChunk& c : il_chunks_) il_left_[c.copy].fetch_add(1, std::memory_order_relaxed);
      il_finished_.store(false, std::memory_order_release);
    }
    // The token embedding is read a row at a time, unless the output projection multiplies it as it is.
    const bool emb_in_full = output_.data == tok_embd_.data;
    std::vector<const GgufTensorInfo*> ts;
    for (const auto& t : file_->tensors())
      if (emb_in_full || t.name != tok_embd_.name) ts.push_back(&t);
    pool.run(static_cast<int64_t>(ts.size()), [&](int64_t i, int) {
      const GgufTensorInfo& t = *ts[static_cast<size_t>(i)];
      prefault(file_->tensor_data(t), t.n_bytes);
    });
  });
}

void Model::interleave_step(ThreadPool& pool, uint64_t budget) const {
  if (il_finished_.load(std::memory_order_acquire)) return;
  std::unique_lock<std::mutex> lock(il_mu_, std::try_to_lock);
  if (!lock.owns_lock()) return;
  if (il_step_ > 0) budget = il_step_;
  size_t end = il_next_;
  uint64_t bytes = 0;
  while (end < il_chunks_.size() && bytes < budget) {
    const IlChunk& c = il_chunks_[end++];
    bytes += static_cast<uint64_t>(c.t1 - c.t0) * kInterleaveRows * c.w->row_bytes;
  }
  const size_t first = il_next_;
  pool.run(static_cast<int64_t>(end - first), [&](int64_t i, int) {
    const IlChunk& c = il_chunks_[first + static_cast<size_t>(i)];
    const Weight& w = *c.w;
    interleave(w.type, w.n_in, w.data, w.row_bytes, w.n_out, c.t0, c.t1, il_copies_[c.copy].tiles);
    // The chunk's file pages leave the resident set at once (the pages it shares with its neighbours when the last
    // chunk of the matrix is written), so that only the chunks in flight are resident twice. The products of this
    // context read these rows from the copy from now on; another context's product still reading them maps them
    // again, as any page of the file.
    const int64_t r0 = c.t0 * kInterleaveRows, r1 = std::min(w.n_out, c.t1 * kInterleaveRows);
    release_pages(w.row(r0), static_cast<size_t>(r1 - r0) * w.row_bytes);
    if (il_left_[c.copy].fetch_sub(1, std::memory_order_relaxed) == 1)
      release_pages(w.data, static_cast<size_t>(w.n_out) * w.row_bytes);
  });
  // Every chunk of [first, end) is written (pool.run's return orders the tasks' writes before these stores), and a
  // matrix's chunks are in row order: publish each copied prefix.
  for (size_t i = first; i < end; ++i) {
    const IlChunk& c = il_chunks_[i];
    il_copies_[c.copy].rows.store(std::min(c.w->n_out, c.t1 * kInterleaveRows), std::memory_order_release);
  }
  il_next_ = end;
  if (end == il_chunks_.size()) il_finished_.store(true, std::memory_order_release);
}

}  // namespace ondi
