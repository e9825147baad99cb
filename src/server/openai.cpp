#include "server/openai.h"

#include <cmath>
#include <cstdio>
#include <limits>
#include <random>

#include "server/server.h"

namespace ondi::server {
namespace {

[[noreturn]] void bad(const std::string& param, const std::string& msg, const std::string& code = "") {
  ApiError e;
  e.message = msg;
  e.param = param;
  e.code = code;
  throw e;
}

const json* field(const json& b, const char* key) {
  auto it = b.find(key);
  if (it == b.end() || it->is_null()) return nullptr;
  return &*it;
}

std::string num(double x) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%g", x);
  return buf;
}

double get_number(const json& b, const char* key, double def, double lo, double hi) {
  const json* v = field(b, key);
  if (!v) return def;
  if (!v->is_number()) bad(key, std::string("'") + key + "' must be a number, got " + v->type_name());
  const double x = v->get<double>();
  if (!(x >= lo && x <= hi))
    bad(key, std::string("'") + key + "' is " + num(x) + ", expected a number in [" + num(lo) + ", " + num(hi) + "]");
  return x;
}

int64_t get_int(const json& b, const char* key, int64_t def, int64_t lo, int64_t hi) {
  const json* v = field(b, key);
  if (!v) return def;
  const std::string what =
      std::string("'") + key + "' must be an integer in [" + std::to_string(lo) + ", " + std::to_string(hi) + "]";
  if (v->is_number_unsigned()) {
    const uint64_t u = v->get<uint64_t>();
    if (u > static_cast<uint64_t>(hi) || static_cast<int64_t>(u) < lo) bad(key, what + ", got " + std::to_string(u));
    return static_cast<int64_t>(u);
  }
  if (!v->is_number_integer()) bad(key, what + ", got " + (v->is_number() ? "a fraction" : v->type_name()));
  const int64_t x = v->get<int64_t>();
  if (x < lo || x > hi) bad(key, what + ", got " + std::to_string(x));
  return x;
}

bool get_bool(const json& b, const char* key, bool def) {
  const json* v = field(b, key);
  if (!v) return def;
  if (!v->is_boolean()) bad(key, std::string("'") + key + "' must be a boolean, got " + v->type_name());
  return v->get<bool>();
}

std::vector<int32_t> tokenize(const ondi_model* model, const std::string& text, bool add_special, bool parse_special) {
  size_t n = text.size() + 8;
  std::vector<int32_t> ids(n);
  ondi_status st = ondi_tokenize(model, text.data(), text.size(), add_special, parse_special, ids.data(), &n);
  if (st == ONDI_ERR_BUFFER_TOO_SMALL) {
    ids.resize(n);
    st = ondi_tokenize(model, text.data(), text.size(), add_special, parse_special, ids.data(), &n);
  }
  if (st != ONDI_OK) bad("prompt", std::string("the prompt could not be tokenized: ") + ondi_last_error());
  ids.resize(n);
  return ids;
}

// The text of a message's `content`: a string, or an array of {"type": "text", "text": ...} parts.
std::string content_text(const json& m, size_t i) {
  const std::string param = "messages[" + std::to_string(i) + "].content";
  const json* c = field(m, "content");
  if (!c) return "";
  if (c->is_string()) return c->get<std::string>();
  if (!c->is_array()) bad(param, "'" + param + "' must be a string or an array of content parts");
  std::string out;
  for (const auto& part : *c) {
    if (!part.is_object()) bad(param, "each part of '" + param + "' must be an object");
    const json* type = field(part, "type");
    if (!type || !type->is_string() || type->get<std::string>() != "text")
      bad(param, "only content parts of type 'text' are supported");
    const json* t = field(part, "text");
    if (!t || !t->is_string()) bad(param, "a text part of '" + param + "' needs a string 'text'");
    out += t->get<std::string>();
  }
  return out;
}

uint64_t random_seed() {
  static std::mutex mu;
  static std::random_device rd;
  std::lock_guard<std::mutex> lk(mu);
  return (static_cast<uint64_t>(rd()) << 32) ^ rd();
}

}  // namespace

json error_body(const ApiError& e) {
  return {{"error",
           {{"message", e.message},
            {"type", e.type},
            {"param", e.param.empty() ? json(nullptr) : json(e.param)},
            {"code", e.code.empty() ? json(nullptr) : json(e.code)}}}};
}

std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

ParsedRequest parse_request(Api api, const std::string& body, const ondi_model* model, int32_t n_vocab,
                            const ParseLimits& limits) {
  json b = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (b.is_discarded()) bad("", "the request body is not valid JSON (UTF-8)");
  if (!b.is_object()) bad("", "the request body must be a JSON object");
  ParsedRequest p;
  p.gen = std::make_shared<GenRequest>();
  GenRequest& r = *p.gen;

  if (const json* m = field(b, "model"); m && !m->is_string()) bad("model", "'model' must be a string");
  if (get_int(b, "n", 1, 1, 128) != 1) bad("n", "only n = 1 is supported");
  p.stream = get_bool(b, "stream", false);
  if (const json* so = field(b, "stream_options")) {
    if (!so->is_object()) bad("stream_options", "'stream_options' must be an object");
    p.include_usage = get_bool(*so, "include_usage", false);
  }

  // --- the prompt
  if (api == Api::chat) {
    const json* msgs = field(b, "messages");
    if (!msgs) bad("messages", "'messages' is required");
    if (!msgs->is_array() || msgs->empty()) bad("messages", "'messages' must be a non-empty array");
    std::vector<std::pair<std::string, std::string>> conv;
    for (size_t i = 0; i < msgs->size(); ++i) {
      const json& m = (*msgs)[i];
      const std::string param = "messages[" + std::to_string(i) + "]";
      if (!m.is_object()) bad(param, "'" + param + "' must be an object");
      const json* role = field(m, "role");
      if (!role || !role->is_string()) bad(param + ".role", "'" + param + ".role' must be a string");
      std::string rs = role->get<std::string>();
      if (rs == "developer") rs = "system";
      if (rs != "system" && rs != "user" && rs != "assistant" && rs != "tool")
        bad(param + ".role", "unknown role '" + rs + "'");
      conv.emplace_back(rs, content_text(m, i));
    }
    std::string text, error;
    bool from_model = false;
    if (!render_chat(model, conv, text, from_model, error)) bad("messages", error);
    // As transformers' apply_chat_template: a model template writes BOS itself, so none is added here.
    r.prompt = tokenize(model, text, !from_model, true);
  } else {
    const json* pr = field(b, "prompt");
    if (!pr) bad("prompt", "'prompt' is required");
    const json* one = pr;
    if (pr->is_array() && pr->size() == 1 && ((*pr)[0].is_string() || (*pr)[0].is_array())) one = &(*pr)[0];
    if (one->is_string()) {
      r.prompt = tokenize(model, one->get<std::string>(), true, false);
    } else if (one->is_array() && !one->empty() && (*one)[0].is_number()) {
      for (const auto& t : *one) {
        if (!t.is_number_integer() || t.get<int64_t>() < 0 || t.get<int64_t>() >= n_vocab)
          bad("prompt", "token ids in 'prompt' must be integers in [0, " + std::to_string(n_vocab) + ")");
        r.prompt.push_back(static_cast<int32_t>(t.get<int64_t>()));
      }
    } else {
      bad("prompt", "'prompt' must be a string, an array of one string, or an array of token ids");
    }
  }
  if (r.prompt.empty()) bad("prompt", "the prompt is empty");
  const int32_t n_prompt = static_cast<int32_t>(r.prompt.size());
  if (n_prompt > limits.max_prompt_tokens || n_prompt >= limits.n_ctx)
    bad(api == Api::chat ? "messages" : "prompt",
        "the prompt has " + std::to_string(n_prompt) + " tokens; this server takes at most " +
            std::to_string(std::min(limits.max_prompt_tokens, limits.n_ctx - 1)),
        "context_length_exceeded");

  // --- the budget: max_completion_tokens (chat) wins over the older max_tokens
  int64_t max_tokens = -1;
  if (api == Api::chat && field(b, "max_completion_tokens"))
    max_tokens = get_int(b, "max_completion_tokens", -1, 1, std::numeric_limits<int32_t>::max());
  else
    max_tokens = get_int(b, "max_tokens", -1, 1, std::numeric_limits<int32_t>::max());
  const int64_t room = static_cast<int64_t>(limits.n_ctx) - n_prompt;
  if (max_tokens < 0) max_tokens = room;
  if (max_tokens > room)
    bad(field(b, "max_completion_tokens") ? "max_completion_tokens" : "max_tokens",
        "the context holds " + std::to_string(limits.n_ctx) + " tokens; the prompt uses " + std::to_string(n_prompt) +
            " and " + std::to_string(max_tokens) + " were asked for the answer",
        "context_length_exceeded");
  r.max_tokens = static_cast<int32_t>(max_tokens);

  // --- sampling (OpenAI's defaults: temperature 1, no truncation)
  ondi_sampler_params sp = ondi_sampler_params_default();
  sp.temperature = static_cast<float>(get_number(b, "temperature", 1.0, 0.0, 2.0));
  const double top_p = get_number(b, "top_p", 1.0, 0.0, 1.0);
  if (top_p <= 0) sp.temperature = 0;  // keep only the most likely token
  sp.top_p = top_p <= 0 ? 1.0f : static_cast<float>(top_p);
  sp.top_k = static_cast<int32_t>(get_int(b, "top_k", 0, 0, n_vocab));
  sp.min_p = static_cast<float>(get_number(b, "min_p", 0.0, 0.0, 1.0));
  sp.repeat_penalty = static_cast<float>(get_number(b, "repeat_penalty", 1.0, 1e-3, 100.0));
  sp.frequency_penalty = static_cast<float>(get_number(b, "frequency_penalty", 0.0, -2.0, 2.0));
  sp.presence_penalty = static_cast<float>(get_number(b, "presence_penalty", 0.0, -2.0, 2.0));
  sp.penalty_last_n = -1;  // the whole answer, as OpenAI's penalties
  if (const json* s = field(b, "seed")) {
    if (s->is_number_unsigned())
      sp.seed = s->get<uint64_t>();
    else if (s->is_number_integer())
      sp.seed = static_cast<uint64_t>(s->get<int64_t>());
    else
      bad("seed", std::string("'seed' must be an integer, got ") + s->type_name());
  } else {
    sp.seed = random_seed();
  }
  if (const json* lb = field(b, "logit_bias")) {
    if (!lb->is_object()) bad("logit_bias", "'logit_bias' must be an object of token id -> bias");
    for (auto it = lb->begin(); it != lb->end(); ++it) {
      char* end = nullptr;
      const long id = std::strtol(it.key().c_str(), &end, 10);
      if (it.key().empty() || *end != '\0' || id < 0 || id >= n_vocab)
        bad("logit_bias",
            "logit_bias key '" + it.key() + "' is not a token id in [0, " + std::to_string(n_vocab) + ")");
      if (!it.value().is_number()) bad("logit_bias", "logit_bias values must be numbers");
      const double v = it.value().get<double>();
      if (!(v >= -100 && v <= 100)) bad("logit_bias", "logit_bias values must be in [-100, 100], got " + num(v));
      r.bias_ids.push_back(static_cast<int32_t>(id));
      r.bias_vals.push_back(v <= -100 ? -INFINITY : static_cast<float>(v));  // -100 bans, as documented by OpenAI
    }
  }
  r.sampling = sp;
  r.ignore_eos = get_bool(b, "ignore_eos", false);

  // --- stop strings
  if (const json* st = field(b, "stop")) {
    if (st->is_string()) {
      r.stop.push_back(st->get<std::string>());
    } else if (st->is_array()) {
      if (st->size() > 16) bad("stop", "'stop' takes at most 16 strings");
      for (const auto& s : *st) {
        if (!s.is_string()) bad("stop", "'stop' must be a string or an array of strings");
        r.stop.push_back(s.get<std::string>());
      }
    } else {
      bad("stop", "'stop' must be a string or an array of strings");
    }
    for (const auto& s : r.stop)
      if (s.size() > 256) bad("stop", "stop strings are limited to 256 bytes");
  }

  // --- logprobs: a boolean plus top_logprobs (chat), a count (completions)
  if (api == Api::chat) {
    r.logprobs = get_bool(b, "logprobs", false);
    r.top_logprobs = static_cast<int>(get_int(b, "top_logprobs", 0, 0, 20));
    if (r.top_logprobs > 0 && !r.logprobs) bad("top_logprobs", "'top_logprobs' needs 'logprobs': true");
  } else if (field(b, "logprobs")) {
    r.logprobs = true;
    r.top_logprobs = static_cast<int>(get_int(b, "logprobs", 0, 0, 5));
  }
  return p;
}

const char* finish_reason(Finish f) {
  switch (f) {
    case Finish::stop:
      return "stop";
    case Finish::length:
      return "length";
    default:
      return "stop";
  }
}

json usage_json(const GenRequest& r) {
  return {{"prompt_tokens", r.n_prompt},
          {"completion_tokens", r.n_generated},
          {"total_tokens", r.n_prompt + r.n_generated},
          {"prompt_tokens_details", {{"cached_tokens", r.n_cached}}}};
}

namespace {

json bytes_of(const std::string& s) {
  json a = json::array();
  for (unsigned char c : s) a.push_back(static_cast<int>(c));
  return a;
}

json chat_logprobs(const std::vector<TokenLogprob>& lps, const Scheduler& sched) {
  json content = json::array();
  for (const auto& lp : lps) {
    json top = json::array();
    for (const auto& [id, v] : lp.top)
      top.push_back({{"token", sched.piece(id)}, {"logprob", v}, {"bytes", bytes_of(sched.piece(id))}});
    content.push_back({{"token", sched.piece(lp.token)},
                       {"logprob", lp.logprob},
                       {"bytes", bytes_of(sched.piece(lp.token))},
                       {"top_logprobs", top}});
  }
  return {{"content", content}, {"refusal", nullptr}};
}

json completion_logprobs(const std::vector<TokenLogprob>& lps, const Scheduler& sched, size_t offset0) {
  json tokens = json::array(), token_lps = json::array(), tops = json::array(), offsets = json::array();
  size_t off = offset0;
  for (const auto& lp : lps) {
    const std::string& p = sched.piece(lp.token);
    tokens.push_back(p);
    token_lps.push_back(lp.logprob);
    json top = json::object();
    for (const auto& [id, v] : lp.top) top[sched.piece(id)] = v;
    tops.push_back(top);
    offsets.push_back(off);
    off += p.size();
  }
  return {{"tokens", tokens}, {"token_logprobs", token_lps}, {"top_logprobs", tops}, {"text_offset", offsets}};
}

}  // namespace

json full_response(const ResponseMeta& m, const std::string& text, const std::vector<TokenLogprob>& lps, Finish f,
                   const GenRequest& r, const Scheduler& sched) {
  json choice;
  if (m.api == Api::chat) {
    choice = {{"index", 0},
              {"message", {{"role", "assistant"}, {"content", text}, {"refusal", nullptr}}},
              {"logprobs", m.logprobs ? chat_logprobs(lps, sched) : json(nullptr)},
              {"finish_reason", finish_reason(f)}};
  } else {
    choice = {{"index", 0},
              {"text", text},
              {"logprobs", m.logprobs ? completion_logprobs(lps, sched, 0) : json(nullptr)},
              {"finish_reason", finish_reason(f)}};
  }
  return {{"id", m.id},
          {"object", m.api == Api::chat ? "chat.completion" : "text_completion"},
          {"created", m.created},
          {"model", m.model},
          {"system_fingerprint", std::string("ondi-") + ondi_version()},
          {"choices", json::array({choice})},
          {"usage", usage_json(r)}};
}

json stream_chunk(const ResponseMeta& m, const std::string* role, const std::string& text,
                  const std::vector<TokenLogprob>& lps, const char* finish, const Scheduler& sched) {
  json choice;
  if (m.api == Api::chat) {
    json delta = json::object();
    if (role) delta["role"] = *role;
    if (!finish) delta["content"] = text;
    choice = {{"index", 0},
              {"delta", delta},
              {"logprobs", m.logprobs && !lps.empty() ? chat_logprobs(lps, sched) : json(nullptr)},
              {"finish_reason", finish ? json(finish) : json(nullptr)}};
  } else {
    choice = {{"index", 0},
              {"text", text},
              {"logprobs", m.logprobs && !lps.empty() ? completion_logprobs(lps, sched, 0) : json(nullptr)},
              {"finish_reason", finish ? json(finish) : json(nullptr)}};
  }
  return {{"id", m.id},
          {"object", m.api == Api::chat ? "chat.completion.chunk" : "text_completion"},
          {"created", m.created},
          {"model", m.model},
          {"system_fingerprint", std::string("ondi-") + ondi_version()},
          {"choices", json::array({choice})}};
}

json usage_chunk(const ResponseMeta& m, const GenRequest& r) {
  return {{"id", m.id},
          {"object", m.api == Api::chat ? "chat.completion.chunk" : "text_completion"},
          {"created", m.created},
          {"model", m.model},
          {"choices", json::array()},
          {"usage", usage_json(r)}};
}

}  // namespace ondi::server
