// Byte-level BPE ("gpt2" GGUF tokenizer model) — internal header; users go through Tokenizer::create.
#pragma once

#include <memory>

#include "core/status.h"
#include "tokenizer/tokenizer.h"

namespace ondi::tok {

// Errc::unsupported for a pre-tokenizer ondi does not implement, Errc::format for a malformed merge list.
Result<std::unique_ptr<Tokenizer>> create_bpe_tokenizer(Vocab vocab);

}  // namespace ondi::tok
