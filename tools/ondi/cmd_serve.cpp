// `ondi serve MODEL`: an OpenAI-compatible HTTP server with continuous batching (src/server/).
#include "common.h"
#include "hub.h"
#include "server/server.h"

namespace ondi_cli {
namespace {

const RegisterCommand kRegister(15, [](CLI::App& app) -> Runner {
  auto o = std::make_shared<ondi::server::ServerOptions>();
  auto* cmd = app.add_subcommand("serve", "Serve a model over an OpenAI-compatible HTTP API");
  cmd->add_option("MODEL", o->model_path, "GGUF model file")->required();
  cmd->add_option("--host", o->host, "Address to listen on")->capture_default_str();
  cmd->add_option("--port", o->port, "Port (0: any free port, printed at start)")->capture_default_str();
  cmd->add_option("--parallel", o->parallel, "Requests decoded together (KV slots)")
      ->check(CLI::Range(1, 256))
      ->capture_default_str();
  cmd->add_option("-c,--ctx", o->ctx, "Context positions per request")
      ->check(CLI::Range(8, 1 << 20))
      ->capture_default_str();
  cmd->add_option("-t,--threads", o->threads, "Threads (0: one per hardware thread)")->check(CLI::NonNegativeNumber);
  cmd->add_option("--batch", o->batch, "Tokens per decode step (generating tokens plus prompt chunks)")
      ->check(CLI::Range(1, 1 << 16))
      ->capture_default_str();
  cmd->add_option("--api-key", o->api_key, "Require 'Authorization: Bearer KEY' (all routes but /health)");
  cmd->add_option("--max-queue", o->max_queue, "Requests waiting for a slot before 429")
      ->check(CLI::Range(0, 100000))
      ->capture_default_str();
  cmd->add_option("--max-body", o->max_body_bytes, "Largest request body in bytes")->capture_default_str();
  cmd->add_option("--max-prompt-tokens", o->max_prompt_tokens, "Longest prompt (0: the context less one)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--timeout", o->timeout_s, "Seconds before a request is cancelled")
      ->check(CLI::Range(1, 86400))
      ->capture_default_str();
  cmd->add_option("--read-timeout", o->read_timeout_s, "Seconds a client may take to send its request")
      ->check(CLI::Range(1, 3600))
      ->capture_default_str();
  cmd->add_option("--shutdown-grace", o->shutdown_grace_s, "Seconds in-flight requests get after SIGTERM")
      ->check(CLI::Range(0, 3600))
      ->capture_default_str();
  cmd->add_option("--model-id", o->model_id, "Model name reported by /v1/models (default: the file name)");
  return [cmd, o]() -> int {
    if (!cmd->parsed()) return -1;
    o->model_path = resolve_model(o->model_path);  // alias or hf:// -> a cached file (hub.h)
    return ondi::server::run_server(*o);
  };
});

}  // namespace
}  // namespace ondi_cli
