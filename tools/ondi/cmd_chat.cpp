// `ondi chat MODEL`: an interactive conversation in the terminal. Each turn renders the whole conversation with
// the chat template and prefills only what the session's KV cache does not already hold (the common token
// prefix is kept), so earlier turns are never recomputed. Ctrl-C stops the answer being generated.
#include <editline/readline.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "common.h"

namespace ondi_cli {
namespace {

using ojson = nlohmann::ordered_json;

std::atomic<ondi_session*> g_generating{nullptr};
void on_sigint(int) {
  // Only an answer in progress is interrupted; at the prompt Ctrl-C does nothing (Ctrl-D or /quit exit).
  if (ondi_session* s = g_generating.load()) ondi_session_cancel(s);
}

const char* kHelp =
    "Commands:\n"
    "  /system TEXT   set the system prompt (empty TEXT removes it)\n"
    "  /reset         forget the conversation (the system prompt stays)\n"
    "  /save FILE     write the conversation as JSON\n"
    "  /load FILE     read a conversation written by /save\n"
    "  /help          this text\n"
    "  /quit          leave (or Ctrl-D); Ctrl-C stops an answer\n";

struct Chat {
  const ondi_model* model;
  ondi_session* session;
  std::string tmpl;  // empty: the model's own
  std::string system;
  ojson messages = ojson::array();  // user and assistant turns, the system prompt kept apart
  ondi_sampler_params sampler;
  ondi_generate_params gen;

  std::string render() const {
    ojson all = ojson::array();
    if (!system.empty()) all.push_back({{"role", "system"}, {"content", system}});
    for (const auto& m : messages) all.push_back(m);
    const std::string json = all.dump(-1, ' ', false, ojson::error_handler_t::replace);
    const char* t = tmpl.empty() ? nullptr : tmpl.c_str();
    std::string out(4096, '\0');
    size_t n = out.size();
    ondi_status st = ondi_chat_apply_template_json(model, t, json.c_str(), nullptr, nullptr, 1, out.data(), &n);
    if (st == ONDI_ERR_BUFFER_TOO_SMALL) {
      out.resize(n + 1);
      st = ondi_chat_apply_template_json(model, t, json.c_str(), nullptr, nullptr, 1, out.data(), &n);
    }
    if (st != ONDI_OK) throw std::runtime_error(std::string("chat template: ") + ondi_last_error());
    out.resize(n);
    return out;
  }

  std::vector<int32_t> session_tokens() const {
    size_t n = static_cast<size_t>(ondi_session_length(session));
    std::vector<int32_t> ids(n + 1);
    check(ondi_session_tokens(session, ids.data(), &n), "reading the session's tokens");
    ids.resize(n);
    return ids;
  }

  // One assistant turn for the conversation as it stands.
  void answer() {
    const std::vector<int32_t> ids = tokenize(model, render(), false);
    if (ids.empty()) {
      messages.erase(messages.end() - 1);
      throw std::runtime_error("the chat template rendered an empty prompt");
    }
    const std::vector<int32_t> cached = session_tokens();
    size_t keep = 0;
    while (keep < cached.size() && keep < ids.size() && cached[keep] == ids[keep]) ++keep;
    // At least the last prompt token is evaluated again, so that sampling starts from its fresh logits.
    if (keep >= ids.size()) keep = ids.size() - 1;
    check(ondi_session_truncate(session, static_cast<int32_t>(keep)), "truncating the session");
    std::string text;
    ondi_generate_result res{};
    res.struct_size = sizeof(res);
    g_generating.store(session);
    const ondi_status st = ondi_session_generate(
        session, ids.data() + keep, ids.size() - keep, &sampler, &gen,
        [](const char* t, size_t len, int32_t, void* user) -> int {
          static_cast<std::string*>(user)->append(t, len);
          std::fwrite(t, 1, len, stdout);
          std::fflush(stdout);
          return 0;
        },
        &text, &res);
    g_generating.store(nullptr);
    if (st != ONDI_OK && st != ONDI_ERR_CANCELLED) {
      std::printf("\n");
      messages.erase(messages.end() - 1);  // the user turn that could not be answered
      throw std::runtime_error(ondi_last_error());
    }
    const bool stopped = st == ONDI_ERR_CANCELLED || res.stop_reason == ONDI_STOP_CANCELLED;
    messages.push_back({{"role", "assistant"}, {"content", text}});
    std::printf("\n\x1b[2m[%s%d tokens, %.1f tokens/s; prefilled %zu of %zu prompt tokens]\x1b[0m\n",
                stopped ? "stopped, " : "", res.n_generated,
                res.decode_ms > 0 ? 1000.0 * res.n_generated / res.decode_ms : 0.0, ids.size() - keep, ids.size());
    std::fflush(stdout);
  }

  void save(const std::string& path) const {
    ojson doc = {{"system", system}, {"messages", messages}};
    std::ofstream f(path, std::ios::binary);
    f << doc.dump(2, ' ', false, ojson::error_handler_t::replace) << "\n";
    if (!f) throw std::runtime_error("cannot write '" + path + "'");
    std::printf("saved %zu messages to %s\n", messages.size(), path.c_str());
  }

  void load(const std::string& path) {
    ojson doc;
    try {
      doc = ojson::parse(read_file(path));
    } catch (const ojson::exception& e) {
      throw std::runtime_error("'" + path + "' is not a conversation: " + e.what());
    }
    if (!doc.is_object() || !doc.contains("messages") || !doc["messages"].is_array())
      throw std::runtime_error("'" + path + "': expected {\"system\": ..., \"messages\": [...]}");
    for (const auto& m : doc["messages"])
      if (!m.is_object() || !m.contains("role") || !m["role"].is_string())
        throw std::runtime_error("'" + path + "': every message needs a role");
    messages = doc["messages"];
    system = doc.contains("system") && doc["system"].is_string() ? doc["system"].get<std::string>() : "";
    std::printf("loaded %zu messages from %s\n", messages.size(), path.c_str());
    for (const auto& m : messages) {
      const std::string content =
          m.contains("content") && m["content"].is_string() ? m["content"].get<std::string>() : "";
      std::printf("%s: %s\n", m["role"].get<std::string>().c_str(), content.c_str());
    }
  }

  // Returns false to leave.
  bool command(const std::string& line) {
    const size_t sp = line.find(' ');
    const std::string cmd = line.substr(0, sp);
    const std::string arg = sp == std::string::npos ? "" : line.substr(sp + 1);
    if (cmd == "/quit" || cmd == "/exit") return false;
    if (cmd == "/help") {
      std::printf("%s", kHelp);
    } else if (cmd == "/system") {
      system = arg;
      std::printf(arg.empty() ? "system prompt removed\n" : "system prompt set\n");
    } else if (cmd == "/reset") {
      messages = ojson::array();
      check(ondi_session_truncate(session, 0), "clearing the session");
      std::printf("conversation cleared\n");
    } else if (cmd == "/save" || cmd == "/load") {
      if (arg.empty()) throw std::runtime_error(cmd + " needs a file name");
      cmd == "/save" ? save(arg) : load(arg);
    } else {
      std::printf("unknown command %s (/help lists them)\n", cmd.c_str());
    }
    std::fflush(stdout);
    return true;
  }
};

int cmd_chat(const std::string& model_path, const std::string& template_path, const std::string& system,
             const Common& c, const Sampling& s, int max_tokens) {
  ModelHandle model(model_path);
  SessionHandle session(model.m, c);
  Chat chat{model.m, session.s, "", system, ojson::array(), {}, ondi_generate_params_default()};
  std::vector<int32_t> bias_ids;
  std::vector<float> bias_vals;
  s.to_params(chat.sampler, bias_ids, bias_vals);
  chat.gen.max_tokens = max_tokens;
  const char* source;
  if (!template_path.empty()) {
    chat.tmpl = read_file(template_path);
    source = "template from --template";
  } else if (ondi_model_chat_template(model.m)) {
    source = "the model's chat template";
  } else {
    chat.tmpl =
        "{%- for message in messages %}{{- '<|im_start|>' + message['role'] + '\\n' + message['content'] + "
        "'<|im_end|>\\n' }}{%- endfor %}{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}";
    source = "built-in ChatML template (the model has none; --template FILE to choose)";
  }
  std::fprintf(stderr, "ondi chat: %s; /help for commands\n", source);
  std::signal(SIGINT, on_sigint);
  const bool tty = isatty(0);
  for (;;) {
    std::string line;
    if (tty) {
      char* l = readline("> ");
      if (!l) break;
      line = l;
      std::free(l);
      if (!line.empty()) add_history(line.c_str());
    } else {
      std::printf("> ");
      std::fflush(stdout);
      if (!std::getline(std::cin, line)) break;
    }
    if (line.empty()) continue;
    try {
      if (line[0] == '/') {
        if (!chat.command(line)) break;
        continue;
      }
      chat.messages.push_back({{"role", "user"}, {"content", line}});
      chat.answer();
    } catch (const std::exception& e) {
      std::printf("error: %s\n", e.what());
      std::fflush(stdout);
    }
  }
  std::signal(SIGINT, SIG_DFL);
  std::printf("\n");
  return 0;
}

const RegisterCommand kRegister(15, [](CLI::App& app) -> Runner {
  struct Opts {
    std::string model, tmpl, system;
    Common common;
    Sampling sampling;
    int max_tokens = 512;
  };
  auto o = std::make_shared<Opts>();
  auto* cmd = app.add_subcommand("chat", "Chat with a model in the terminal (multi-turn, streamed, Ctrl-C stops)");
  cmd->add_option("MODEL", o->model, "GGUF model file")->required();
  cmd->add_option("--template", o->tmpl,
                  "Jinja chat template file (default: the model's, else a built-in ChatML template)");
  cmd->add_option("--system", o->system, "System prompt");
  cmd->add_option("-n,--max-tokens", o->max_tokens, "Tokens per answer at most (-1: until the context is full)")
      ->capture_default_str();
  add_common(cmd, o->common);
  add_sampling(cmd, o->sampling);
  return [cmd, o]() -> int {
    if (!cmd->parsed()) return -1;
    return cmd_chat(o->model, o->tmpl, o->system, o->common, o->sampling, o->max_tokens);
  };
});

}  // namespace
}  // namespace ondi_cli
