// load_vocab: tokenizer.ggml.* -> Vocab. The file is untrusted: every array length, type and id is checked here so
// that the tokenizer can index without further checks.
#include "tokenizer/vocab.h"

#include <algorithm>
#include <array>
#include <string_view>

#include "gguf/gguf.h"

namespace ondi {

namespace {

Status fmt_error(const GgufFile& f, std::string msg) { return Status(Errc::format, f.name() + ": " + std::move(msg)); }

bool is_int_type(GgufValueType t) {
  switch (t) {
    case GgufValueType::UINT8:
    case GgufValueType::INT8:
    case GgufValueType::UINT16:
    case GgufValueType::INT16:
    case GgufValueType::UINT32:
    case GgufValueType::INT32:
    case GgufValueType::UINT64:
    case GgufValueType::INT64:
      return true;
    default:
      return false;
  }
}

// Reads an optional token id. Absent, or -1 (a "none" marker some converters write), leaves `id` at -1; anything
// else must index the vocabulary.
Status read_id(const GgufFile& f, std::string_view key, uint64_t n_vocab, int32_t& id) {
  id = -1;
  if (f.find(key) == nullptr) return Status::Ok();
  auto v = f.get_i64(key);
  if (!v.ok()) return v.status();
  if (*v == -1) return Status::Ok();
  if (*v < 0 || static_cast<uint64_t>(*v) >= n_vocab) {
    return fmt_error(f, std::string(key) + " = " + std::to_string(*v) + " is out of range for a vocabulary of " +
                            std::to_string(n_vocab) + " tokens");
  }
  id = static_cast<int32_t>(*v);
  return Status::Ok();
}

Status read_bool(const GgufFile& f, std::string_view key, bool& out) {
  if (f.find(key) == nullptr) return Status::Ok();  // keep the default
  auto v = f.get_bool(key);
  if (!v.ok()) return v.status();
  out = *v;
  return Status::Ok();
}

// Texts that mark the end of a turn or of the text in the chat templates of common model families. The
// metadata names at most eos/eot/eom; the others are found by their text (as the reference engine does).
constexpr std::array<std::string_view, 10> kEndMarkers = {
    "<|eot_id|>",    "<|eom_id|>", "<|im_end|>", "<|end|>",         "<end_of_turn>",
    "<|endoftext|>", "<EOT>",      "_<EOT>",     "<|end_of_text|>", "<｜end▁of▁sentence｜>"};

}  // namespace

Result<Vocab> load_vocab(const GgufFile& f) {
  Vocab v;
  // A file without tokenizer.ggml.model carries no vocabulary at all; treat it like "none".
  v.model = "none";
  if (f.find("tokenizer.ggml.model") != nullptr) {
    ONDI_ASSIGN_OR_RETURN(v.model, f.get_str("tokenizer.ggml.model"));
  }
  if (f.find("tokenizer.ggml.pre") != nullptr) {
    ONDI_ASSIGN_OR_RETURN(v.pre, f.get_str("tokenizer.ggml.pre"));
  }

  // tokens
  if (const GgufValue* t = f.find("tokenizer.ggml.tokens"); t != nullptr && v.model != "none") {
    if (t->type != GgufValueType::ARRAY || t->elem_type != GgufValueType::STRING) {
      return fmt_error(
          f, "tokenizer.ggml.tokens must be an array of strings, got " + std::string(gguf_value_type_name(t->type)));
    }
    if (t->arr_str.size() > static_cast<size_t>(INT32_MAX))
      return fmt_error(f, "tokenizer.ggml.tokens: too many tokens");
    v.tokens = t->arr_str;
  } else if (v.model != "none") {
    return fmt_error(f, "tokenizer.ggml.model is \"" + v.model + "\" but tokenizer.ggml.tokens is missing");
  }
  const size_t n = v.tokens.size();

  if (n == 0) {
    // No token list: the model still declares how many rows its embedding has.
    if (const GgufValue* a = f.find("general.architecture"); a != nullptr && a->type == GgufValueType::STRING) {
      const std::string key = a->str + ".vocab_size";
      if (f.find(key) != nullptr) {
        ONDI_ASSIGN_OR_RETURN(v.n_vocab_declared, f.get_u32(key));
      }
    }
  } else {
    v.n_vocab_declared = static_cast<uint32_t>(n);
  }

  if (n > 0) {
    if (const GgufValue* s = f.find("tokenizer.ggml.scores"); s != nullptr) {
      if (s->type != GgufValueType::ARRAY || (s->elem_type != GgufValueType::FLOAT32 &&
                                              s->elem_type != GgufValueType::FLOAT64 && !is_int_type(s->elem_type))) {
        return fmt_error(f, "tokenizer.ggml.scores must be a numeric array");
      }
      if (s->arr_num.size() != n) {
        return fmt_error(f, "tokenizer.ggml.scores has " + std::to_string(s->arr_num.size()) + " entries for " +
                                std::to_string(n) + " tokens");
      }
      v.scores.reserve(n);
      for (double d : s->arr_num) v.scores.push_back(static_cast<float>(d));
    }
    if (const GgufValue* tt = f.find("tokenizer.ggml.token_type"); tt != nullptr) {
      if (tt->type != GgufValueType::ARRAY || !is_int_type(tt->elem_type)) {
        return fmt_error(f, "tokenizer.ggml.token_type must be an integer array");
      }
      // The reader keeps integer arrays exactly in arr_int; a value built by hand may fill only arr_num.
      const bool exact = !tt->arr_int.empty() || tt->arr_num.empty();
      const size_t count = exact ? tt->arr_int.size() : tt->arr_num.size();
      if (count != n) {
        return fmt_error(f, "tokenizer.ggml.token_type has " + std::to_string(count) + " entries for " +
                                std::to_string(n) + " tokens");
      }
      v.token_types.reserve(n);
      for (size_t i = 0; i < n; ++i) {
        const double d = exact ? 0.0 : tt->arr_num[i];
        const int64_t ty = exact ? tt->arr_int[i] : (d >= -1 && d <= 16 ? static_cast<int64_t>(d) : -1);
        if (ty < 0 || ty > static_cast<int64_t>(TokenType::byte)) {
          return fmt_error(f, "tokenizer.ggml.token_type[" + std::to_string(i) + "] = " + std::to_string(ty) +
                                  " is not a known token type");
        }
        v.token_types.push_back(static_cast<int32_t>(ty));
      }
    }
    if (const GgufValue* m = f.find("tokenizer.ggml.merges"); m != nullptr) {
      if (m->type != GgufValueType::ARRAY) return fmt_error(f, "tokenizer.ggml.merges must be an array");
      if (m->elem_type == GgufValueType::STRING) {
        v.merges = m->arr_str;
      } else if (m->elem_type == GgufValueType::ARRAY) {
        // Newer tokenizer.json files write merges as [left, right] pairs; accept that layout too.
        v.merges.reserve(m->arr_nested.size());
        for (const GgufValue& p : m->arr_nested) {
          if (p.elem_type != GgufValueType::STRING || p.arr_str.size() != 2) {
            return fmt_error(f, "tokenizer.ggml.merges: a nested merge must be a pair of strings");
          }
          v.merges.push_back(p.arr_str[0] + " " + p.arr_str[1]);
        }
      } else {
        return fmt_error(f, "tokenizer.ggml.merges must be an array of strings");
      }
      for (size_t i = 0; i < v.merges.size(); ++i) {
        // The separator is the first space after the first character (a part never starts with a raw space in
        // byte-level vocabularies, but the left part may itself be a space in others).
        const std::string& s = v.merges[i];
        const size_t sp = s.size() > 1 ? s.find(' ', 1) : std::string::npos;
        if (sp == std::string::npos || sp + 1 >= s.size()) {
          return fmt_error(f, "tokenizer.ggml.merges[" + std::to_string(i) + "] = \"" + s.substr(0, 64) +
                                  "\" is not \"left right\"");
        }
      }
    }
  }

  // Special ids are checked against the token list, or against the declared size when there is none.
  const uint64_t id_limit = n > 0 ? n : v.n_vocab_declared;
  ONDI_RETURN_IF_ERROR(read_id(f, "tokenizer.ggml.bos_token_id", id_limit, v.bos));
  ONDI_RETURN_IF_ERROR(read_id(f, "tokenizer.ggml.eos_token_id", id_limit, v.eos));
  ONDI_RETURN_IF_ERROR(read_id(f, "tokenizer.ggml.eot_token_id", id_limit, v.eot));
  ONDI_RETURN_IF_ERROR(read_id(f, "tokenizer.ggml.eom_token_id", id_limit, v.eom));
  ONDI_RETURN_IF_ERROR(read_id(f, "tokenizer.ggml.unknown_token_id", id_limit, v.unk));
  ONDI_RETURN_IF_ERROR(read_id(f, "tokenizer.ggml.padding_token_id", id_limit, v.pad));

  // Default BOS policy as in the reference engine: SentencePiece vocabularies and the Llama 3 pre-tokenizer add
  // BOS; other byte-level BPE vocabularies (GPT-2, Qwen) do not. The metadata key, when present, wins.
  v.add_bos =
      v.model == "llama" ||
      (v.model == "gpt2" && (v.pre == "llama-bpe" || v.pre == "llama3" || v.pre == "llama-v3" || v.pre == "falcon3"));
  v.add_eos = false;
  ONDI_RETURN_IF_ERROR(read_bool(f, "tokenizer.ggml.add_bos_token", v.add_bos));
  ONDI_RETURN_IF_ERROR(read_bool(f, "tokenizer.ggml.add_eos_token", v.add_eos));

  ONDI_RETURN_IF_ERROR(read_bool(f, "tokenizer.ggml.add_space_prefix", v.add_space_prefix));
  compute_eog(v);
  return v;
}

void compute_eog(Vocab& v) {
  const size_t n = v.tokens.size();
  // eot / eom by text when the metadata does not name them; markers in order of preference (Qwen has both
  // <|endoftext|> and <|im_end|>; the end of a chat turn is <|im_end|>).
  auto find_token = [&](std::string_view text) -> int32_t {
    for (size_t i = 0; i < n; ++i) {
      if (v.tokens[i] == text) return static_cast<int32_t>(i);
    }
    return -1;
  };
  if (n > 0 && v.eot < 0) {
    for (std::string_view m :
         {"<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<EOT>", "_<EOT>", "<|endoftext|>"}) {
      if ((v.eot = find_token(m)) >= 0) break;
    }
  }
  if (n > 0 && v.eom < 0) v.eom = find_token("<|eom_id|>");

  for (int32_t id : {v.eos, v.eot, v.eom}) {
    if (id >= 0) v.eog.push_back(id);
  }
  for (size_t i = 0; i < n; ++i) {
    const std::string& t = v.tokens[i];
    if (std::find(kEndMarkers.begin(), kEndMarkers.end(), t) != kEndMarkers.end()) {
      v.eog.push_back(static_cast<int32_t>(i));
    }
  }
  std::sort(v.eog.begin(), v.eog.end());
  v.eog.erase(std::unique(v.eog.begin(), v.eog.end()), v.eog.end());
}

}  // namespace ondi
