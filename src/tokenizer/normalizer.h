// Text normalizers of Hugging Face tokenizers (internal header): Unicode normalization forms, lowercasing, and the
// SentencePiece space handling (Prepend / Replace / Metaspace).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "tokenizer/vocab.h"

namespace ondi::tok {

// Applies the chain to well-formed UTF-8 `text`. `first` is true for the text before any added token (Metaspace's
// prepend_scheme "first"); `no_prefix` skips the Prepend / Metaspace prefix (text that continues after invalid
// bytes). Unicode data comes from utf8proc (Unicode 15).
std::string normalize(const std::vector<NormalizerStep>& steps, std::string_view text, bool first,
                      bool no_prefix = false);

// JavaScript's String.prototype.trim set (White_Space plus U+FEFF), which Hugging Face's lstrip/rstrip use.
size_t ws_prefix_len(std::string_view s);
size_t ws_suffix_len(std::string_view s);

}  // namespace ondi::tok
