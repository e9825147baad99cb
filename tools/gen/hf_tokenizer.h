// Reads a Hugging Face tokenizer.json of a byte-level BPE model into the arrays GGUF stores
// (tokenizer.ggml.tokens / token_type / merges) plus the special token ids.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace ondi::gen {

// tokenizer.ggml.token_type values (GGUF spec).
enum TokenType : int32_t {
  kTokenNormal = 1,
  kTokenUnknown = 2,
  kTokenControl = 3,
  kTokenUserDefined = 4,
  kTokenUnused = 5,
  kTokenByte = 6,
};

struct HfTokenizer {
  std::vector<std::string> tokens;  // indexed by id; ids no entry names are filled with "[PAD<id>]" (unused)
  std::vector<int32_t> token_types;
  std::vector<std::string> merges;  // "left right", in priority order
  std::optional<int32_t> bos_id;
  std::optional<int32_t> eos_id;
  std::optional<bool> add_bos;  // from tokenizer_config.json when given
  std::string chat_template;    // from tokenizer_config.json when given
};

// Throws std::runtime_error with a message naming the file and the problem.
// `config_path` (optional, "" for none) is a tokenizer_config.json: bos_token, eos_token, add_bos_token,
// chat_template. Without it, bos/eos are guessed from well-known special token names.
HfTokenizer load_hf_tokenizer(const std::string& path, const std::string& config_path);

}  // namespace ondi::gen
