// Renders the parity battery: every template in TEMPLATES_DIR (*.jinja, with bos/eos from tokens.json) with
// every conversation of CONVERSATIONS.json, into OUT_DIR/<template>__<conversation>.txt, or .err holding the
// error when rendering fails. strftime_now() sees 2025-03-14 09:30, as the oracle's does.
// Usage: ondi-chat-render TEMPLATES_DIR CONVERSATIONS.json OUT_DIR
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "chat/chat_template.h"

namespace fs = std::filesystem;
using ojson = nlohmann::ordered_json;

static std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: %s TEMPLATES_DIR CONVERSATIONS.json OUT_DIR\n", argv[0]);
    return 2;
  }
  const fs::path dir = argv[1], out = argv[3];
  const ojson tokens = ojson::parse(slurp(dir / "tokens.json"));
  const ojson convs = ojson::parse(slurp(argv[2]));
  fs::create_directories(out);
  std::tm now{};
  now.tm_year = 2025 - 1900;
  now.tm_mon = 2;
  now.tm_mday = 14;
  now.tm_hour = 9;
  now.tm_min = 30;
  int n = 0;
  for (const auto& entry : fs::directory_iterator(dir)) {
    if (entry.path().extension() != ".jinja") continue;
    const std::string name = entry.path().stem().string();
    const std::string tmpl = slurp(entry.path());
    const ojson tok = tokens.at(name);
    for (auto it = convs.begin(); it != convs.end(); ++it) {
      const ojson& c = it.value();
      ondi::chat::ChatRequest req;
      req.messages_json = c.at("messages").dump();
      if (c.contains("tools")) req.tools_json = c.at("tools").dump();
      if (c.contains("extra")) req.extra_json = c.at("extra").dump();
      req.add_generation_prompt = c.value("add_generation_prompt", true);
      req.bos_token = tok.at("bos_token").get<std::string>();
      req.eos_token = tok.at("eos_token").get<std::string>();
      req.now = now;
      auto r = ondi::chat::apply_template(tmpl, req);
      const fs::path base = out / (name + "__" + it.key());
      std::ofstream f(base.string() + (r.ok() ? ".txt" : ".err"), std::ios::binary);
      if (r.ok()) {
        f << *r;
      } else {
        f << r.status().message() << "\n";
      }
      ++n;
    }
  }
  std::printf("rendered %d pairs\n", n);
  return 0;
}
