// A model's vocabulary as stored in GGUF (tokenizer.ggml.*).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/status.h"

namespace ondi {

class GgufFile;

// tokenizer.ggml.token_type values
enum class TokenType : int32_t {
  undefined = 0,
  normal = 1,
  unknown = 2,
  control = 3,
  user_defined = 4,
  unused = 5,
  byte = 6
};

struct Vocab {
  std::string model;  // tokenizer.ggml.model: "gpt2", "llama", "none", ...
  std::string pre;    // tokenizer.ggml.pre: "llama-bpe", "qwen2", "default", ...
  std::vector<std::string> tokens;
  std::vector<float> scores;         // empty if absent
  std::vector<int32_t> token_types;  // empty if absent (then all normal)
  std::vector<std::string> merges;   // "a b" pairs, rank = index
  int32_t bos = -1, eos = -1, eot = -1, eom = -1, unk = -1, pad = -1;
  bool add_bos = false, add_eos = false;
  std::vector<int32_t> eog;       // every end-of-generation id (eos, eot, eom and known end tokens), sorted, unique
  uint32_t n_vocab_declared = 0;  // <arch>.vocab_size when there is no token list
};

// Reads tokenizer.ggml.* from a GGUF file; every id is range-checked against the token list.
Result<Vocab> load_vocab(const GgufFile& f);

}  // namespace ondi
