// The `ondi` command-line tool. It uses only the public C API (include/ondi/ondi.h).
#include <CLI/CLI.hpp>
#include <cinttypes>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "ondi/ondi.h"

namespace {

struct Common {
  int threads = 0;
  int ctx = 4096;
  int batch = 512;
};

struct Sampling {
  float temp = 0.8f;
  int top_k = 40;
  float top_p = 0.95f;
  float min_p = 0.05f;
  float repeat_penalty = 1.0f;
  int repeat_last_n = 64;
  float frequency_penalty = 0.0f;
  float presence_penalty = 0.0f;
  uint64_t seed = 0;
  std::vector<std::string> logit_bias;  // "ID:BIAS" or "ID:-inf"
};

void add_common(CLI::App* app, Common& c) {
  app->add_option("-t,--threads", c.threads, "Threads (0: one per hardware thread)")->check(CLI::Range(0, 1024));
  app->add_option("-c,--ctx", c.ctx, "Context size in tokens")->check(CLI::Range(1, 1 << 24));
  app->add_option("--batch", c.batch, "Prefill chunk size (tokens per forward pass)")->check(CLI::Range(1, 65536));
}

void add_sampling(CLI::App* app, Sampling& s) {
  app->add_option("--temp", s.temp, "Temperature (0: greedy)")->capture_default_str();
  app->add_option("--top-k", s.top_k, "Top-k (0: off)")->capture_default_str();
  app->add_option("--top-p", s.top_p, "Top-p (1: off)")->capture_default_str()->check(CLI::Range(0.0f, 1.0f));
  app->add_option("--min-p", s.min_p, "Min-p (0: off)")->capture_default_str()->check(CLI::Range(0.0f, 1.0f));
  app->add_option("--repeat-penalty", s.repeat_penalty, "Repetition penalty (1: off)")->capture_default_str();
  app->add_option("--repeat-last-n", s.repeat_last_n, "Tokens the penalties look back (-1: all)")
      ->capture_default_str();
  app->add_option("--frequency-penalty", s.frequency_penalty, "Frequency penalty")->capture_default_str();
  app->add_option("--presence-penalty", s.presence_penalty, "Presence penalty")->capture_default_str();
  app->add_option("--seed", s.seed, "Sampling seed")->capture_default_str();
  app->add_option("--logit-bias", s.logit_bias, "ID:BIAS added to a token's logit (repeatable; -inf bans)");
}

[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "ondi: %s\n", what.c_str());
  std::exit(1);
}

void check(ondi_status st, const char* what) {
  if (st != ONDI_OK) die(std::string(what) + ": " + ondi_last_error());
}

struct ModelHandle {
  ondi_model* m = nullptr;
  explicit ModelHandle(const std::string& path) { check(ondi_model_load(path.c_str(), nullptr, &m), "loading model"); }
  ~ModelHandle() { ondi_model_free(m); }
};

struct SessionHandle {
  ondi_session* s = nullptr;
  SessionHandle(const ondi_model* m, const Common& c) {
    ondi_session_params p = ondi_session_params_default();
    p.n_ctx = c.ctx;
    p.n_batch = c.batch;
    p.n_threads = c.threads;
    check(ondi_session_create(m, &p, &s), "creating session");
  }
  ~SessionHandle() { ondi_session_free(s); }
};

std::vector<int32_t> tokenize(const ondi_model* m, const std::string& text, bool add_special) {
  size_t n = text.size() + 16;
  std::vector<int32_t> ids(n);
  ondi_status st = ondi_tokenize(m, text.data(), text.size(), add_special, 1, ids.data(), &n);
  if (st == ONDI_ERR_BUFFER_TOO_SMALL) {
    ids.resize(n);
    st = ondi_tokenize(m, text.data(), text.size(), add_special, 1, ids.data(), &n);
  }
  check(st, "tokenizing");
  ids.resize(n);
  return ids;
}

// The ids the model puts before any text (BOS for models that ask for it), or none without a tokenizer.
std::vector<int32_t> prefix_ids(const ondi_model* m) {
  ondi_model_info info{};
  info.struct_size = sizeof(info);
  check(ondi_model_get_info(m, &info), "model info");
  if (!info.has_tokenizer) return {};
  return tokenize(m, "", true);
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) die("cannot read '" + path + "'");
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::vector<int32_t> parse_ids(const std::string& s) {
  std::vector<int32_t> ids;
  std::string tok;
  std::istringstream in(s);
  while (in >> tok) {
    if (tok.rfind("ids:", 0) == 0) tok = tok.substr(4);  // accept the golden files' "ids:" prefix
    if (tok.empty()) continue;
    char* end = nullptr;
    errno = 0;
    const long v = std::strtol(tok.c_str(), &end, 10);
    if (errno || *end || v < 0 || v > INT32_MAX) die("--ids: '" + tok + "' is not a token id");
    ids.push_back(static_cast<int32_t>(v));
  }
  return ids;
}

ondi_session* g_session = nullptr;
void on_sigint(int) {
  if (g_session) ondi_session_cancel(g_session);
}

int cmd_run(const std::string& model_path, const std::string& prompt, const Common& c, const Sampling& s,
            int max_tokens, const std::vector<std::string>& stops, bool ignore_eos, bool verbose) {
  ModelHandle model(model_path);
  SessionHandle session(model.m, c);
  std::vector<int32_t> ids = tokenize(model.m, prompt, true);
  ondi_sampler_params sp = ondi_sampler_params_default();
  sp.temperature = s.temp;
  sp.top_k = s.top_k;
  sp.top_p = s.top_p;
  sp.min_p = s.min_p;
  sp.repeat_penalty = s.repeat_penalty;
  sp.penalty_last_n = s.repeat_last_n;
  sp.frequency_penalty = s.frequency_penalty;
  sp.presence_penalty = s.presence_penalty;
  sp.seed = s.seed;
  std::vector<int32_t> bias_ids;
  std::vector<float> bias_vals;
  for (const auto& b : s.logit_bias) {
    const size_t colon = b.find(':');
    if (colon == std::string::npos) die("--logit-bias: expected ID:BIAS, got '" + b + "'");
    try {
      bias_ids.push_back(std::stoi(b.substr(0, colon)));
      const std::string v = b.substr(colon + 1);
      bias_vals.push_back(v == "-inf" ? -INFINITY : std::stof(v));
    } catch (...) {
      die("--logit-bias: expected ID:BIAS, got '" + b + "'");
    }
  }
  sp.logit_bias_ids = bias_ids.data();
  sp.logit_bias_values = bias_vals.data();
  sp.n_logit_bias = bias_ids.size();
  std::vector<const char*> stop_ptrs;
  for (const auto& st : stops) stop_ptrs.push_back(st.c_str());
  ondi_generate_params gp = ondi_generate_params_default();
  gp.max_tokens = max_tokens;
  gp.stop = stop_ptrs.data();
  gp.n_stop = stop_ptrs.size();
  gp.ignore_eog = ignore_eos;
  ondi_generate_result res{};
  res.struct_size = sizeof(res);
  g_session = session.s;
  std::signal(SIGINT, on_sigint);
  std::fwrite(prompt.data(), 1, prompt.size(), stdout);
  std::fflush(stdout);
  check(ondi_session_generate(
            session.s, ids.data(), ids.size(), &sp, &gp,
            [](const char* text, size_t len, int32_t, void*) -> int {
              std::fwrite(text, 1, len, stdout);
              std::fflush(stdout);
              return 0;
            },
            nullptr, &res),
        "generating");
  std::signal(SIGINT, SIG_DFL);
  g_session = nullptr;
  std::printf("\n");
  if (verbose) {
    static const char* reasons[] = {"end of generation", "token budget", "stop string",
                                    "cancelled",         "context full", "callback"};
    std::fprintf(stderr, "prompt: %d tokens in %.1f ms (%.2f tokens/s)\n", res.n_prompt, res.prefill_ms,
                 res.prefill_ms > 0 ? 1000.0 * res.n_prompt / res.prefill_ms : 0.0);
    std::fprintf(stderr, "generated: %d tokens in %.1f ms (%.2f tokens/s), stopped: %s\n", res.n_generated,
                 res.decode_ms, res.decode_ms > 0 ? 1000.0 * res.n_generated / res.decode_ms : 0.0,
                 reasons[res.stop_reason]);
  }
  return 0;
}

std::string human_bytes(double b) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int u = 0;
  while (b >= 1024 && u < 4) {
    b /= 1024;
    ++u;
  }
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.2f %s", b, units[u]);
  return buf;
}

int cmd_info(const std::string& path, const Common& c) {
  ModelHandle model(path);
  ondi_model_info info{};
  info.struct_size = sizeof(info);
  check(ondi_model_get_info(model.m, &info), "model info");
  std::printf("file: %s (GGUF v%u, %s)\n", path.c_str(), info.gguf_version,
              human_bytes(double(info.file_size)).c_str());
  std::printf("architecture: %s  name: %s\n", info.architecture, info.name);
  std::printf("parameters: %" PRId64 " (%.3f B)\n", info.n_params, info.n_params / 1e9);
  std::printf("shape: embd %" PRId64 ", layers %" PRId64 ", heads %" PRId64 " (kv %" PRId64 ", dim %" PRId64
              "), ffn %" PRId64 ", vocab %" PRId64 ", trained context %" PRId64 "\n",
              info.n_embd, info.n_layer, info.n_head, info.n_head_kv, info.head_dim, info.n_ff, info.n_vocab,
              info.n_ctx_train);
  const double kv = 2.0 * 2.0 * double(info.n_layer) * double(c.ctx) * double(info.n_head_kv * info.head_dim);
  std::printf("memory: weights %s (mapped) + KV cache %s for %d tokens (F16) = %s\n",
              human_bytes(double(info.weight_bytes)).c_str(), human_bytes(kv).c_str(), c.ctx,
              human_bytes(double(info.weight_bytes) + kv).c_str());
  std::printf("tokenizer: %s\n", info.has_tokenizer ? "yes" : "none");
  std::printf("\nmetadata (%" PRId64 " keys):\n", ondi_model_meta_count(model.m));
  for (int64_t i = 0; i < ondi_model_meta_count(model.m); ++i) {
    const char *key, *value;
    check(ondi_model_meta_at(model.m, i, &key, &value, nullptr), "metadata");
    std::printf("  %-48s %s\n", key, value);
  }
  std::printf("\ntensors (%" PRId64 "):\n", ondi_model_tensor_count(model.m));
  for (int64_t i = 0; i < ondi_model_tensor_count(model.m); ++i) {
    ondi_tensor_info t{};
    t.struct_size = sizeof(t);
    check(ondi_model_tensor_at(model.m, i, &t), "tensor");
    std::string shape = "[";
    for (int d = 0; d < t.n_dims; ++d) shape += (d ? ", " : "") + std::to_string(t.ne[d]);
    shape += "]";
    const char* tn = ondi_type_name(t.type);
    std::printf("  %-40s %-7s %-20s %s\n", t.name, tn ? tn : "?", shape.c_str(),
                human_bytes(double(t.n_bytes)).c_str());
  }
  return 0;
}

int cmd_tokenize(const std::string& path, const std::string& text, bool no_bos) {
  ModelHandle model(path);
  std::vector<int32_t> ids = tokenize(model.m, text, !no_bos);
  for (size_t i = 0; i < ids.size(); ++i) std::printf(i ? " %d" : "%d", ids[i]);
  std::printf("\n");
  return 0;
}

int cmd_logits(const std::string& path, const std::string& text, bool have_text, const std::string& ids_str,
               const std::string& out, int64_t last, bool no_bos, const Common& c) {
  ModelHandle model(path);
  std::vector<int32_t> ids;
  if (have_text) {
    ids = tokenize(model.m, text, !no_bos);
  } else {
    if (!no_bos) ids = prefix_ids(model.m);
    std::vector<int32_t> more = parse_ids(ids_str);
    ids.insert(ids.end(), more.begin(), more.end());
  }
  if (ids.empty()) die("no tokens to evaluate");
  const size_t n_keep = last < 0 ? ids.size() : static_cast<size_t>(last);
  if (n_keep > ids.size())
    die("--last " + std::to_string(last) + " exceeds the " + std::to_string(ids.size()) + " tokens");
  Common cc = c;
  if (cc.ctx < static_cast<int>(ids.size())) cc.ctx = static_cast<int>(ids.size());
  SessionHandle session(model.m, cc);
  ondi_model_info info{};
  info.struct_size = sizeof(info);
  check(ondi_model_get_info(model.m, &info), "model info");
  std::vector<float> logits(n_keep * static_cast<size_t>(info.n_vocab));
  check(ondi_session_eval(session.s, ids.data(), ids.size(), n_keep, logits.data()), "evaluating");
  // Written to a temporary name and renamed, so an interrupted run never leaves a plausible-looking file.
  const std::string tmp = out + ".tmp";
  FILE* f = std::fopen(tmp.c_str(), "wb");
  if (!f) die("cannot write '" + tmp + "': " + std::strerror(errno));
  const uint32_t header[4] = {0x5354474Cu, static_cast<uint32_t>(ids.size()), static_cast<uint32_t>(info.n_vocab),
                              static_cast<uint32_t>(n_keep)};
  bool ok = std::fwrite(header, sizeof header, 1, f) == 1;
  ok = ok && std::fwrite(ids.data(), sizeof(int32_t), ids.size(), f) == ids.size();
  ok = ok && std::fwrite(logits.data(), sizeof(float), logits.size(), f) == logits.size();
  ok = (std::fclose(f) == 0) && ok;
  if (!ok || std::rename(tmp.c_str(), out.c_str()) != 0) {
    std::remove(tmp.c_str());
    die("writing '" + out + "' failed");
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"ondi: run Llama-family models from GGUF files on this device"};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string(ondi_version()));

  Common common;
  Sampling sampling;

  std::string model, prompt, text, file, ids, out;
  int max_tokens = 256;
  std::vector<std::string> stops;
  bool ignore_eos = false, verbose = false, no_bos = false;
  int64_t last = -1;

  auto* run = app.add_subcommand("run", "Generate text from a prompt, streamed to stdout");
  run->add_option("MODEL", model, "GGUF model file")->required();
  run->add_option("PROMPT", prompt, "Prompt text")->required();
  run->add_option("-n,--max-tokens", max_tokens, "Tokens to generate at most (-1: until the context is full)")
      ->capture_default_str();
  run->add_option("--stop", stops, "Stop string (repeatable)");
  run->add_flag("--ignore-eos", ignore_eos, "Keep generating past end-of-generation tokens");
  run->add_flag("-v,--verbose", verbose, "Print timing and tokens/s to stderr");
  add_common(run, common);
  add_sampling(run, sampling);

  auto* info = app.add_subcommand("info", "Print a model's metadata, tensors, parameter count and memory needs");
  info->add_option("MODEL", model, "GGUF model file")->required();
  add_common(info, common);

  auto* tok = app.add_subcommand("tokenize", "Print the token ids of a text, on one line");
  tok->add_option("MODEL", model, "GGUF model file")->required();
  auto* tp = tok->add_option("-p,--prompt", text, "Text to tokenize");
  auto* tf = tok->add_option("-f,--file", file, "File whose text to tokenize");
  tp->excludes(tf);
  tok->add_flag("--no-bos", no_bos, "Do not add BOS/EOS even if the model asks for them");

  auto* lg = app.add_subcommand("logits", "Evaluate tokens and write their raw logits (golden *.logits format)");
  lg->add_option("MODEL", model, "GGUF model file")->required();
  auto* lf = lg->add_option("-f,--file", file, "Text file to tokenize and evaluate");
  auto* li = lg->add_option("--ids", ids, "Token ids to evaluate, e.g. \"1 2 3\"");
  lf->excludes(li);
  lg->add_option("-o,--output", out, "Output file")->required();
  lg->add_option("--last", last, "Keep the logits of the last N positions (default: all)")
      ->check(CLI::NonNegativeNumber);
  lg->add_flag("--no-bos", no_bos, "Do not add BOS even if the model asks for it");
  add_common(lg, common);

  CLI11_PARSE(app, argc, argv);

  if (run->parsed()) return cmd_run(model, prompt, common, sampling, max_tokens, stops, ignore_eos, verbose);
  if (info->parsed()) return cmd_info(model, common);
  if (tok->parsed()) {
    if (tp->count() == 0 && tf->count() == 0) die("tokenize: give -p TEXT or -f FILE");
    return cmd_tokenize(model, tf->count() ? read_file(file) : text, no_bos);
  }
  if (lg->parsed()) {
    if (lf->count() == 0 && li->count() == 0) die("logits: give -f FILE or --ids \"...\"");
    return cmd_logits(model, lf->count() ? read_file(file) : "", lf->count() > 0, ids, out, last, no_bos, common);
  }
  return 1;
}
