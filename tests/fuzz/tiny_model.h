// Tiny valid models written in memory with GgufWriter, shared by make_seeds.cpp (the gguf_model seeds) and the
// targets that need a real model and context (fuzz_session_file): the same Shape gives the same bytes, so a session
// saved by make_seeds matches the model the target builds.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "gguf/gguf.h"
#include "runtime/sampler.h"
#include "tensor/quants.h"
#include "tensor/types.h"
#include "tokenizer/unicode.h"

namespace ondi::fuzz {

struct Shape {
  std::string arch;
  GgmlType type;
  int64_t d, heads, kv_heads, ff, vocab;
  bool tokenizer;
  int64_t head_dim = 0;             // 0: d / heads
  GgmlType narrow = GgmlType::F32;  // for the matrices whose rows are head_dim or ff long, when head_dim is set
};

// Deterministic weights in [-0.5, 0.5).
inline std::vector<float> weights(Rng& rng, int64_t n) {
  std::vector<float> v(static_cast<size_t>(n));
  for (float& x : v) x = static_cast<float>(rng.next_double() - 0.5);
  return v;
}

inline bool add(GgufWriter& w, Rng& rng, const std::string& name, GgmlType t, std::vector<int64_t> ne) {
  int64_t n = 1;
  for (int64_t e : ne) n *= e;
  const std::vector<float> f = weights(rng, n);
  const size_t rb = *row_size(t, ne[0]);
  std::vector<uint8_t> bytes(rb * static_cast<size_t>(n / ne[0]));
  for (int64_t r = 0; r < n / ne[0]; ++r) quantize_row(t, f.data() + r * ne[0], bytes.data() + r * rb, ne[0]);
  return w.add_tensor(name, t, ne, std::move(bytes)).ok();
}

inline std::vector<uint8_t> tiny_model(const Shape& s) {
  GgufWriter w;
  Rng rng(42);
  const std::string a = s.arch + ".";
  const int64_t hd = s.head_dim ? s.head_dim : s.d / s.heads;
  const GgmlType narrow = s.head_dim ? s.narrow : s.type;
  w.set_str("general.architecture", s.arch);
  w.set_u32(a + "embedding_length", static_cast<uint32_t>(s.d));
  w.set_u32(a + "block_count", 1);
  w.set_u32(a + "attention.head_count", static_cast<uint32_t>(s.heads));
  w.set_u32(a + "attention.head_count_kv", static_cast<uint32_t>(s.kv_heads));
  w.set_u32(a + "feed_forward_length", static_cast<uint32_t>(s.ff));
  w.set_u32(a + "context_length", 64);
  w.set_f32(a + "rope.freq_base", 10000.0f);
  if (s.head_dim) {
    w.set_u32(a + "attention.key_length", static_cast<uint32_t>(hd));
    w.set_u32(a + "attention.value_length", static_cast<uint32_t>(hd));
  }
  w.set_f32(a + "attention.layer_norm_rms_epsilon", 1e-5f);
  if (s.tokenizer) {
    std::vector<std::string> tokens;
    std::vector<int32_t> types;
    for (int b = 0; b < 256; ++b) {
      tokens.push_back(tok::byte_to_gpt2(static_cast<uint8_t>(b)));
      types.push_back(1);
    }
    for (const char* t : {"he", "ll", "hell", "Ġw"}) {
      tokens.push_back(t);
      types.push_back(1);
    }
    for (const char* t : {"<|begin_of_text|>", "<|eot_id|>"}) {
      tokens.push_back(t);
      types.push_back(3);
    }
    w.set_str("tokenizer.ggml.model", "gpt2");
    w.set_str("tokenizer.ggml.pre", "llama-bpe");
    w.set_arr_str("tokenizer.ggml.tokens", tokens);
    w.set_arr_i32("tokenizer.ggml.token_type", types);
    w.set_arr_str("tokenizer.ggml.merges", {"h e", "l l", "he ll", "Ġ w"});
    w.set_u32("tokenizer.ggml.bos_token_id", 260);
    w.set_u32("tokenizer.ggml.eos_token_id", 261);
    w.set_bool("tokenizer.ggml.add_bos_token", true);
  } else {
    w.set_str("tokenizer.ggml.model", "none");
    w.set_u32(a + "vocab_size", static_cast<uint32_t>(s.vocab));
  }
  const int64_t q = s.heads * hd, kv = s.kv_heads * hd;
  bool ok = add(w, rng, "token_embd.weight", s.type, {s.d, s.vocab});
  ok = ok && add(w, rng, "output_norm.weight", GgmlType::F32, {s.d});
  ok = ok && add(w, rng, "blk.0.attn_norm.weight", GgmlType::F32, {s.d});
  ok = ok && add(w, rng, "blk.0.attn_q.weight", s.type, {s.d, q});
  ok = ok && add(w, rng, "blk.0.attn_k.weight", s.type, {s.d, kv});
  ok = ok && add(w, rng, "blk.0.attn_v.weight", s.type, {s.d, kv});
  ok = ok && add(w, rng, "blk.0.attn_output.weight", narrow, {q, s.d});
  ok = ok && add(w, rng, "blk.0.ffn_norm.weight", GgmlType::F32, {s.d});
  ok = ok && add(w, rng, "blk.0.ffn_gate.weight", s.type, {s.d, s.ff});
  ok = ok && add(w, rng, "blk.0.ffn_up.weight", s.type, {s.d, s.ff});
  ok = ok && add(w, rng, "blk.0.ffn_down.weight", narrow, {s.ff, s.d});
  if (s.arch == "qwen2") {
    ok = ok && add(w, rng, "blk.0.attn_q.bias", GgmlType::F32, {q});
    ok = ok && add(w, rng, "blk.0.attn_k.bias", GgmlType::F32, {kv});
    ok = ok && add(w, rng, "blk.0.attn_v.bias", GgmlType::F32, {kv});
  }
  if (s.arch == "qwen3") {
    ok = ok && add(w, rng, "blk.0.attn_q_norm.weight", GgmlType::F32, {hd});
    ok = ok && add(w, rng, "blk.0.attn_k_norm.weight", GgmlType::F32, {hd});
  }
  if (!ok) return {};
  return w.to_bytes();
}

// fuzz_session_file's model: one head of 32 (Q8_0 caches need head dims that are a multiple of 32), 16 tokens.
inline Shape session_model_shape() { return {"llama", GgmlType::F32, 32, 1, 1, 32, 16, false}; }
constexpr int32_t kSessionCtx = 8;

}  // namespace ondi::fuzz
