// `ondi tokenize MODEL (-p TEXT | -f FILE)`: ids on one line.
#include <cstdio>

#include "common.h"

namespace ondi_cli {
namespace {

int cmd_tokenize(const std::string& path, const std::string& text, bool no_bos) {
  ModelHandle model(path);
  std::vector<int32_t> ids = tokenize(model.m, text, !no_bos);
  for (size_t i = 0; i < ids.size(); ++i) std::printf(i ? " %d" : "%d", ids[i]);
  std::printf("\n");
  return 0;
}

const RegisterCommand kRegister(30, [](CLI::App& app) -> Runner {
  struct Opts {
    std::string model, text, file;
    bool no_bos = false;
  };
  auto o = std::make_shared<Opts>();
  auto* tok = app.add_subcommand("tokenize", "Print the token ids of a text, on one line");
  tok->add_option("MODEL", o->model, "GGUF model file")->required();
  auto* tp = tok->add_option("-p,--prompt", o->text, "Text to tokenize");
  auto* tf = tok->add_option("-f,--file", o->file, "File whose text to tokenize");
  tp->excludes(tf);
  tok->add_flag("--no-bos", o->no_bos, "Do not add BOS/EOS even if the model asks for them");
  return [tok, tp, tf, o]() -> int {
    if (!tok->parsed()) return -1;
    if (tp->count() == 0 && tf->count() == 0) die("tokenize: give -p TEXT or -f FILE");
    return cmd_tokenize(o->model, tf->count() ? read_file(o->file) : o->text, o->no_bos);
  };
});

}  // namespace
}  // namespace ondi_cli
