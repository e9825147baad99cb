#include "hf_tokenizer.h"

#include <fstream>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>

namespace ondi::gen {
namespace {

using nlohmann::json;

json read_json(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot open " + path);
  try {
    return json::parse(in);
  } catch (const json::exception& e) {
    throw std::runtime_error(path + ": invalid JSON: " + e.what());
  }
}

// tokenizer_config.json writes special tokens either as a string or as {"content": "..."}.
std::optional<std::string> token_content(const json& cfg, const char* key) {
  auto it = cfg.find(key);
  if (it == cfg.end() || it->is_null()) return std::nullopt;
  if (it->is_string()) return it->get<std::string>();
  if (it->is_object() && it->contains("content") && (*it)["content"].is_string())
    return (*it)["content"].get<std::string>();
  return std::nullopt;
}

}  // namespace

HfTokenizer load_hf_tokenizer(const std::string& path, const std::string& config_path) {
  const json doc = read_json(path);
  if (!doc.is_object() || !doc.contains("model") || !doc["model"].is_object())
    throw std::runtime_error(path + ": no \"model\" object (not a tokenizer.json?)");
  const json& model = doc["model"];
  if (model.contains("type") && model["type"] != "BPE")
    throw std::runtime_error(path + ": model.type is " + model["type"].dump() + ", only BPE is supported");
  if (!model.contains("vocab") || !model["vocab"].is_object())
    throw std::runtime_error(path + ": model.vocab is missing or not an object");

  // id -> token from the vocabulary and the added tokens; added tokens override the vocabulary's type.
  std::map<int64_t, std::pair<std::string, int32_t>> by_id;
  constexpr int64_t kMaxId = std::numeric_limits<int32_t>::max() - 1;
  auto put = [&](int64_t id, const std::string& text, int32_t type, const char* where) {
    if (id < 0 || id > kMaxId)
      throw std::runtime_error(path + ": " + where + ": id " + std::to_string(id) + " out of range");
    auto [it, inserted] = by_id.try_emplace(id, text, type);
    if (!inserted) {
      if (it->second.first != text)
        throw std::runtime_error(path + ": id " + std::to_string(id) + " names both " + json(it->second.first).dump() +
                                 " and " + json(text).dump());
      it->second.second = type;
    }
  };
  for (const auto& [text, id] : model["vocab"].items()) {
    if (!id.is_number_integer())
      throw std::runtime_error(path + ": model.vocab[" + json(text).dump() + "] is not an integer");
    put(id.get<int64_t>(), text, kTokenNormal, "model.vocab");
  }
  if (doc.contains("added_tokens") && doc["added_tokens"].is_array()) {
    for (const json& t : doc["added_tokens"]) {
      if (!t.is_object() || !t.contains("id") || !t.contains("content") || !t["id"].is_number_integer() ||
          !t["content"].is_string())
        throw std::runtime_error(path + ": added_tokens entry without integer id and string content: " + t.dump());
      // Special tokens (BOS, EOS, chat markers) are control tokens; the others are user-defined words that the
      // tokenizer matches literally before BPE.
      const bool special = t.value("special", false);
      put(t["id"].get<int64_t>(), t["content"].get<std::string>(), special ? kTokenControl : kTokenUserDefined,
          "added_tokens");
    }
  }
  if (by_id.empty()) throw std::runtime_error(path + ": empty vocabulary");

  HfTokenizer tok;
  const int64_t n = by_id.rbegin()->first + 1;
  tok.tokens.resize(static_cast<size_t>(n));
  tok.token_types.assign(static_cast<size_t>(n), kTokenUnused);
  for (int64_t i = 0; i < n; ++i) tok.tokens[static_cast<size_t>(i)] = "[PAD" + std::to_string(i) + "]";
  for (const auto& [id, entry] : by_id) {
    tok.tokens[static_cast<size_t>(id)] = entry.first;
    tok.token_types[static_cast<size_t>(id)] = entry.second;
  }

  // Merges: older files write "a b", newer ones ["a", "b"] (which allows spaces inside a part; GGUF's string
  // form cannot express those, so they are rejected rather than written ambiguously).
  if (model.contains("merges")) {
    if (!model["merges"].is_array()) throw std::runtime_error(path + ": model.merges is not an array");
    tok.merges.reserve(model["merges"].size());
    size_t i = 0;
    for (const json& m : model["merges"]) {
      if (m.is_string()) {
        const std::string s = m.get<std::string>();
        if (s.find(' ') == std::string::npos || s.front() == ' ' || s.back() == ' ')
          throw std::runtime_error(path + ": merge " + std::to_string(i) + " " + m.dump() + " is not \"left right\"");
        tok.merges.push_back(s);
      } else if (m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string()) {
        const std::string a = m[0].get<std::string>(), b = m[1].get<std::string>();
        if (a.empty() || b.empty() || a.find(' ') != std::string::npos || b.find(' ') != std::string::npos)
          throw std::runtime_error(path + ": merge " + std::to_string(i) + " " + m.dump() +
                                   " has an empty part or a space inside a part");
        tok.merges.push_back(a + " " + b);
      } else {
        throw std::runtime_error(path + ": merge " + std::to_string(i) + " " + m.dump() +
                                 " is neither \"a b\" nor [a, b]");
      }
      ++i;
    }
  }

  auto find_id = [&](const std::string& text) -> std::optional<int32_t> {
    for (const auto& [id, entry] : by_id)
      if (entry.first == text) return static_cast<int32_t>(id);
    return std::nullopt;
  };

  if (!config_path.empty()) {
    const json cfg = read_json(config_path);
    if (auto s = token_content(cfg, "bos_token")) {
      tok.bos_id = find_id(*s);
      if (!tok.bos_id)
        throw std::runtime_error(config_path + ": bos_token " + json(*s).dump() + " is not in the vocabulary");
    }
    if (auto s = token_content(cfg, "eos_token")) {
      tok.eos_id = find_id(*s);
      if (!tok.eos_id)
        throw std::runtime_error(config_path + ": eos_token " + json(*s).dump() + " is not in the vocabulary");
    }
    if (cfg.contains("add_bos_token") && cfg["add_bos_token"].is_boolean())
      tok.add_bos = cfg["add_bos_token"].get<bool>();
    if (cfg.contains("chat_template") && cfg["chat_template"].is_string())
      tok.chat_template = cfg["chat_template"].get<std::string>();
  } else {
    // The names used by the Llama 3, Qwen and GPT-2 / SentencePiece families, in order of preference.
    for (const char* s : {"<|begin_of_text|>", "<s>", "<|endoftext|>"})
      if (!tok.bos_id) tok.bos_id = find_id(s);
    for (const char* s : {"<|eot_id|>", "<|im_end|>", "<|end_of_text|>", "</s>", "<|endoftext|>"})
      if (!tok.eos_id) tok.eos_id = find_id(s);
  }
  return tok;
}

}  // namespace ondi::gen
