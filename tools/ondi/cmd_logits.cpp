// `ondi logits MODEL (-f FILE | --ids "1 2 3") -o OUT`: raw logits in the golden *.logits format.
#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstring>
#include <sstream>

#include "common.h"

namespace ondi_cli {
namespace {

std::vector<int32_t> parse_ids(const std::string& s) {
  std::vector<int32_t> ids;
  std::string tok;
  std::istringstream in(s);
  while (in >> tok) {
    if (tok.rfind("ids:", 0) == 0) tok = tok.substr(4);  // accept the golden files' "ids:" prefix
    if (tok.empty()) continue;
    char* end = nullptr;
    errno = 0;
    const long v = std::strtol(tok.c_str(), &end, 10);
    if (errno || *end || v < 0 || v > INT32_MAX) die("--ids: '" + tok + "' is not a token id");
    ids.push_back(static_cast<int32_t>(v));
  }
  return ids;
}

int cmd_logits(const std::string& path, const std::string& text, bool have_text, const std::string& ids_str,
               const std::string& out, int64_t last, bool no_bos, const Common& c) {
  ModelHandle model(path);
  std::vector<int32_t> ids;
  if (have_text) {
    ids = tokenize(model.m, text, !no_bos);
  } else {
    if (!no_bos) ids = prefix_ids(model.m);
    std::vector<int32_t> more = parse_ids(ids_str);
    ids.insert(ids.end(), more.begin(), more.end());
  }
  if (ids.empty()) die("no tokens to evaluate");
  const size_t n_keep = last < 0 ? ids.size() : static_cast<size_t>(last);
  if (n_keep > ids.size())
    die("--last " + std::to_string(last) + " exceeds the " + std::to_string(ids.size()) + " tokens");
  Common cc = c;
  if (cc.ctx < static_cast<int>(ids.size())) cc.ctx = static_cast<int>(ids.size());
  cc.outputs = static_cast<int>(std::max<size_t>(1, std::min<size_t>(n_keep, static_cast<size_t>(cc.batch))));
  SessionHandle session(model.m, cc);
  const ondi_model_info info = model_info(model.m);
  std::vector<float> logits(n_keep * static_cast<size_t>(info.n_vocab));
  check(ondi_session_eval(session.s, ids.data(), ids.size(), n_keep, logits.data()), "evaluating");
  // Written to a temporary name and renamed, so an interrupted run never leaves a plausible-looking file.
  const std::string tmp = out + ".tmp";
  FILE* f = std::fopen(tmp.c_str(), "wb");
  if (!f) die("cannot write '" + tmp + "': " + std::strerror(errno));
  const uint32_t header[4] = {0x5354474Cu, static_cast<uint32_t>(ids.size()), static_cast<uint32_t>(info.n_vocab),
                              static_cast<uint32_t>(n_keep)};
  bool ok = std::fwrite(header, sizeof header, 1, f) == 1;
  ok = ok && std::fwrite(ids.data(), sizeof(int32_t), ids.size(), f) == ids.size();
  ok = ok && std::fwrite(logits.data(), sizeof(float), logits.size(), f) == logits.size();
  ok = (std::fclose(f) == 0) && ok;
  if (!ok || std::rename(tmp.c_str(), out.c_str()) != 0) {
    std::remove(tmp.c_str());
    die("writing '" + out + "' failed");
  }
  return 0;
}

const RegisterCommand kRegister(40, [](CLI::App& app) -> Runner {
  struct Opts {
    std::string model, file, ids, out;
    int64_t last = -1;
    bool no_bos = false;
    Common common;
  };
  auto o = std::make_shared<Opts>();
  auto* lg = app.add_subcommand("logits", "Evaluate tokens and write their raw logits (golden *.logits format)");
  lg->add_option("MODEL", o->model, "GGUF model file")->required();
  auto* lf = lg->add_option("-f,--file", o->file, "Text file to tokenize and evaluate");
  auto* li = lg->add_option("--ids", o->ids, "Token ids to evaluate, e.g. \"1 2 3\"");
  lf->excludes(li);
  lg->add_option("-o,--output", o->out, "Output file")->required();
  lg->add_option("--last", o->last, "Keep the logits of the last N positions (default: all)")
      ->check(CLI::NonNegativeNumber);
  lg->add_flag("--no-bos", o->no_bos, "Do not add BOS even if the model asks for it");
  add_common(lg, o->common);
  return [lg, lf, li, o]() -> int {
    if (!lg->parsed()) return -1;
    if (lf->count() == 0 && li->count() == 0) die("logits: give -f FILE or --ids \"...\"");
    return cmd_logits(o->model, lf->count() ? read_file(o->file) : "", lf->count() > 0, o->ids, o->out, o->last,
                      o->no_bos, o->common);
  };
});

}  // namespace
}  // namespace ondi_cli
