// libFuzzer target: the server's OpenAI request parsing (server::parse_request), without HTTP and without running
// a model: the model (the golden Llama 3 vocabulary, loaded once through the C API) only tokenizes the prompt.
// Input: one kind byte ('c': /v1/chat/completions, anything else: /v1/completions), then the request body. The
// outcome must be an ApiError with a 4xx status and a message, or a request that keeps every promise the scheduler
// relies on (prompt and budget inside the context, token ids and bias ids in the vocabulary, parameters in range).
// Any other exception escapes and is reported by libFuzzer.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "ondi/ondi.h"
#include "server/openai.h"

#ifndef ONDI_GOLDEN_DIR
#define ONDI_GOLDEN_DIR "../shared/golden"
#endif

namespace {

constexpr int32_t kCtx = 256, kMaxPrompt = 200;

[[noreturn]] void bug(const char* what) {
  std::fprintf(stderr, "fuzz_server_request: %s\n", what);
  std::abort();
}

ondi_model* g_model = nullptr;
int32_t g_vocab = 0;

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  const char* dir = std::getenv("ONDI_GOLDEN_DIR");
  const std::string path = std::string(dir ? dir : ONDI_GOLDEN_DIR) + "/llama3-tok-f16.gguf";
  const ondi_model_params mp = ondi_model_params_default();
  if (ondi_model_load(path.c_str(), &mp, &g_model) != ONDI_OK) {
    std::fprintf(stderr, "fuzz_server_request: cannot load %s: %s\n", path.c_str(), ondi_last_error());
    std::exit(1);
  }
  ondi_model_info info{};
  info.struct_size = sizeof info;
  if (ondi_model_get_info(g_model, &info) != ONDI_OK) std::exit(1);
  g_vocab = static_cast<int32_t>(info.n_vocab);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  using namespace ondi::server;
  const Api api = data[0] == 'c' ? Api::chat : Api::completions;
  const std::string body(reinterpret_cast<const char*>(data) + 1, size - 1);
  ParseLimits limits;
  limits.n_ctx = kCtx;
  limits.max_prompt_tokens = kMaxPrompt;
  ParsedRequest p;
  try {
    p = parse_request(api, body, g_model, g_vocab, limits);
  } catch (const ApiError& e) {
    if (e.message.empty()) bug("ApiError without a message");
    if (e.status < 400 || e.status >= 500) bug("ApiError for a client mistake without a 4xx status");
    (void)dump(error_body(e));
    return 0;
  }
  const GenRequest& r = *p.gen;
  const int64_t n = static_cast<int64_t>(r.prompt.size());
  if (n == 0 || n > kMaxPrompt || n >= kCtx) bug("accepted a prompt outside (0, limits]");
  for (int32_t t : r.prompt)
    if (t < 0 || t >= g_vocab) bug("accepted a prompt token outside the vocabulary");
  if (r.max_tokens < 1 || n + r.max_tokens > kCtx) bug("accepted a budget that does not fit the context");
  if (r.bias_ids.size() != r.bias_vals.size()) bug("logit_bias ids and values differ in count");
  for (int32_t id : r.bias_ids)
    if (id < 0 || id >= g_vocab) bug("accepted a logit_bias id outside the vocabulary");
  const ondi_sampler_params& s = r.sampling;
  if (!(s.temperature >= 0 && s.temperature <= 2) || !(s.top_p > 0 && s.top_p <= 1) ||
      !(s.min_p >= 0 && s.min_p <= 1) || s.top_k < 0 || s.top_k > g_vocab || !(s.repeat_penalty > 0) ||
      !std::isfinite(s.frequency_penalty) || !std::isfinite(s.presence_penalty))
    bug("accepted sampling parameters out of range");
  if (r.stop.size() > 16) bug("accepted more than 16 stop strings");
  if (r.top_logprobs < 0 || r.top_logprobs > 20) bug("accepted top_logprobs out of range");
  return 0;
}
