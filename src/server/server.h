// `ondi serve`: an OpenAI-compatible HTTP server over continuous batching (scheduler.h).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "ondi/ondi.h"

namespace ondi::server {

struct ServerOptions {
  std::string model_path;
  std::string model_id;  // the name /v1/models reports; default: the file name without .gguf
  std::string host = "127.0.0.1";
  int port = 8080;   // 0: any free port (the one bound is printed)
  int parallel = 4;  // sequences decoded together (KV slots)
  int ctx = 4096;    // positions per sequence
  int batch = 512;   // tokens per decode step (decoding tokens plus prompt chunks)
  int threads = 0;
  std::string api_key;  // non-empty: every route but /health requires "Authorization: Bearer KEY"
  int max_queue = 64;   // requests waiting for a slot; more are answered 429
  size_t max_body_bytes = 4u << 20;
  int max_prompt_tokens = 0;  // 0: the context size less one
  int timeout_s = 600;        // a request is cancelled after this long
  int read_timeout_s = 30;    // a client that sends its request slower than this is dropped
  int shutdown_grace_s = 30;  // on SIGTERM/SIGINT, in-flight requests may finish for this long
  int http_threads = 0;       // 0: parallel + max_queue + 8
};

// The chat prompt for `messages` ((role, content) pairs), ending where the assistant's answer begins: the model's
// own template (GGUF tokenizer.chat_template) when it has one, else ChatML. `from_model` tells which (a model
// template writes its BOS itself). False with `error` set when the template fails on these messages.
bool render_chat(const ondi_model* model, const std::vector<std::pair<std::string, std::string>>& messages,
                 std::string& out, bool& from_model, std::string& error);

// Runs until SIGTERM or SIGINT; returns the process exit code (0 after a graceful stop).
int run_server(const ServerOptions& opt);

}  // namespace ondi::server
