// `ondi run MODEL PROMPT`: streams a completion.
#include <csignal>
#include <cstdio>

#include "common.h"

namespace ondi_cli {
namespace {

ondi_session* g_session = nullptr;
void on_sigint(int) {
  if (g_session) ondi_session_cancel(g_session);
}

int cmd_run(const std::string& model_path, const std::string& prompt, const Common& c, const Sampling& s,
            int max_tokens, const std::vector<std::string>& stops, bool ignore_eos, bool verbose,
            const std::string& load_session, const std::string& save_session) {
  ModelHandle model(model_path);
  SessionHandle session(model.m, c);
  if (!load_session.empty()) check(ondi_session_load(session.s, load_session.c_str()), "loading the session");
  // A restored session continues where it stopped: its prompt, if any, is appended without a new BOS.
  std::vector<int32_t> ids = prompt.empty() && !load_session.empty() ? std::vector<int32_t>{}
                                                                     : tokenize(model.m, prompt, load_session.empty());
  ondi_sampler_params sp;
  std::vector<int32_t> bias_ids;
  std::vector<float> bias_vals;
  s.to_params(sp, bias_ids, bias_vals);
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
  if (!save_session.empty()) check(ondi_session_save(session.s, save_session.c_str()), "saving the session");
  g_session = nullptr;
  std::printf("\n");
  std::fflush(stdout);
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

const RegisterCommand kRegister(10, [](CLI::App& app) -> Runner {
  struct Opts {
    std::string model, prompt;
    Common common;
    Sampling sampling;
    int max_tokens = 256;
    std::vector<std::string> stops;
    bool ignore_eos = false, verbose = false;
    std::string load_session, save_session;
  };
  auto o = std::make_shared<Opts>();
  auto* run = app.add_subcommand("run", "Generate text from a prompt, streamed to stdout");
  run->add_option("MODEL", o->model, "GGUF model file")->required();
  run->add_option("PROMPT", o->prompt, "Prompt text")->required();
  run->add_option("-n,--max-tokens", o->max_tokens, "Tokens to generate at most (-1: until the context is full)")
      ->capture_default_str();
  run->add_option("--stop", o->stops, "Stop string (repeatable)");
  run->add_flag("--ignore-eos", o->ignore_eos, "Keep generating past end-of-generation tokens");
  run->add_flag("-v,--verbose", o->verbose, "Print timing and tokens/s to stderr");
  run->add_option("--load-session", o->load_session,
                  "Continue a session saved with --save-session (PROMPT may be \"\")");
  run->add_option("--save-session", o->save_session, "Save the session (tokens, KV cache) to this file at the end");
  add_common(run, o->common);
  add_sampling(run, o->sampling);
  return [run, o]() -> int {
    if (!run->parsed()) return -1;
    return cmd_run(o->model, o->prompt, o->common, o->sampling, o->max_tokens, o->stops, o->ignore_eos, o->verbose,
                   o->load_session, o->save_session);
  };
});

}  // namespace
}  // namespace ondi_cli
