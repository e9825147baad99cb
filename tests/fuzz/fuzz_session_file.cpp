// libFuzzer target: load_session() of a session file from a stranger into a live context. The model is
// tiny_model.h's session model, built in memory once, with two contexts (F16 and Q8_0 KV caches). Each input is
// loaded twice into both contexts: as it is, and with its model fingerprint and trailing XXH3 checksum patched to
// the right values, so that mutations reach the checks behind them (shapes, sizes, token ids, logits, KV rows).
// Any outcome but an error Status, or a loaded sequence that decodes one more token, is a bug.
#include <unistd.h>
#include <xxhash.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "model/model.h"
#include "runtime/context.h"
#include "runtime/session_file.h"
#include "tiny_model.h"

namespace {

[[noreturn]] void bug(const char* what) {
  std::fprintf(stderr, "fuzz_session_file: %s\n", what);
  std::abort();
}

std::unique_ptr<ondi::Model> g_model;
std::unique_ptr<ondi::Context> g_ctx[2];
std::string g_path;

void put_u64(uint8_t* p, uint64_t v) {
  for (int i = 0; i < 8; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
}

void load(ondi::Context& ctx, const std::vector<uint8_t>& bytes) {
  std::ofstream(g_path, std::ios::binary | std::ios::trunc)
      .write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  ctx.seq_truncate(0, 0);
  auto st = ondi::load_session(ctx, 0, g_path);
  if (!st.ok()) {
    if (st.status().message().empty()) bug("error without a message");
    return;
  }
  const int32_t n = ctx.seq_len(0);
  if (static_cast<size_t>(n) != st->tokens.size()) bug("sequence length differs from the session's tokens");
  if (!st->last_logits.empty() && st->last_logits.size() != static_cast<size_t>(ctx.n_vocab()))
    bug("last_logits is neither empty nor n_vocab long");
  for (int32_t t : st->tokens)
    if (t < 0 || t >= ctx.n_vocab()) bug("loaded a token outside the vocabulary");
  if (n >= ctx.params().n_ctx) return;
  ondi::Batch b;
  b.add(0, n, 0, true);
  if (!ctx.decode(b).ok()) bug("a loaded session cannot decode its next token");
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  static const std::vector<uint8_t> bytes = ondi::fuzz::tiny_model(ondi::fuzz::session_model_shape());
  auto file = ondi::GgufFile::from_memory(bytes.data(), bytes.size(), "session-model.gguf");
  if (!file.ok()) bug("cannot read the session model");
  auto model = ondi::Model::load(std::move(file).value());
  if (!model.ok()) bug("cannot load the session model");
  g_model = std::move(model).value();
  const ondi::GgmlType kv[2] = {ondi::GgmlType::F16, ondi::GgmlType::Q8_0};
  for (int i = 0; i < 2; ++i) {
    ondi::ContextParams cp;
    cp.n_ctx = ondi::fuzz::kSessionCtx;
    cp.n_batch = ondi::fuzz::kSessionCtx;
    cp.n_threads = 1;
    cp.kv_type = kv[i];
    auto ctx = ondi::Context::create(*g_model, cp);
    if (!ctx.ok()) bug("cannot create the session contexts");
    g_ctx[i] = std::move(ctx).value();
  }
  g_path = (std::filesystem::temp_directory_path() / ("ondi-fuzz-session-" + std::to_string(getpid()))).string();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::vector<uint8_t> bytes(data, data + size);
  for (auto& ctx : g_ctx) load(*ctx, bytes);
  if (size >= 56) {
    put_u64(bytes.data() + 16, ondi::model_fingerprint(*g_model));
    put_u64(bytes.data() + size - 8, XXH3_64bits(bytes.data(), size - 8));
    for (auto& ctx : g_ctx) load(*ctx, bytes);
  }
  return 0;
}
