#include "common.h"

#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "hub.h"

namespace ondi_cli {

std::vector<CommandDef>& registry() {
  static std::vector<CommandDef> r;
  return r;
}

void add_common(CLI::App* app, Common& c) {
  app->add_option("-t,--threads", c.threads, "Threads (0: one per hardware thread)")->check(CLI::Range(0, 1024));
  app->add_option("-c,--ctx", c.ctx, "Context size in tokens")->check(CLI::Range(1, 1 << 24));
  app->add_option("--batch", c.batch, "Prefill chunk size (tokens per forward pass)")->check(CLI::Range(1, 65536));
  app->add_option("--memory-limit", c.memory_limit,
                  "Refuse to load if the memory plan exceeds SIZE (e.g. 512M, 2G); see `ondi info --plan`");
  app->add_flag("--fit", c.fit,
                "With --memory-limit: quantize the KV cache, then shorten the context, until the plan fits");
  app->add_option("--kv-type", c.kv_type, "KV cache type: f16 or q8_0 (about half the memory)")
      ->transform(CLI::IsMember({"f16", "q8_0"}, CLI::ignore_case));
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

// MODEL may also be an alias or hf:// reference (hub.h): resolved here, so every subcommand that loads one gets it.
ModelHandle::ModelHandle(const std::string& path) {
  check(ondi_model_load(resolve_model(path).c_str(), nullptr, &m), "loading model");
}
ModelHandle::~ModelHandle() { ondi_model_free(m); }

ondi_session_params Common::session_params() const {
  ondi_session_params p = ondi_session_params_default();
  p.n_ctx = ctx;
  p.n_batch = batch;
  p.n_threads = threads;
  p.n_outputs = outputs;
  p.memory_limit = memory_limit.empty() ? 0 : parse_size(memory_limit);
  p.fit_context = fit;
  p.kv_type = kv_type == "q8_0" ? ONDI_TYPE_Q8_0 : ONDI_TYPE_F16;
  return p;
}

uint64_t parse_size(const std::string& s) {
  char* end = nullptr;
  errno = 0;
  const double v = std::strtod(s.c_str(), &end);
  std::string unit(end ? end : "");
  for (char& ch : unit) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  double mult = 0;
  if (unit.empty() || unit == "B") mult = 1;
  if (unit == "K" || unit == "KB" || unit == "KIB") mult = 1024.0;
  if (unit == "M" || unit == "MB" || unit == "MIB") mult = 1024.0 * 1024;
  if (unit == "G" || unit == "GB" || unit == "GIB") mult = 1024.0 * 1024 * 1024;
  if (errno || end == s.c_str() || mult == 0 || !(v > 0) || v * mult > 1.8e19)
    die("'" + s + "' is not a size (examples: 512M, 1.5G, 2GiB, 1000000)");
  return static_cast<uint64_t>(v * mult);
}

SessionHandle::SessionHandle(const ondi_model* m, const Common& c) {
  const ondi_session_params p = c.session_params();
  check(ondi_session_create(m, &p, &s), "creating session");
}
SessionHandle::~SessionHandle() { ondi_session_free(s); }

ondi_model_info model_info(const ondi_model* m) {
  ondi_model_info info{};
  info.struct_size = sizeof(info);
  check(ondi_model_get_info(m, &info), "model info");
  return info;
}

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

std::vector<int32_t> prefix_ids(const ondi_model* m) {
  if (!model_info(m).has_tokenizer) return {};
  return tokenize(m, "", true);
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) die("cannot read '" + path + "'");
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
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

void Sampling::to_params(ondi_sampler_params& sp, std::vector<int32_t>& ids, std::vector<float>& vals) const {
  sp = ondi_sampler_params_default();
  sp.temperature = temp;
  sp.top_k = top_k;
  sp.top_p = top_p;
  sp.min_p = min_p;
  sp.repeat_penalty = repeat_penalty;
  sp.penalty_last_n = repeat_last_n;
  sp.frequency_penalty = frequency_penalty;
  sp.presence_penalty = presence_penalty;
  sp.seed = seed;
  ids.clear();
  vals.clear();
  for (const auto& b : logit_bias) {
    const size_t colon = b.find(':');
    if (colon == std::string::npos) die("--logit-bias: expected ID:BIAS, got '" + b + "'");
    try {
      ids.push_back(std::stoi(b.substr(0, colon)));
      const std::string v = b.substr(colon + 1);
      vals.push_back(v == "-inf" ? -INFINITY : std::stof(v));
    } catch (...) {
      die("--logit-bias: expected ID:BIAS, got '" + b + "'");
    }
  }
  sp.logit_bias_ids = ids.data();
  sp.logit_bias_values = vals.data();
  sp.n_logit_bias = ids.size();
}

}  // namespace ondi_cli
