// libFuzzer target: text from a stranger through the real Llama 3 and Qwen vocabularies (loaded once from the
// golden models). Input: one flags byte, then the text.
//   flags bit 0: vocabulary (0 llama3, 1 qwen2); bit 1: parse_special; bit 2: add_special; bit 3: decode with
//   special = true.
// Checks beyond "no crash": ids are in range; with parse_special and add_special off, decode(encode(s)) == s
// (tokenizer.h promises it for any bytes); streaming the pieces through Utf8StreamDecoder gives the same text as
// decoding in one push, and that text is well-formed UTF-8; decoding the input reinterpreted as arbitrary int32
// ids (most out of range) is safe.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "model/model.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/unicode.h"

#ifndef ONDI_GOLDEN_DIR
#define ONDI_GOLDEN_DIR "../shared/golden"
#endif

namespace {

std::unique_ptr<ondi::Model> g_models[2];

[[noreturn]] void bug(const char* what) {
  std::fprintf(stderr, "fuzz_tokenizer: %s\n", what);
  std::abort();
}

std::unique_ptr<ondi::Model> load(const char* name) {
  const char* env = std::getenv("ONDI_GOLDEN_DIR");
  const std::string path = std::string(env && *env ? env : ONDI_GOLDEN_DIR) + "/" + name;
  auto m = ondi::Model::load(path);
  if (!m.ok() || (*m)->tokenizer() == nullptr) {
    std::fprintf(stderr, "fuzz_tokenizer: cannot load %s: %s\n", path.c_str(),
                 m.ok() ? (*m)->tokenizer_error().c_str() : m.status().message().c_str());
    std::exit(1);
  }
  return std::move(m).value();
}

bool well_formed_utf8(const std::string& s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  for (size_t i = 0; i < s.size();) {
    const size_t len = ondi::tok::utf8_valid_len(p, s.size(), i);
    if (len == 0) return false;
    i += len;
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  g_models[0] = load("llama3-tok-f16.gguf");
  g_models[1] = load("qwen2-tok-f16.gguf");
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const uint8_t flags = data[0];
  const std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);
  const ondi::Tokenizer& tok = *g_models[flags & 1]->tokenizer();
  const bool parse_special = flags & 2, add_special = flags & 4, special = flags & 8;

  auto ids = tok.encode(text, add_special, parse_special);
  if (!ids.ok()) return 0;
  for (int32_t id : *ids)
    if (id < 0 || id >= tok.n_vocab()) bug("encode returned an id outside the vocabulary");
  if (!parse_special && !add_special && tok.decode(*ids) != text) bug("decode(encode(s)) != s");

  // Streaming: the pieces of a token sequence, pushed one by one, give what one push of their concatenation gives.
  ondi::Utf8StreamDecoder stream, whole;
  std::string streamed, all;
  for (int32_t id : *ids) {
    const std::string piece = tok.token_to_piece(id, special);
    all += piece;
    streamed += stream.push(piece);
  }
  streamed += stream.flush();
  const std::string at_once = whole.push(all) + whole.flush();
  if (streamed != at_once) bug("Utf8StreamDecoder output depends on how the bytes are split");
  if (!well_formed_utf8(streamed)) bug("Utf8StreamDecoder produced ill-formed UTF-8");

  // The raw text split at every 7th byte through the stream decoder: same rule, arbitrary bytes.
  ondi::Utf8StreamDecoder raw, raw_whole;
  std::string raw_out;
  for (size_t i = 0; i < text.size(); i += 7) raw_out += raw.push(text.substr(i, 7));
  raw_out += raw.flush();
  if (raw_out != raw_whole.push(text) + raw_whole.flush()) bug("Utf8StreamDecoder split dependence (raw bytes)");
  if (!well_formed_utf8(raw_out)) bug("Utf8StreamDecoder produced ill-formed UTF-8 (raw bytes)");

  // Untrusted ids (a request may carry any): out-of-range ones decode to nothing.
  std::vector<int32_t> any(text.size() / 4);
  if (!any.empty()) std::memcpy(any.data(), text.data(), any.size() * 4);
  (void)tok.decode(any, special);
  return 0;
}
