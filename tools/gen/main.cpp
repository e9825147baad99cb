// ondi-gen: writes a GGUF model of any shape and tensor type with seeded random weights, for tests and
// benchmarks. Uses only the public C API.
//
// The weights come from a counter-based PRNG of our own (splitmix64 over (seed, tensor name, index)) turned
// into approximately normal values with integer arithmetic and a single float multiply, so the file bytes are
// the same for the same arguments on every platform and for any thread count.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <numbers>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "hf_tokenizer.h"
#include "ondi/ondi.h"

namespace ondi::gen {
namespace {

struct Config {
  std::string arch = "llama";
  std::string name;
  int64_t dim = 256;
  int64_t layers = 2;
  int64_t heads = 8;
  int64_t kv_heads = 0;  // 0: = heads
  int64_t head_dim = 0;  // 0: dim / heads
  int64_t ffn = 768;
  int64_t vocab = 512;
  int64_t ctx = 4096;
  double rope_base = 10000.0;
  double rms_eps = 1e-5;
  bool tied = true;
  bool rope_freqs = false;
  bool biases = false;  // qwen2: Q/K/V biases (on by default for qwen2)
  std::string type = "F32";
  uint64_t seed = 1;
};

struct Preset {
  const char* name;
  const char* help;
  Config cfg;
};

Config make(const char* arch, int64_t dim, int64_t layers, int64_t heads, int64_t kv_heads, int64_t head_dim,
            int64_t ffn, int64_t vocab, int64_t ctx, double rope_base, double eps, bool tied, bool rope_freqs) {
  Config c;
  c.arch = arch;
  c.dim = dim;
  c.layers = layers;
  c.heads = heads;
  c.kv_heads = kv_heads;
  c.head_dim = head_dim;
  c.ffn = ffn;
  c.vocab = vocab;
  c.ctx = ctx;
  c.rope_base = rope_base;
  c.rms_eps = eps;
  c.tied = tied;
  c.rope_freqs = rope_freqs;
  c.biases = std::string(arch) == "qwen2";
  return c;
}

// Shapes of real models (from their published configs), and small ones for tests that exercise every
// architectural feature: GQA, rope_freqs, tied/untied output, biases, Q/K norms, head_dim != dim / heads.
const std::vector<Preset>& presets() {
  static const std::vector<Preset> p = {
      {"llama3.2-1b", "Llama 3.2 1B shape",
       make("llama", 2048, 16, 32, 8, 0, 8192, 128256, 131072, 500000, 1e-5, true, true)},
      {"qwen2.5-0.5b", "Qwen2.5 0.5B shape",
       make("qwen2", 896, 24, 14, 2, 0, 4864, 151936, 32768, 1e6, 1e-6, true, false)},
      {"qwen3-0.6b", "Qwen3 0.6B shape",
       make("qwen3", 1024, 28, 16, 8, 128, 3072, 151936, 40960, 1e6, 1e-6, true, false)},
      {"tiny-llama", "llama: dim 64, 2 layers, GQA 2:1, rope_freqs, tied",
       make("llama", 64, 2, 4, 2, 0, 192, 512, 4096, 500000, 1e-5, true, true)},
      {"tiny-qwen2", "qwen2: dim 64, 2 layers, GQA 2:1, biases, separate output",
       make("qwen2", 64, 2, 4, 2, 0, 160, 512, 4096, 1e6, 1e-6, false, false)},
      {"tiny-qwen3", "qwen3: dim 64, 2 layers, GQA 2:1, head_dim 32, Q/K norms, separate output",
       make("qwen3", 64, 2, 4, 2, 32, 160, 512, 4096, 1e6, 1e-6, false, false)},
      {"small-llama", "llama: dim 256, 4 layers, 8 heads, 2 KV heads, rope_freqs, tied",
       make("llama", 256, 4, 8, 2, 0, 768, 2048, 4096, 500000, 1e-5, true, true)},
  };
  return p;
}

// ---- deterministic random numbers -------------------------------------------------------------------------

uint64_t splitmix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

uint64_t fnv1a(const std::string& s) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (unsigned char ch : s) h = (h ^ ch) * 0x100000001b3ull;
  return h;
}

// Sum of four 16-bit uniforms minus its mean (Irwin-Hall, n = 4): close enough to normal for weights, and
// computed exactly in integers. Its standard deviation is sqrt(4 * (65536^2 - 1) / 12).
constexpr double kIrwinHallStd = 37837.22690;
int64_t irwin_hall(uint64_t r) {
  return static_cast<int64_t>((r & 0xffff) + ((r >> 16) & 0xffff) + ((r >> 32) & 0xffff) + (r >> 48)) - 131070;
}

// Fills out[0..n) with values of mean `mean` and standard deviation `stddev` for the stream of `name`.
// value = float(s + offset) * step, one rounding per value, with offset = round(mean / step): exact integer
// arithmetic up to the single multiply, hence identical on every platform.
void fill_random(std::vector<float>& out, const std::string& name, uint64_t seed, double mean, double stddev) {
  const uint64_t key = splitmix64(seed ^ splitmix64(fnv1a(name)));
  const double step_d = stddev / kIrwinHallStd;
  const float step = static_cast<float>(step_d);
  const int64_t offset = static_cast<int64_t>(std::llround(mean / static_cast<double>(step)));
  if (std::llabs(offset) + 131070 >= (int64_t{1} << 24))
    throw std::runtime_error("fill_random: mean too large relative to the deviation for " + name);
  const int64_t n = static_cast<int64_t>(out.size());
  auto work = [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i) {
      const int64_t s = irwin_hall(splitmix64(key + static_cast<uint64_t>(i) * 0xd1342543de82ef95ull)) + offset;
      out[static_cast<size_t>(i)] = static_cast<float>(s) * step;
    }
  };
  const unsigned hw = std::max(1u, std::thread::hardware_concurrency());
  const int64_t n_threads = std::min<int64_t>(hw, std::max<int64_t>(1, n / (int64_t{1} << 20)));
  if (n_threads <= 1) {
    work(0, n);
    return;
  }
  std::vector<std::thread> th;
  const int64_t per = (n + n_threads - 1) / n_threads;
  for (int64_t t = 0; t < n_threads; ++t) th.emplace_back(work, t * per, std::min(n, (t + 1) * per));
  for (auto& x : th) x.join();
}

// Llama 3.1 long-context RoPE factors (factor 32, low/high frequency factors 1 and 4, original context 8192):
// the divisor of each rotation frequency. Wavelengths shorter than 8192/4 keep their frequency, longer than
// 8192/1 are divided by 32, and the band between is interpolated.
std::vector<float> llama31_rope_factors(int64_t n_rot, double base) {
  const double factor = 32, low = 1, high = 4, orig_ctx = 8192;
  const double low_wavelen = orig_ctx / low, high_wavelen = orig_ctx / high;
  std::vector<float> f(static_cast<size_t>(n_rot / 2));
  for (int64_t i = 0; i < n_rot / 2; ++i) {
    const double freq = std::pow(base, -2.0 * static_cast<double>(i) / static_cast<double>(n_rot));
    const double wavelen = 2 * std::numbers::pi / freq;
    double d;
    if (wavelen < high_wavelen) {
      d = 1;
    } else if (wavelen > low_wavelen) {
      d = factor;
    } else {
      const double smooth = (orig_ctx / wavelen - low) / (high - low);
      d = 1 / ((1 - smooth) / factor + smooth);
    }
    f[static_cast<size_t>(i)] = static_cast<float>(d);
  }
  return f;
}

// ---- types --------------------------------------------------------------------------------------------------

int64_t block_size(int type) {
  switch (type) {
    case ONDI_TYPE_F32:
    case ONDI_TYPE_F16:
    case ONDI_TYPE_BF16:
      return 1;
    case ONDI_TYPE_Q2_K:
    case ONDI_TYPE_Q3_K:
    case ONDI_TYPE_Q4_K:
    case ONDI_TYPE_Q5_K:
    case ONDI_TYPE_Q6_K:
      return 256;
    default:
      return 32;
  }
}

bool is_quantized(int type) { return type != ONDI_TYPE_F32 && type != ONDI_TYPE_F16 && type != ONDI_TYPE_BF16; }

// general.file_type (llama_ftype) for a file whose matrices are all `type`; single-type k-quant files are the
// "_S" variants.
uint32_t file_type_for(int type) {
  switch (type) {
    case ONDI_TYPE_F32:
      return 0;
    case ONDI_TYPE_F16:
      return 1;
    case ONDI_TYPE_Q4_0:
      return 2;
    case ONDI_TYPE_Q4_1:
      return 3;
    case ONDI_TYPE_Q8_0:
      return 7;
    case ONDI_TYPE_Q5_0:
      return 8;
    case ONDI_TYPE_Q5_1:
      return 9;
    case ONDI_TYPE_Q2_K:
      return 10;
    case ONDI_TYPE_Q3_K:
      return 11;
    case ONDI_TYPE_Q4_K:
      return 14;
    case ONDI_TYPE_Q5_K:
      return 16;
    case ONDI_TYPE_Q6_K:
      return 18;
    case ONDI_TYPE_IQ4_NL:
      return 25;
    case ONDI_TYPE_BF16:
      return 32;
    default:
      return 0;
  }
}

// The type a matrix gets when its rows do not divide into `type`'s blocks: a 32-element type of about the
// same precision for the k-quants, else F16 (which fits any row).
int fallback_type(int type, int64_t row) {
  if (row % block_size(type) == 0) return type;
  int alt = ONDI_TYPE_F16;
  switch (type) {
    case ONDI_TYPE_Q2_K:
    case ONDI_TYPE_Q3_K:
      alt = ONDI_TYPE_IQ4_NL;
      break;
    case ONDI_TYPE_Q4_K:
      alt = ONDI_TYPE_Q5_0;
      break;
    case ONDI_TYPE_Q5_K:
      alt = ONDI_TYPE_Q5_1;
      break;
    case ONDI_TYPE_Q6_K:
      alt = ONDI_TYPE_Q8_0;
      break;
    default:
      break;
  }
  return row % block_size(alt) == 0 ? alt : ONDI_TYPE_F16;
}

// ---- writing ------------------------------------------------------------------------------------------------

void check(ondi_status s, const std::string& what) {
  if (s != ONDI_OK) throw std::runtime_error(what + ": " + ondi_status_name(s) + ": " + ondi_last_error());
}

struct Writer {
  ondi_gguf_writer* w = nullptr;
  Writer() : w(ondi_gguf_writer_create()) {
    if (!w) throw std::runtime_error(std::string("cannot create a GGUF writer: ") + ondi_last_error());
  }
  ~Writer() { ondi_gguf_writer_free(w); }
  Writer(const Writer&) = delete;
  Writer& operator=(const Writer&) = delete;

  void u32(const std::string& k, uint64_t v) {
    if (v > UINT32_MAX) throw std::runtime_error(k + " = " + std::to_string(v) + " does not fit in uint32");
    check(ondi_gguf_writer_set_u32(w, k.c_str(), static_cast<uint32_t>(v)), k);
  }
  void f32(const std::string& k, double v) { check(ondi_gguf_writer_set_f32(w, k.c_str(), static_cast<float>(v)), k); }
  void boolean(const std::string& k, bool v) { check(ondi_gguf_writer_set_bool(w, k.c_str(), v ? 1 : 0), k); }
  void str(const std::string& k, const std::string& v) { check(ondi_gguf_writer_set_str(w, k.c_str(), v.c_str()), k); }
  void arr_i32(const std::string& k, const std::vector<int32_t>& v) {
    check(ondi_gguf_writer_set_arr(w, k.c_str(), ONDI_GGUF_INT32, v.data(), v.size()), k);
  }
  void arr_str(const std::string& k, const std::vector<std::string>& v) {
    std::vector<const char*> p;
    p.reserve(v.size());
    for (const auto& s : v) p.push_back(s.c_str());
    check(ondi_gguf_writer_set_arr_str(w, k.c_str(), p.data(), p.size()), k);
  }
};

struct Stats {
  int64_t n_tensors = 0;
  int64_t n_params = 0;
  std::map<std::string, int64_t> by_type;          // tensor count per type name
  std::map<int, int64_t> matrix_elements_by_type;  // for general.file_type
};

void add_tensor(Writer& wr, Stats& st, const std::string& name, int type, std::vector<int64_t> ne,
                const std::vector<float>& data) {
  check(ondi_gguf_writer_add_tensor_f32(wr.w, name.c_str(), static_cast<ondi_type>(type), static_cast<int>(ne.size()),
                                        ne.data(), data.data()),
        "tensor " + name);
  ++st.n_tensors;
  st.n_params += static_cast<int64_t>(data.size());
  st.by_type[ondi_type_name(type)] += 1;
}

struct Generator {
  const Config& cfg;
  int wtype;
  Writer& wr;
  Stats st;
  std::vector<float> buf;  // reused so that peak memory is one f32 tensor plus what the writer holds

  // A weight matrix: ne = [n_in, n_out], entries N(0, (gain / sqrt(n_in))^2) so that y = W x keeps the scale
  // of x (unit-RMS after each norm): activations stay O(1) through any depth.
  void matrix(const std::string& name, int64_t n_in, int64_t n_out, double gain = 1.0) {
    buf.resize(static_cast<size_t>(n_in * n_out));
    fill_random(buf, name, cfg.seed, 0.0, gain / std::sqrt(static_cast<double>(n_in)));
    const int t = fallback_type(wtype, n_in);
    if (t != wtype)
      std::fprintf(stderr, "ondi-gen: %s: row length %lld is not a multiple of the %s block (%lld): %s instead\n",
                   name.c_str(), static_cast<long long>(n_in), ondi_type_name(wtype),
                   static_cast<long long>(block_size(wtype)), ondi_type_name(t));
    add_tensor(wr, st, name, t, {n_in, n_out}, buf);
    st.matrix_elements_by_type[t] += n_in * n_out;
  }
  // Norm weights, biases: F32 vectors (as converters store them).
  void vector(const std::string& name, int64_t n, double mean, double stddev) {
    buf.resize(static_cast<size_t>(n));
    fill_random(buf, name, cfg.seed, mean, stddev);
    add_tensor(wr, st, name, ONDI_TYPE_F32, {n}, buf);
  }
};

int run(const Config& cfg, const std::string& out, const std::string& tokenizer_path, const std::string& tokenizer_cfg,
        std::string pre, std::optional<int64_t> bos, std::optional<int64_t> eos, std::optional<bool> add_bos,
        bool vocab_given) {
  const auto t0 = std::chrono::steady_clock::now();
  const std::string& a = cfg.arch;
  if (a != "llama" && a != "qwen2" && a != "qwen3") throw std::runtime_error("--arch must be llama, qwen2 or qwen3");
  const int wtype = ondi_type_from_name(cfg.type.c_str());
  if (wtype < 0) throw std::runtime_error("unknown --type " + cfg.type);
  const int64_t kv_heads = cfg.kv_heads > 0 ? cfg.kv_heads : cfg.heads;
  if (cfg.dim <= 0 || cfg.layers <= 0 || cfg.heads <= 0 || cfg.ffn <= 0 || cfg.ctx <= 0)
    throw std::runtime_error("--dim, --layers, --heads, --ffn and --ctx must be positive");
  if (cfg.heads % kv_heads) throw std::runtime_error("--heads must be a multiple of --kv-heads");
  if (cfg.head_dim == 0 && cfg.dim % cfg.heads)
    throw std::runtime_error("--dim must be a multiple of --heads (or give --head-dim)");
  const int64_t head_dim = cfg.head_dim > 0 ? cfg.head_dim : cfg.dim / cfg.heads;
  if (head_dim % 2) throw std::runtime_error("head_dim must be even (RoPE rotates pairs)");
  if (!(cfg.rope_base > 0) || !(cfg.rms_eps > 0))
    throw std::runtime_error("--rope-base and --rms-eps must be positive");

  std::optional<HfTokenizer> tok;
  int64_t vocab = cfg.vocab;
  if (!tokenizer_path.empty()) {
    tok = load_hf_tokenizer(tokenizer_path, tokenizer_cfg);
    const auto n = static_cast<int64_t>(tok->tokens.size());
    if (vocab_given && vocab != n)
      std::fprintf(stderr, "ondi-gen: --vocab %lld ignored: the tokenizer has %lld tokens\n",
                   static_cast<long long>(vocab), static_cast<long long>(n));
    vocab = n;
  }
  if (vocab <= 0) throw std::runtime_error("--vocab must be positive");

  Writer wr;
  const std::string name = cfg.name.empty() ? "ondi-gen-" + a + "-d" + std::to_string(cfg.dim) : cfg.name;
  // Keys and order as in converted GGUF files.
  wr.str("general.architecture", a);
  wr.str("general.name", name);
  wr.u32(a + ".context_length", static_cast<uint64_t>(cfg.ctx));
  wr.u32(a + ".embedding_length", static_cast<uint64_t>(cfg.dim));
  wr.u32(a + ".block_count", static_cast<uint64_t>(cfg.layers));
  wr.u32(a + ".feed_forward_length", static_cast<uint64_t>(cfg.ffn));
  wr.u32(a + ".attention.head_count", static_cast<uint64_t>(cfg.heads));
  wr.u32(a + ".attention.head_count_kv", static_cast<uint64_t>(kv_heads));
  wr.f32(a + ".rope.freq_base", cfg.rope_base);
  wr.f32(a + ".attention.layer_norm_rms_epsilon", cfg.rms_eps);
  wr.u32(a + ".rope.dimension_count", static_cast<uint64_t>(head_dim));
  // Qwen3 converters always write the head size; elsewhere it is needed only when it is not dim / heads.
  if (a == "qwen3" || head_dim * cfg.heads != cfg.dim) {
    wr.u32(a + ".attention.key_length", static_cast<uint64_t>(head_dim));
    wr.u32(a + ".attention.value_length", static_cast<uint64_t>(head_dim));
  }
  wr.u32("general.file_type", file_type_for(wtype));  // placeholder that keeps the key's usual place
  if (tok) {
    if (pre.empty()) pre = a == "llama" ? "llama-bpe" : "qwen2";
    wr.str("tokenizer.ggml.model", "gpt2");
    wr.str("tokenizer.ggml.pre", pre);
    wr.arr_str("tokenizer.ggml.tokens", tok->tokens);
    wr.arr_i32("tokenizer.ggml.token_type", tok->token_types);
    wr.arr_str("tokenizer.ggml.merges", tok->merges);
    const std::optional<int64_t> b = bos ? bos : (tok->bos_id ? std::optional<int64_t>(*tok->bos_id) : std::nullopt);
    const std::optional<int64_t> e = eos ? eos : (tok->eos_id ? std::optional<int64_t>(*tok->eos_id) : std::nullopt);
    for (auto [key, id] : {std::pair{"tokenizer.ggml.bos_token_id", b}, std::pair{"tokenizer.ggml.eos_token_id", e}}) {
      if (!id) continue;
      if (*id < 0 || *id >= vocab)
        throw std::runtime_error(std::string(key) + " " + std::to_string(*id) + " out of range");
      wr.u32(key, static_cast<uint64_t>(*id));
    }
    // Llama 3 prepends BOS; Qwen does not.
    const bool add = add_bos ? *add_bos : tok->add_bos ? *tok->add_bos : (b.has_value() && pre == "llama-bpe");
    wr.boolean("tokenizer.ggml.add_bos_token", add);
    if (!tok->chat_template.empty()) wr.str("tokenizer.chat_template", tok->chat_template);
  } else {
    wr.str("tokenizer.ggml.model", "none");
  }
  wr.u32(a + ".vocab_size", static_cast<uint64_t>(vocab));

  Generator g{cfg, wtype, wr, {}, {}};
  // Embeddings (and the output matrix) scaled so that the logits have a standard deviation of about 3:
  // distinct tokens get clearly different, but not one-hot, distributions.
  const double embd_std = 3.0 / std::sqrt(static_cast<double>(cfg.dim));
  {
    g.buf.resize(static_cast<size_t>(cfg.dim * vocab));
    fill_random(g.buf, "token_embd.weight", cfg.seed, 0.0, embd_std);
    const int t = fallback_type(wtype, cfg.dim);
    add_tensor(wr, g.st, "token_embd.weight", t, {cfg.dim, vocab}, g.buf);
    g.st.matrix_elements_by_type[t] += cfg.dim * vocab;
  }
  if (cfg.rope_freqs)
    add_tensor(wr, g.st, "rope_freqs.weight", ONDI_TYPE_F32, {head_dim / 2},
               llama31_rope_factors(head_dim, cfg.rope_base));
  const bool biases = cfg.biases;
  const int64_t q_dim = cfg.heads * head_dim, kv_dim = kv_heads * head_dim;
  for (int64_t il = 0; il < cfg.layers; ++il) {
    const std::string p = "blk." + std::to_string(il) + ".";
    g.vector(p + "attn_norm.weight", cfg.dim, 1.0, 0.1);
    g.matrix(p + "attn_q.weight", cfg.dim, q_dim);
    if (biases) g.vector(p + "attn_q.bias", q_dim, 0.0, 0.3);
    g.matrix(p + "attn_k.weight", cfg.dim, kv_dim);
    if (biases) g.vector(p + "attn_k.bias", kv_dim, 0.0, 0.3);
    g.matrix(p + "attn_v.weight", cfg.dim, kv_dim);
    if (biases) g.vector(p + "attn_v.bias", kv_dim, 0.0, 0.3);
    if (a == "qwen3") {
      g.vector(p + "attn_q_norm.weight", head_dim, 1.0, 0.1);
      g.vector(p + "attn_k_norm.weight", head_dim, 1.0, 0.1);
    }
    g.matrix(p + "attn_output.weight", q_dim, cfg.dim);
    g.vector(p + "ffn_norm.weight", cfg.dim, 1.0, 0.1);
    g.matrix(p + "ffn_gate.weight", cfg.dim, cfg.ffn);
    g.matrix(p + "ffn_up.weight", cfg.dim, cfg.ffn);
    g.matrix(p + "ffn_down.weight", cfg.ffn, cfg.dim);
  }
  g.vector("output_norm.weight", cfg.dim, 1.0, 0.1);
  if (!cfg.tied) g.matrix("output.weight", cfg.dim, vocab, 3.0);
  g.buf = {};
  bool any_quantized = false;
  for (const auto& [tname, n] : g.st.by_type) any_quantized |= is_quantized(ondi_type_from_name(tname.c_str()));
  if (any_quantized) wr.u32("general.quantization_version", 2);
  // The file type names the type holding most of the weights, which differs from --type when fallbacks won.
  const auto majority = std::max_element(g.st.matrix_elements_by_type.begin(), g.st.matrix_elements_by_type.end(),
                                         [](const auto& x, const auto& y) { return x.second < y.second; });
  wr.u32("general.file_type", file_type_for(majority->first));

  check(ondi_gguf_writer_write(wr.w, out.c_str()), "writing " + out);
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::string types;
  for (const auto& [tname, n] : g.st.by_type) types += (types.empty() ? "" : ", ") + tname + " x" + std::to_string(n);
  std::printf("ondi-gen: wrote %s: %s, %lld tensors (%s), %.2fM parameters, vocab %lld, %.1f s\n", out.c_str(),
              a.c_str(), static_cast<long long>(g.st.n_tensors), types.c_str(),
              static_cast<double>(g.st.n_params) * 1e-6, static_cast<long long>(vocab), secs);
  return 0;
}

}  // namespace
}  // namespace ondi::gen

int main(int argc, char** argv) {
  using ondi::gen::Config;
  CLI::App app{"ondi-gen: write a GGUF model with seeded random weights"};
  Config u;  // what the command line says; merged over the preset below
  std::string preset, out, tokenizer, tokenizer_cfg, pre;
  int64_t bos = -1, eos = -1;
  bool add_bos = false, list_presets = false;

  std::string presets_help = "start from a preset (explicit options override it):";
  for (const auto& p : ondi::gen::presets()) presets_help += std::string(" ") + p.name;
  app.add_option("--preset", preset, presets_help);
  app.add_flag("--list-presets", list_presets, "list the presets and exit");
  auto* o_arch =
      app.add_option("--arch", u.arch, "llama | qwen2 | qwen3")->check(CLI::IsMember({"llama", "qwen2", "qwen3"}));
  auto* o_name = app.add_option("--name", u.name, "general.name");
  auto* o_dim = app.add_option("--dim", u.dim, "embedding_length");
  auto* o_layers = app.add_option("--layers", u.layers, "block_count");
  auto* o_heads = app.add_option("--heads", u.heads, "attention.head_count");
  auto* o_kv = app.add_option("--kv-heads", u.kv_heads, "attention.head_count_kv (default: --heads)");
  auto* o_hd = app.add_option("--head-dim", u.head_dim, "per-head size (default: dim / heads)");
  auto* o_ffn = app.add_option("--ffn", u.ffn, "feed_forward_length");
  auto* o_vocab = app.add_option("--vocab", u.vocab, "vocabulary size (ignored with --tokenizer)");
  auto* o_ctx = app.add_option("--ctx", u.ctx, "context_length");
  auto* o_base = app.add_option("--rope-base", u.rope_base, "rope.freq_base");
  auto* o_eps = app.add_option("--rms-eps", u.rms_eps, "attention.layer_norm_rms_epsilon");
  auto* o_tied = app.add_flag("--tied,!--no-tied", u.tied, "output tied to token_embd (no output.weight)");
  auto* o_rf = app.add_flag("--rope-freqs,!--no-rope-freqs", u.rope_freqs, "write a Llama 3.1 rope_freqs.weight");
  auto* o_bias = app.add_flag("--biases,!--no-biases", u.biases, "Q/K/V biases (default: on for qwen2)");
  auto* o_type = app.add_option(
      "--type", u.type,
      "type of the weight matrices: F32 F16 BF16 Q8_0 Q4_0 Q4_1 Q5_0 Q5_1 Q2_K Q3_K Q4_K Q5_K Q6_K IQ4_NL");
  auto* o_seed = app.add_option("--seed", u.seed, "PRNG seed");
  app.add_option("--tokenizer", tokenizer, "Hugging Face tokenizer.json of a byte-level BPE model")
      ->check(CLI::ExistingFile);
  app.add_option("--tokenizer-config", tokenizer_cfg, "tokenizer_config.json (bos/eos/add_bos/chat_template)")
      ->check(CLI::ExistingFile);
  app.add_option("--pre", pre, "tokenizer.ggml.pre (default: llama-bpe for llama, qwen2 otherwise)");
  auto* o_bos = app.add_option("--bos-id", bos, "tokenizer.ggml.bos_token_id");
  auto* o_eos = app.add_option("--eos-id", eos, "tokenizer.ggml.eos_token_id");
  auto* o_addbos = app.add_flag("--add-bos,!--no-add-bos", add_bos, "tokenizer.ggml.add_bos_token");
  app.add_option("-o,--output", out, "output .gguf");
  CLI11_PARSE(app, argc, argv);

  if (list_presets) {
    for (const auto& p : ondi::gen::presets()) std::printf("%-14s %s\n", p.name, p.help);
    return 0;
  }
  if (out.empty()) {
    std::fprintf(stderr, "ondi-gen: -o OUT.gguf is required\n");
    return 2;
  }

  Config c;
  if (!preset.empty()) {
    const auto& ps = ondi::gen::presets();
    auto it = std::find_if(ps.begin(), ps.end(), [&](const auto& p) { return preset == p.name; });
    if (it == ps.end()) {
      std::fprintf(stderr, "ondi-gen: unknown preset %s (--list-presets)\n", preset.c_str());
      return 2;
    }
    c = it->cfg;
  }
  if (o_arch->count()) {
    c.arch = u.arch;
    if (!o_bias->count()) c.biases = u.arch == "qwen2";
  }
  if (o_name->count()) c.name = u.name;
  if (o_dim->count()) c.dim = u.dim;
  if (o_layers->count()) c.layers = u.layers;
  if (o_heads->count()) c.heads = u.heads;
  if (o_kv->count()) c.kv_heads = u.kv_heads;
  if (o_hd->count()) c.head_dim = u.head_dim;
  if (o_ffn->count()) c.ffn = u.ffn;
  if (o_vocab->count()) c.vocab = u.vocab;
  if (o_ctx->count()) c.ctx = u.ctx;
  if (o_base->count()) c.rope_base = u.rope_base;
  if (o_eps->count()) c.rms_eps = u.rms_eps;
  if (o_tied->count()) c.tied = u.tied;
  if (o_rf->count()) c.rope_freqs = u.rope_freqs;
  if (o_bias->count()) c.biases = u.biases;
  if (o_type->count()) c.type = u.type;
  if (o_seed->count()) c.seed = u.seed;

  try {
    return ondi::gen::run(c, out, tokenizer, tokenizer_cfg, pre,
                          o_bos->count() ? std::optional<int64_t>(bos) : std::nullopt,
                          o_eos->count() ? std::optional<int64_t>(eos) : std::nullopt,
                          o_addbos->count() ? std::optional<bool>(add_bos) : std::nullopt, o_vocab->count() > 0);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "ondi-gen: %s\n", e.what());
    return 1;
  }
}
