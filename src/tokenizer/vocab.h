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

// A token that Hugging Face's tokenizer.json lists in "added_tokens": cut out of the text before normalization (or
// after it, when `normalized`), never split. Special ones are matched only when the caller parses special tokens;
// the others always are (as Hugging Face does).
struct AddedToken {
  int32_t id = -1;
  std::string content;
  bool special = true;
  bool lstrip = false, rstrip = false;  // swallow the whitespace before / after the token
  bool normalized = false;
};

// One step of a normalizer chain (tokenizer.json "normalizer"; GGUF SentencePiece vocabularies get the equivalent).
struct NormalizerStep {
  enum class Kind { nfc, nfd, nfkc, nfkd, lowercase, prepend, replace, metaspace_prepend, strip };
  Kind kind = Kind::nfc;
  std::string a, b;                  // prepend: a; replace: a -> b; metaspace_prepend: the replacement character a
  bool first_only = false;           // metaspace_prepend: prepend_scheme "first" (only the text before any added token)
  bool left = false, right = false;  // strip
};

// One regex split of the pre-tokenizer chain (tokenizer.json "Split"); how a match and the text between matches
// become pieces.
enum class SplitBehavior { isolated, removed, merged_with_previous, merged_with_next, contiguous };
struct PreSplit {
  std::string pattern;  // PCRE2 syntax (Oniguruma's as written in tokenizer.json is accepted as is)
  SplitBehavior behavior = SplitBehavior::isolated;
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
  bool add_space_prefix = true;   // tokenizer.ggml.add_space_prefix (SentencePiece "llama" model)

  // Filled by load_hf_vocab from tokenizer.json; a GGUF vocabulary leaves from_hf false and the tokenizer derives
  // the same pipeline from model, pre and token_types.
  bool from_hf = false;
  std::vector<AddedToken> added;
  std::vector<NormalizerStep> normalizer;
  std::vector<PreSplit> pre_splits;
  bool byte_prefix_space = false;  // ByteLevel add_prefix_space: a space before text that does not start with one
  bool ignore_merges = false;      // a word that is itself a vocabulary entry is emitted without merging
  bool byte_fallback = false;      // unknown characters become <0xXX> byte tokens
  bool fuse_unk = false;           // consecutive unknown tokens become one
  int32_t decode_strip = 0;        // leading spaces the decoder removes (SentencePiece's dummy prefix)
  std::vector<int32_t> prefix_ids, suffix_ids;  // what add_special adds around the text
};

// Reads a Hugging Face tokenizer: `path` is a directory holding tokenizer.json (and optionally
// tokenizer_config.json) or the tokenizer.json file itself. Errc::not_found / format / unsupported name the file and
// the field.
Result<Vocab> load_hf_vocab(const std::string& path);

// Fills eot/eom (by text when absent) and the sorted end-of-generation list from the token list.
void compute_eog(Vocab& v);

// Reads tokenizer.ggml.* from a GGUF file; every id is range-checked against the token list.
Result<Vocab> load_vocab(const GgufFile& f);

}  // namespace ondi
