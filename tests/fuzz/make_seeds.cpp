// Writes the seed corpora of the fuzz targets into OUT_DIR/<target>/ (made at test time, never committed):
//  gguf_model: tiny valid models (every weight type; llama, qwen2, qwen3; one with a byte-level BPE vocabulary)
//              written with GgufWriter, and truncated and byte-mutated copies of the small golden GGUF files;
//  tokenizer:  multilingual.txt and the project's docs under every flags byte, special tokens, broken UTF-8;
//  sampler:    a few deterministic pseudo-random inputs;
//  chat_template: the real templates of tests/chat/templates, alone and with JSON messages after a NUL byte;
//  server_request: a kind byte ('c' chat, 'p' completions) + valid and nearly valid request bodies;
//  session_file: sessions saved from fuzz_session_file's model (F16 and Q8_0 caches) and truncations of them.
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
#include "model/model.h"
#include "runtime/context.h"
#include "runtime/sampler.h"
#include "runtime/session_file.h"
#include "tensor/quants.h"
#include "tensor/types.h"
#include "tiny_model.h"
#include "tokenizer/unicode.h"

namespace fs = std::filesystem;
using namespace ondi;
using namespace ondi::fuzz;

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

void chat_template_seeds(const fs::path& out, const fs::path& src) {
  const std::string msgs[] = {
      R"([{"role":"system","content":"Be brief."},{"role":"user","content":"Hi"},{"role":"assistant","content":"Hello"},{"role":"user","content":"2+2?"}])",
      R"([{"role":"user","content":[{"type":"text","text":"look"}]},{"role":"assistant","content":null,"tool_calls":[{"id":"c1","type":"function","function":{"name":"add","arguments":{"a":1,"b":2}}}]},{"role":"tool","tool_call_id":"c1","content":"3"}])",
      R"([{"role":"assistant","content":"<think>x</think>y"},{"role":"user","content":"\u00e9\ud83d\ude00"}])"};
  int i = 0;
  for (const auto& e : fs::directory_iterator(src / "tests/chat/templates")) {
    if (e.path().extension() != ".jinja") continue;
    const std::vector<uint8_t> t = read(e.path());
    const std::string tmpl(t.begin(), t.end()), base = e.path().stem().string();
    write(out / base, tmpl);
    write(out / (base + ".m" + std::to_string(i % 3)), tmpl + std::string(1, '\0') + msgs[i % 3]);
    ++i;
  }
  write(out / "loops",
        std::string("{% for m in messages %}{{ loop.index }}{{ m.role | upper }}{% endfor %}") +
            "{% set ns = namespace(x=0) %}{% for i in range(10) %}{% set ns.x = ns.x + i %}{% endfor %}" +
            "{{ ns.x }}{{ tools | tojson }}{% if add_generation_prompt %}<gen>{% endif %}");
}

void server_request_seeds(const fs::path& out) {
  const char* bodies[] = {
      R"(c{"model":"m","messages":[{"role":"user","content":"Hello"}]})",
      R"(c{"messages":[{"role":"system","content":"Be brief."},{"role":"user","content":[{"type":"text","text":"Hi"}]},{"role":"assistant","content":"Hey"},{"role":"developer","content":"x"}],"stream":true,"stream_options":{"include_usage":true},"temperature":0.7,"top_p":0.9,"top_k":40,"min_p":0.05,"seed":42,"max_completion_tokens":16,"stop":["\n","END"],"logprobs":true,"top_logprobs":3,"logit_bias":{"15":-100,"7":2.5},"frequency_penalty":0.5,"presence_penalty":-0.5,"repeat_penalty":1.1,"n":1})",
      R"(c{"messages":[{"role":"tool","content":"3"}],"max_tokens":1000000,"temperature":3})",
      R"(p{"model":"m","prompt":"Once upon a time","max_tokens":8,"stop":"\n","logprobs":2,"seed":-1})",
      R"(p{"prompt":[[1,2,3,4]],"max_tokens":4,"ignore_eos":true,"logit_bias":{"-1":1}})",
      R"(p{"prompt":["text"],"stream":true,"temperature":0,"top_p":0})",
      R"(p{"prompt":[1,2,128255,128256],"seed":1.5})",
  };
  int i = 0;
  for (const char* b : bodies) write(out / ("r" + std::to_string(i++)), std::string(b));
}

void session_file_seeds(const fs::path& out) {
  const std::vector<uint8_t> bytes = tiny_model(session_model_shape());
  auto file = GgufFile::from_memory(bytes.data(), bytes.size(), "session-model.gguf");
  if (!file.ok()) return;
  auto model = Model::load(std::move(file).value());
  if (!model.ok()) {
    std::fprintf(stderr, "ondi_fuzz_seeds: session model: %s\n", model.status().message().c_str());
    std::exit(1);
  }
  for (GgmlType kv : {GgmlType::F16, GgmlType::Q8_0}) {
    ContextParams cp;
    cp.n_ctx = kSessionCtx;
    cp.n_batch = kSessionCtx;
    cp.n_threads = 1;
    cp.kv_type = kv;
    auto ctx = Context::create(**model, cp);
    if (!ctx.ok()) continue;
    for (int n : {0, 1, 3}) {
      (*ctx)->seq_truncate(0, 0);
      SessionState st;
      Batch b;
      for (int t = 0; t < n; ++t) {
        st.tokens.push_back(1 + 5 * t);
        b.add(1 + 5 * t, t, 0, t == n - 1);
      }
      if (n > 0) {
        if (!(*ctx)->decode(b).ok()) continue;
        const float* l = (*ctx)->logits(static_cast<size_t>(n - 1));
        if (n != 1) st.last_logits.assign(l, l + (*ctx)->n_vocab());
      }
      const std::string base = std::string(type_name(kv)) + "-n" + std::to_string(n);
      const fs::path p = out / base;
      if (!save_session(**ctx, 0, st, p.string()).ok()) continue;
      ++g_count;
      const std::vector<uint8_t> whole = read(p);
      for (size_t cut : {size_t{8}, size_t{47}, size_t{56}, whole.size() / 2, whole.size() - 1})
        if (cut < whole.size())
          write(out / (base + ".cut" + std::to_string(cut)), std::vector<uint8_t>(whole.begin(), whole.begin() + cut));
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: %s OUT_DIR GOLDEN_DIR SOURCE_DIR\n", argv[0]);
    return 2;
  }
  const fs::path out = argv[1], golden = argv[2], src = argv[3];
  for (const char* t : {"gguf_model", "tokenizer", "sampler", "chat_template", "server_request", "session_file"})
    fs::create_directories(out / t);
  gguf_seeds(out / "gguf_model", golden);
  tokenizer_seeds(out / "tokenizer", golden, src);
  sampler_seeds(out / "sampler");
  chat_template_seeds(out / "chat_template", src);
  server_request_seeds(out / "server_request");
  session_file_seeds(out / "session_file");
  std::printf("ondi_fuzz_seeds: %d seeds in %s\n", g_count, out.c_str());
  return 0;
}
