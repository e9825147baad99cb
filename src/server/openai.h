// The OpenAI wire format: request bodies parsed and validated into GenRequests, responses and stream chunks
// rendered as JSON. No HTTP here, so it is testable on its own.
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "server/scheduler.h"

namespace ondi::server {

using json = nlohmann::json;

// A client-visible error: HTTP status and the OpenAI error object's fields.
struct ApiError {
  int status = 400;
  std::string message;
  std::string type = "invalid_request_error";
  std::string param;  // the offending field, or ""
  std::string code;   // e.g. "context_length_exceeded", or ""
};

json error_body(const ApiError& e);
// JSON text; invalid UTF-8 (never produced by the text stream, but possible in token bytes) becomes U+FFFD.
std::string dump(const json& j);

enum class Api { chat, completions };

struct ParsedRequest {
  std::shared_ptr<GenRequest> gen;
  bool stream = false;
  bool include_usage = false;
};

struct ParseLimits {
  int32_t n_ctx = 0;              // positions per sequence
  int32_t max_prompt_tokens = 0;  // prompts longer than this are refused
};

// Throws ApiError for anything a client got wrong. Unknown fields are ignored.
ParsedRequest parse_request(Api api, const std::string& body, const ondi_model* model, int32_t n_vocab,
                            const ParseLimits& limits);

// Response rendering. `pieces` maps token ids to their bytes (for logprobs).
struct ResponseMeta {
  Api api;
  std::string id, model;
  int64_t created = 0;
  bool logprobs = false;
};
const char* finish_reason(Finish f);
json usage_json(const GenRequest& r);
json full_response(const ResponseMeta& m, const std::string& text, const std::vector<TokenLogprob>& lps, Finish f,
                   const GenRequest& r, const Scheduler& sched);
// One streamed chunk: text and logprob (when set) of some events, or the final chunk with finish reason.
json stream_chunk(const ResponseMeta& m, const std::string* role, const std::string& text,
                  const std::vector<TokenLogprob>& lps, const char* finish, const Scheduler& sched);
json usage_chunk(const ResponseMeta& m, const GenRequest& r);

}  // namespace ondi::server
