// Regex pre-tokenizers for byte-level BPE (internal header): split text into the "words" that BPE merges within.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/status.h"
#include "tokenizer/vocab.h"

namespace ondi::tok {

// A chain of PCRE2 regexes (UTF + UCP, JIT-compiled when the library supports it). Each regex splits every
// piece produced by the previous one with Hugging Face's "Isolated" behaviour: each match is a piece and so is
// each non-empty stretch between matches. The compiled patterns are immutable and shared by all threads; the
// per-call matching state lives in split().
class PreTokenizer {
 public:
  // Compiles the patterns; Errc::internal (with PCRE2's message) if one does not compile.
  static Result<std::unique_ptr<PreTokenizer>> create(const std::vector<std::string>& patterns);
  // The same with each split's behaviour as in tokenizer.json (Isolated, Removed, MergedWithPrevious/Next,
  // Contiguous). An empty chain gives the whole text as one piece.
  static Result<std::unique_ptr<PreTokenizer>> create(const std::vector<PreSplit>& splits);
  ~PreTokenizer();
  PreTokenizer(const PreTokenizer&) = delete;
  PreTokenizer& operator=(const PreTokenizer&) = delete;

  // Appends the pieces of `text` (which must be well-formed UTF-8) as [begin, end) byte offsets relative to
  // text.data(). Errc::internal if PCRE2 reports a matching error (resource limits).
  Status split(std::string_view text, std::vector<std::pair<size_t, size_t>>& out) const;

 private:
  PreTokenizer() = default;
  struct Impl;
  static Result<std::unique_ptr<PreTokenizer>> build(const std::vector<PreSplit>& splits);
  std::unique_ptr<Impl> impl_;
};

// The regex chains of the pre-tokenizers ondi knows, by tokenizer.ggml.pre value; empty if unknown.
struct PreTokenizerSpec {
  std::vector<std::string> patterns;
  bool ignore_merges = false;  // a word that is itself a vocabulary entry is emitted without merging (Llama 3)
};
bool pretokenizer_spec(std::string_view pre, PreTokenizerSpec& spec);

}  // namespace ondi::tok
