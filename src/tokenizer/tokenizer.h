// Text <-> token ids for the vocabularies ondi supports: byte-level BPE ("gpt2": Llama 3, Qwen2/3, GPT-2, SmolLM,
// DeepSeek V3, gpt-oss) and SentencePiece-style BPE with byte fallback ("llama": Llama 2, Mistral, Gemma 3), from
// GGUF metadata or from a Hugging Face tokenizer.json. docs/TOKENIZERS.md describes the parity with Hugging Face.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "tokenizer/vocab.h"

namespace ondi {

class Tokenizer {
 public:
  virtual ~Tokenizer() = default;
  // Errc::unsupported for a tokenizer model or pre-tokenizer ondi does not implement.
  static Result<std::unique_ptr<Tokenizer>> create(Vocab vocab);
  // A Hugging Face tokenizer: a directory with tokenizer.json (+ tokenizer_config.json), or tokenizer.json itself.
  static Result<std::unique_ptr<Tokenizer>> from_hf(const std::string& path);

  // add_special: BOS/EOS as the metadata (or tokenizer.json's post-processor / tokenizer_config.json) asks.
  // parse_special: special (control) tokens written in the text (e.g. "<|eot_id|>") become their ids instead of
  // being split into ordinary pieces (leftmost, longest match); when false such text is ordinary text (safe for
  // untrusted input). Non-special added tokens (user-defined, e.g. Qwen's "<think>") are always matched, as HF does.
  // Input that is not well-formed UTF-8 is accepted and kept byte-exact: each maximal run of ill-formed bytes is cut
  // out like an added token and encoded from its raw bytes (byte-level: BPE over its bytes; SentencePiece: <0xXX>
  // tokens), with no U+FFFD substitution, so decode(encode(s)) == s for any s (up to the normalizer, e.g. NFC).
  // Thread-safe: concurrent encode() calls on one Tokenizer are allowed.
  virtual Result<std::vector<int32_t>> encode(std::string_view text, bool add_special, bool parse_special) const = 0;
  // The raw bytes a token stands for (may be an incomplete UTF-8 sequence). Control tokens give their
  // text only when `special` is true.
  virtual std::string token_to_piece(int32_t id, bool special = false) const = 0;
  // The concatenated pieces, less SentencePiece's dummy-prefix space at the start (as HF's decoder).
  std::string decode(const std::vector<int32_t>& ids, bool special = false) const;

  const Vocab& vocab() const { return vocab_; }
  int32_t n_vocab() const { return static_cast<int32_t>(vocab_.tokens.size()); }
  bool is_eog(int32_t id) const;

 protected:
  explicit Tokenizer(Vocab v) : vocab_(std::move(v)) {}
  Vocab vocab_;
};

// Streaming detokenizer: returns only complete UTF-8 characters, holding back a partial sequence until
// the token that completes it arrives. Invalid bytes are passed through as U+FFFD once known to be invalid:
// one U+FFFD per maximal ill-formed subpart (Unicode's recommended practice, as Python's errors="replace"), e.g.
// "\xE2\x82A" gives U+FFFD then "A"; a lead byte is held back only while the bytes after it can still complete it.
class Utf8StreamDecoder {
 public:
  std::string push(std::string_view bytes);
  std::string flush();  // whatever is held back (as U+FFFD if incomplete)

 private:
  std::string pending_;
};

}  // namespace ondi
