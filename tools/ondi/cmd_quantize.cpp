// `ondi quantize IN OUT TYPE`: re-encodes an F32/F16/BF16 model into a smaller file type.
#include <cctype>
#include <cstdio>
#include <memory>
#include <string>

#include "common.h"

namespace ondi_cli {
namespace {

struct FileTypeName {
  const char* name;
  int ftype;
};
constexpr FileTypeName kTypes[] = {{"Q8_0", ONDI_FTYPE_Q8_0},     {"Q4_0", ONDI_FTYPE_Q4_0},
                                   {"Q4_K_M", ONDI_FTYPE_Q4_K_M}, {"Q5_K_M", ONDI_FTYPE_Q5_K_M},
                                   {"Q6_K", ONDI_FTYPE_Q6_K},     {"IQ4_NL", ONDI_FTYPE_IQ4_NL}};

int cmd_quantize(const std::string& in, const std::string& out, std::string type, int threads) {
  for (char& ch : type) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  int ftype = -1;
  std::string known;
  for (const auto& t : kTypes) {
    if (type == t.name) ftype = t.ftype;
    known += std::string(known.empty() ? "" : ", ") + t.name;
  }
  if (ftype < 0) die("unknown quantization type '" + type + "' (expected one of " + known + ")");
  ondi_quantize_params p = ondi_quantize_params_default();
  p.n_threads = threads;
  check(ondi_model_quantize(in.c_str(), out.c_str(), ftype, &p), "quantizing");
  std::printf("wrote %s (%s)\n", out.c_str(), type.c_str());
  return 0;
}

const RegisterCommand kRegister(75, [](CLI::App& app) -> Runner {
  struct Opts {
    std::string in, out, type;
    int threads = 0;
  };
  auto o = std::make_shared<Opts>();
  auto* q =
      app.add_subcommand("quantize", "Re-encode an F32/F16/BF16 model to Q8_0, Q4_0, Q4_K_M, Q5_K_M, Q6_K or IQ4_NL");
  q->add_option("IN", o->in, "Input GGUF model (F32, F16 or BF16 weights)")->required();
  q->add_option("OUT", o->out, "Output GGUF file (written atomically)")->required();
  q->add_option("TYPE", o->type, "Q8_0, Q4_0, Q4_K_M, Q5_K_M, Q6_K or IQ4_NL")->required();
  q->add_option("-t,--threads", o->threads, "Threads (0: one per hardware thread)")->check(CLI::Range(0, 1024));
  return [q, o]() -> int {
    if (!q->parsed()) return -1;
    return cmd_quantize(o->in, o->out, o->type, o->threads);
  };
});

}  // namespace
}  // namespace ondi_cli
