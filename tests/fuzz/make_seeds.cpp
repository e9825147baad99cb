// Writes the seed corpora of the fuzz targets into OUT_DIR/<target>/ (made at test time, never committed):
//  gguf_model: tiny valid models (every weight type; llama, qwen2, qwen3; one with a byte-level BPE vocabulary)
//              written with GgufWriter, and truncated and byte-mutated copies of the small golden GGUF files;
//  tokenizer:  multilingual.txt and the project's docs under every flags byte, special tokens, broken UTF-8;
//  sampler:    a few deterministic pseudo-random inputs.
// Usage: ondi_fuzz_seeds OUT_DIR GOLDEN_DIR SOURCE_DIR
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "gguf/gguf.h"
#include "runtime/sampler.h"
#include "tensor/quants.h"
#include "tensor/types.h"
#include "tokenizer/unicode.h"

namespace fs = std::filesystem;
using namespace ondi;

namespace {

int g_count = 0;

void write(const fs::path& p, const std::vector<uint8_t>& bytes) {
  std::ofstream(p, std::ios::binary)
      .write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  ++g_count;
}
void write(const fs::path& p, const std::string& s) { write(p, std::vector<uint8_t>(s.begin(), s.end())); }

std::vector<uint8_t> read(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), {});
}

struct Shape {
  std::string arch;
  GgmlType type;
  int64_t d, heads, kv_heads, ff, vocab;
  bool tokenizer;
  int64_t head_dim = 0;             // 0: d / heads
  GgmlType narrow = GgmlType::F32;  // for the matrices whose rows are head_dim or ff long, when head_dim is set
};

// Deterministic weights in [-0.5, 0.5).
std::vector<float> weights(Rng& rng, int64_t n) {
  std::vector<float> v(static_cast<size_t>(n));
  for (float& x : v) x = static_cast<float>(rng.next_double() - 0.5);
  return v;
}

bool add(GgufWriter& w, Rng& rng, const std::string& name, GgmlType t, std::vector<int64_t> ne) {
  int64_t n = 1;
  for (int64_t e : ne) n *= e;
  const std::vector<float> f = weights(rng, n);
  const size_t rb = *row_size(t, ne[0]);
  std::vector<uint8_t> bytes(rb * static_cast<size_t>(n / ne[0]));
  for (int64_t r = 0; r < n / ne[0]; ++r) quantize_row(t, f.data() + r * ne[0], bytes.data() + r * rb, ne[0]);
  return w.add_tensor(name, t, ne, std::move(bytes)).ok();
}

std::vector<uint8_t> tiny_model(const Shape& s) {
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

void gguf_seeds(const fs::path& out, const fs::path& golden) {
  const GgmlType simple[] = {GgmlType::F32,  GgmlType::F16,  GgmlType::BF16, GgmlType::Q8_0,  GgmlType::Q4_0,
                             GgmlType::Q4_1, GgmlType::Q5_0, GgmlType::Q5_1, GgmlType::IQ4_NL};
  const GgmlType kquants[] = {GgmlType::Q2_K, GgmlType::Q3_K, GgmlType::Q4_K, GgmlType::Q5_K, GgmlType::Q6_K};
  std::vector<Shape> shapes;
  for (GgmlType t : simple) shapes.push_back({"llama", t, 32, 2, 1, 32, 16, false});
  // k-quant rows are 256 long: only the matrices whose rows are n_embd use the type, the others stay Q8_0.
  for (GgmlType t : kquants) shapes.push_back({"llama", t, 256, 1, 1, 32, 4, false, 32, GgmlType::Q8_0});
  shapes.push_back({"llama", GgmlType::F32, 32, 2, 2, 32, 262, true});
  shapes.push_back({"qwen2", GgmlType::Q8_0, 32, 2, 1, 32, 16, false});
  shapes.push_back({"qwen3", GgmlType::F16, 32, 2, 1, 32, 16, false});
  for (const Shape& s : shapes) {
    const std::vector<uint8_t> bytes = tiny_model(s);
    if (bytes.empty()) {
      std::fprintf(stderr, "ondi_fuzz_seeds: cannot build the %s %s model\n", s.arch.c_str(),
                   std::string(type_name(s.type)).c_str());
      std::exit(1);
    }
    const std::string base = "tiny-" + s.arch + "-" + std::string(type_name(s.type)) + (s.tokenizer ? "-tok" : "");
    write(out / (base + ".gguf"), bytes);
  }

  // The golden files' headers (their tensor data would make every run slow; the tiny models cover the data):
  // cut inside the header, at the data section and inside it, and with a few header bytes changed (counts,
  // lengths, types, offsets become nonsense the reader must refuse).
  for (const auto& e : fs::directory_iterator(golden)) {
    if (e.path().extension() != ".gguf" || e.file_size() > 8000000) continue;
    const std::vector<uint8_t> g = read(e.path());
    const std::string base = e.path().stem().string();
    auto f = GgufFile::from_memory(g.data(), g.size(), base);
    if (!f.ok()) continue;
    const size_t hdr = static_cast<size_t>((*f)->data_offset());
    for (size_t cut : {size_t{24}, hdr / 3, hdr / 2, hdr - 1, hdr, hdr + 4096})
      if (cut < g.size())
        write(out / (base + ".cut" + std::to_string(cut)), std::vector<uint8_t>(g.begin(), g.begin() + cut));
    Rng rng(std::hash<std::string>{}(base));
    for (int m = 0; m < 8; ++m) {
      std::vector<uint8_t> v(g.begin(), g.begin() + std::min(g.size(), hdr + 8192));
      for (int k = 0; k < 1 + m % 3; ++k)
        v[8 + rng.next_u64() % (hdr - 8)] ^= static_cast<uint8_t>(1 + rng.next_u64() % 255);
      write(out / (base + ".mut" + std::to_string(m)), v);
    }
  }
}

void tokenizer_seeds(const fs::path& out, const fs::path& golden, const fs::path& src) {
  std::vector<std::string> texts;
  const std::vector<uint8_t> ml = read(golden / "multilingual.txt");
  texts.emplace_back(ml.begin(), ml.end());
  for (const char* doc : {"README.md", "docs/SECURITY.md", "tests/data/tiny-bpe-tokenizer_config.json"}) {
    const std::vector<uint8_t> d = read(src / doc);
    for (size_t i = 0; i < d.size(); i += 2048)
      texts.emplace_back(d.begin() + i, d.begin() + std::min(d.size(), i + 2048));
  }
  texts.push_back("<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>");
  texts.push_back("<|im_start|>system\nYou are<|im_end|>\n<|im_start|>user\n<think></think><|endoftext|>");
  texts.push_back("\xC0\xAF \xED\xA0\x80 \xF4\x90\x80\x80 \xE2\x82 \xF0\x9F\x98 \xFF\xFE caf\xC3\xA9 \xF0\x9F\x98\x80");
  texts.push_back("   \t\t\n\n\r\n 123456789 ''' 's 't 're 've 'm 'll 'd ");
  for (size_t i = 0; i < texts.size(); ++i)
    for (int flags : {0, 1, 2, 3, 6, 7, 9, 15})
      write(out / ("t" + std::to_string(i) + "-" + std::to_string(flags)),
            std::string(1, static_cast<char>(flags)) + texts[i]);
}

void sampler_seeds(const fs::path& out) {
  Rng rng(7);
  for (int i = 0; i < 16; ++i) {
    std::vector<uint8_t> v(64 + static_cast<size_t>(i) * 97);
    for (uint8_t& b : v) b = static_cast<uint8_t>(rng.next_u64());
    write(out / ("s" + std::to_string(i)), v);
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: %s OUT_DIR GOLDEN_DIR SOURCE_DIR\n", argv[0]);
    return 2;
  }
  const fs::path out = argv[1], golden = argv[2], src = argv[3];
  for (const char* t : {"gguf_model", "tokenizer", "sampler"}) fs::create_directories(out / t);
  gguf_seeds(out / "gguf_model", golden);
  tokenizer_seeds(out / "tokenizer", golden, src);
  sampler_seeds(out / "sampler");
  std::printf("ondi_fuzz_seeds: %d seeds in %s\n", g_count, out.c_str());
  return 0;
}
