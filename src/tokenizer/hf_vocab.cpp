// load_hf_vocab: a Hugging Face tokenizer.json (+ tokenizer_config.json) -> Vocab. The files are untrusted: every
// field is type-checked (nlohmann-json without exceptions) and every id range-checked. Components ondi does not
// implement are refused with Errc::unsupported naming them, never silently ignored.
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <nlohmann/json.hpp>
#include <string>

#include "tokenizer/vocab.h"

namespace ondi {

namespace {

using json = nlohmann::json;

constexpr const char* kGpt2Regex = R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";
constexpr const char* kSpace = "\xE2\x96\x81";  // U+2581

struct Ctx {
  std::string file;
  Status err(Errc code, const std::string& field, const std::string& what) const {
    return Status(code, file + ": " + field + ": " + what);
  }
};

Result<json> read_json(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Result<json>(Errc::io, path + ": cannot open");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return Result<json>(Errc::format, path + ": not valid JSON");
  if (!j.is_object()) return Result<json>(Errc::format, path + ": expected a JSON object at the top level");
  return j;
}

bool get_bool(const json& o, const char* key, bool def) {
  auto it = o.find(key);
  return it != o.end() && it->is_boolean() ? it->get<bool>() : def;
}
std::string get_str(const json& o, const char* key) {
  auto it = o.find(key);
  return it != o.end() && it->is_string() ? it->get<std::string>() : std::string();
}
// A token named in tokenizer_config.json: a string or an AddedToken object {"content": ...}.
std::string token_text(const json& o, const char* key) {
  auto it = o.find(key);
  if (it == o.end()) return {};
  if (it->is_string()) return it->get<std::string>();
  if (it->is_object()) return get_str(*it, "content");
  return {};
}

// Split / Replace patterns: {"Regex": "..."} as is; {"String": "..."} as a literal.
bool pattern_of(const json& p, std::string& out, bool& is_regex) {
  if (!p.is_object()) return false;
  if (auto r = p.find("Regex"); r != p.end() && r->is_string()) {
    out = r->get<std::string>();
    is_regex = true;
    return true;
  }
  if (auto s = p.find("String"); s != p.end() && s->is_string()) {
    out = s->get<std::string>();
    is_regex = false;
    return true;
  }
  return false;
}

std::string escape_literal(const std::string& s) {
  std::string r;
  for (char c : s) {
    const unsigned char u = static_cast<unsigned char>(c);
    if (u < 0x80 && !std::isalnum(u)) r += '\\';
    r += c;
  }
  return r;
}

Status add_normalizer(const Ctx& cx, const json& n, Vocab& v) {
  if (n.is_null()) return Status::Ok();
  const std::string type = get_str(n, "type");
  using K = NormalizerStep::Kind;
  NormalizerStep st;
  if (type == "Sequence") {
    auto it = n.find("normalizers");
    if (it == n.end() || !it->is_array()) return cx.err(Errc::format, "normalizer", "Sequence without a list");
    for (const json& x : *it) ONDI_RETURN_IF_ERROR(add_normalizer(cx, x, v));
    return Status::Ok();
  } else if (type == "NFC") {
    st.kind = K::nfc;
  } else if (type == "NFD") {
    st.kind = K::nfd;
  } else if (type == "NFKC") {
    st.kind = K::nfkc;
  } else if (type == "NFKD") {
    st.kind = K::nfkd;
  } else if (type == "Lowercase") {
    st.kind = K::lowercase;
  } else if (type == "Prepend") {
    st.kind = K::prepend;
    st.a = get_str(n, "prepend");
  } else if (type == "Strip") {
    st.kind = K::strip;
    st.left = get_bool(n, "strip_left", false);
    st.right = get_bool(n, "strip_right", false);
  } else if (type == "Replace") {
    st.kind = K::replace;
    bool is_regex = false;
    auto p = n.find("pattern");
    if (p == n.end() || !pattern_of(*p, st.a, is_regex))
      return cx.err(Errc::format, "normalizer", "Replace without a pattern");
    if (is_regex) return cx.err(Errc::unsupported, "normalizer", "Replace with a Regex pattern is not supported");
    st.b = get_str(n, "content");
  } else {
    return cx.err(
        Errc::unsupported, "normalizer",
        "type \"" + type +
            "\" is not supported (supported: NFC, NFD, NFKC, NFKD, Lowercase, Prepend, Replace, Strip, Sequence)");
  }
  v.normalizer.push_back(std::move(st));
  return Status::Ok();
}

Status add_pre_tokenizer(const Ctx& cx, const json& p, Vocab& v, bool& byte_level) {
  if (p.is_null()) return Status::Ok();
  const std::string type = get_str(p, "type");
  if (type == "Sequence") {
    auto it = p.find("pretokenizers");
    if (it == p.end() || !it->is_array()) return cx.err(Errc::format, "pre_tokenizer", "Sequence without a list");
    for (const json& x : *it) ONDI_RETURN_IF_ERROR(add_pre_tokenizer(cx, x, v, byte_level));
  } else if (type == "Split") {
    PreSplit s;
    bool is_regex = false;
    auto pat = p.find("pattern");
    if (pat == p.end() || !pattern_of(*pat, s.pattern, is_regex))
      return cx.err(Errc::format, "pre_tokenizer", "Split without a pattern");
    if (!is_regex) s.pattern = escape_literal(s.pattern);
    if (get_bool(p, "invert", false))
      return cx.err(Errc::unsupported, "pre_tokenizer", "Split with invert: true is not supported");
    const std::string b = get_str(p, "behavior");
    if (b == "Isolated") {
      s.behavior = SplitBehavior::isolated;
    } else if (b == "Removed") {
      s.behavior = SplitBehavior::removed;
    } else if (b == "MergedWithPrevious") {
      s.behavior = SplitBehavior::merged_with_previous;
    } else if (b == "MergedWithNext") {
      s.behavior = SplitBehavior::merged_with_next;
    } else if (b == "Contiguous") {
      s.behavior = SplitBehavior::contiguous;
    } else {
      return cx.err(Errc::unsupported, "pre_tokenizer", "Split behavior \"" + b + "\" is not supported");
    }
    v.pre_splits.push_back(std::move(s));
  } else if (type == "ByteLevel") {
    byte_level = true;
    if (get_bool(p, "add_prefix_space", false)) v.byte_prefix_space = true;
    if (get_bool(p, "use_regex", true)) v.pre_splits.push_back(PreSplit{kGpt2Regex, SplitBehavior::isolated});
  } else if (type == "Digits") {
    v.pre_splits.push_back(
        PreSplit{get_bool(p, "individual_digits", false) ? R"(\p{N})" : R"(\p{N}+)", SplitBehavior::isolated});
  } else if (type == "Metaspace") {
    // Spaces become the replacement character, which is also prepended (prepend_scheme "always" / "first").
    std::string rep = get_str(p, "replacement");
    if (rep.empty()) rep = kSpace;
    std::string scheme = get_str(p, "prepend_scheme");
    if (scheme.empty()) scheme = get_bool(p, "add_prefix_space", true) ? "always" : "never";
    v.normalizer.push_back(NormalizerStep{NormalizerStep::Kind::replace, " ", rep, false, false, false});
    if (scheme != "never") {
      v.normalizer.push_back(
          NormalizerStep{NormalizerStep::Kind::metaspace_prepend, rep, {}, scheme == "first", false, false});
    }
  } else {
    return cx.err(Errc::unsupported, "pre_tokenizer",
                  "type \"" + type + "\" is not supported (supported: Sequence, Split, ByteLevel, Digits, Metaspace)");
  }
  return Status::Ok();
}

Status add_post_processor(const Ctx& cx, const json& p, const std::map<std::string, int32_t>& ids, Vocab& v) {
  if (p.is_null()) return Status::Ok();
  const std::string type = get_str(p, "type");
  if (type == "ByteLevel") return Status::Ok();  // offsets only
  if (type == "Sequence") {
    auto it = p.find("processors");
    if (it == p.end() || !it->is_array()) return cx.err(Errc::format, "post_processor", "Sequence without a list");
    for (const json& x : *it) ONDI_RETURN_IF_ERROR(add_post_processor(cx, x, ids, v));
    return Status::Ok();
  }
  if (type != "TemplateProcessing") {
    return cx.err(Errc::unsupported, "post_processor",
                  "type \"" + type + "\" is not supported (supported: TemplateProcessing, ByteLevel, Sequence)");
  }
  auto single = p.find("single");
  if (single == p.end() || !single->is_array())
    return cx.err(Errc::format, "post_processor", "TemplateProcessing without \"single\"");
  auto specials = p.find("special_tokens");
  bool seen_a = false;
  for (const json& item : *single) {
    if (!item.is_object()) return cx.err(Errc::format, "post_processor.single", "expected objects");
    if (item.contains("Sequence")) {
      seen_a = true;
      continue;
    }
    auto st = item.find("SpecialToken");
    if (st == item.end() || !st->is_object())
      return cx.err(Errc::format, "post_processor.single", "expected SpecialToken or Sequence");
    const std::string name = get_str(*st, "id");
    std::vector<int32_t> add;
    if (specials != p.end() && specials->is_object() && specials->contains(name) && (*specials)[name].is_object() &&
        (*specials)[name].contains("ids") && (*specials)[name]["ids"].is_array()) {
      for (const json& x : (*specials)[name]["ids"]) {
        if (!x.is_number_integer())
          return cx.err(Errc::format, "post_processor.special_tokens", "ids must be integers");
        add.push_back(x.get<int32_t>());
      }
    } else if (auto f = ids.find(name); f != ids.end()) {
      add.push_back(f->second);
    } else {
      return cx.err(Errc::format, "post_processor.single", "unknown special token \"" + name + "\"");
    }
    for (int32_t id : add) {
      if (id < 0 || static_cast<size_t>(id) >= v.tokens.size())
        return cx.err(Errc::format, "post_processor", "id " + std::to_string(id) + " out of range");
      (seen_a ? v.suffix_ids : v.prefix_ids).push_back(id);
    }
  }
  return Status::Ok();
}

}  // namespace

Result<Vocab> load_hf_vocab(const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  std::string tok_path = path, cfg_path;
  if (fs::is_directory(path, ec)) {
    tok_path = (fs::path(path) / "tokenizer.json").string();
    cfg_path = (fs::path(path) / "tokenizer_config.json").string();
  } else {
    cfg_path = (fs::path(path).parent_path() / "tokenizer_config.json").string();
  }
  ONDI_ASSIGN_OR_RETURN(json j, read_json(tok_path));
  json cfg = json::object();
  if (fs::exists(cfg_path, ec)) {
    ONDI_ASSIGN_OR_RETURN(cfg, read_json(cfg_path));
  }
  Ctx cx{tok_path};
  Vocab v;
  v.from_hf = true;

  auto mit = j.find("model");
  if (mit == j.end() || !mit->is_object()) return cx.err(Errc::format, "model", "missing");
  const json& m = *mit;
  const std::string mtype = get_str(m, "type");
  if (mtype != "BPE")
    return cx.err(Errc::unsupported, "model.type", "\"" + mtype + "\" is not supported (supported: BPE)");
  if (!get_str(m, "continuing_subword_prefix").empty() || !get_str(m, "end_of_word_suffix").empty()) {
    return cx.err(Errc::unsupported, "model", "continuing_subword_prefix / end_of_word_suffix are not supported");
  }
  v.byte_fallback = get_bool(m, "byte_fallback", false);
  v.fuse_unk = get_bool(m, "fuse_unk", false);
  v.ignore_merges = get_bool(m, "ignore_merges", false);

  // Token list: the model's vocabulary plus the added tokens, by id.
  auto vit = m.find("vocab");
  if (vit == m.end() || !vit->is_object()) return cx.err(Errc::format, "model.vocab", "expected an object");
  std::map<std::string, int32_t> ids;
  int64_t max_id = -1;
  for (auto it = vit->begin(); it != vit->end(); ++it) {
    if (!it.value().is_number_integer()) return cx.err(Errc::format, "model.vocab", "ids must be integers");
    const int64_t id = it.value().get<int64_t>();
    if (id < 0 || id >= INT32_MAX)
      return cx.err(Errc::format, "model.vocab", "id " + std::to_string(id) + " out of range");
    ids[it.key()] = static_cast<int32_t>(id);
    max_id = std::max(max_id, id);
  }
  auto ait = j.find("added_tokens");
  if (ait != j.end() && !ait->is_array()) return cx.err(Errc::format, "added_tokens", "expected an array");
  if (ait != j.end()) {
    for (const json& a : *ait) {
      if (!a.is_object() || !a.contains("id") || !a["id"].is_number_integer() || !a.contains("content") ||
          !a["content"].is_string()) {
        return cx.err(Errc::format, "added_tokens", "each entry needs an integer id and a string content");
      }
      AddedToken t;
      const int64_t id = a["id"].get<int64_t>();
      if (id < 0 || id >= INT32_MAX)
        return cx.err(Errc::format, "added_tokens", "id " + std::to_string(id) + " out of range");
      t.id = static_cast<int32_t>(id);
      t.content = a["content"].get<std::string>();
      t.special = get_bool(a, "special", false);
      t.lstrip = get_bool(a, "lstrip", false);
      t.rstrip = get_bool(a, "rstrip", false);
      t.normalized = get_bool(a, "normalized", !t.special);
      if (get_bool(a, "single_word", false)) {
        return cx.err(Errc::unsupported, "added_tokens", "\"" + t.content + "\": single_word is not supported");
      }
      ids[t.content] = t.id;
      max_id = std::max(max_id, id);
      v.added.push_back(std::move(t));
    }
  }
  if (max_id < 0) return cx.err(Errc::format, "model.vocab", "empty");
  const size_t n = static_cast<size_t>(max_id) + 1;
  v.tokens.assign(n, std::string());
  v.token_types.assign(n, static_cast<int32_t>(TokenType::unused));
  for (auto it = vit->begin(); it != vit->end(); ++it) {
    const size_t id = static_cast<size_t>(it.value().get<int64_t>());
    v.tokens[id] = it.key();
    v.token_types[id] = static_cast<int32_t>(TokenType::normal);
  }
  for (const AddedToken& a : v.added) {
    v.tokens[static_cast<size_t>(a.id)] = a.content;
    v.token_types[static_cast<size_t>(a.id)] =
        static_cast<int32_t>(a.special ? TokenType::control : TokenType::user_defined);
  }

  auto gm = m.find("merges");
  if (gm != m.end() && !gm->is_array()) return cx.err(Errc::format, "model.merges", "expected an array");
  if (gm != m.end()) {
    v.merges.reserve(gm->size());
    for (const json& x : *gm) {
      if (x.is_string()) {
        v.merges.push_back(x.get<std::string>());
      } else if (x.is_array() && x.size() == 2 && x[0].is_string() && x[1].is_string()) {
        v.merges.push_back(x[0].get<std::string>() + " " + x[1].get<std::string>());
      } else {
        return cx.err(Errc::format, "model.merges[" + std::to_string(v.merges.size()) + "]",
                      "expected \"a b\" or [a, b]");
      }
    }
  }

  ONDI_RETURN_IF_ERROR(add_normalizer(cx, j.value("normalizer", json()), v));
  bool byte_level = false;
  ONDI_RETURN_IF_ERROR(add_pre_tokenizer(cx, j.value("pre_tokenizer", json()), v, byte_level));
  const json dec = j.value("decoder", json());
  if (dec.is_object() && get_str(dec, "type") == "ByteLevel") byte_level = true;
  v.model = byte_level ? "gpt2" : "llama";
  v.pre = byte_level ? "tokenizer.json" : "";
  if (!byte_level) {
    for (size_t i = 0; i < n; ++i) {
      const std::string& t = v.tokens[i];
      if (v.token_types[i] == static_cast<int32_t>(TokenType::normal) && t.size() == 6 && t.compare(0, 3, "<0x") == 0 &&
          t[5] == '>' && std::isxdigit(static_cast<unsigned char>(t[3])) &&
          std::isxdigit(static_cast<unsigned char>(t[4]))) {
        v.token_types[i] = static_cast<int32_t>(TokenType::byte);
      }
    }
  }
  // The decoder's leading-space strip (SentencePiece's dummy prefix): Strip{content " ", start} or Metaspace.
  std::vector<json> decs;
  if (dec.is_object() && get_str(dec, "type") == "Sequence" && dec.contains("decoders") && dec["decoders"].is_array()) {
    for (const json& d : dec["decoders"]) decs.push_back(d);
  } else if (dec.is_object()) {
    decs.push_back(dec);
  }
  for (const json& d : decs) {
    if (!d.is_object()) continue;
    const std::string t = get_str(d, "type");
    if (t == "Strip" && get_str(d, "content") == " " && d.contains("start") && d["start"].is_number_integer()) {
      v.decode_strip = std::clamp(d["start"].get<int32_t>(), 0, 16);
    } else if (t == "Metaspace") {
      std::string scheme = get_str(d, "prepend_scheme");
      if (scheme.empty()) scheme = get_bool(d, "add_prefix_space", true) ? "always" : "never";
      if (scheme != "never") v.decode_strip = 1;
    }
  }

  auto lookup = [&](const std::string& text) -> int32_t {
    if (text.empty()) return -1;
    auto it = ids.find(text);
    return it == ids.end() ? -1 : it->second;
  };
  v.unk = lookup(get_str(m, "unk_token"));
  v.bos = lookup(token_text(cfg, "bos_token"));
  v.eos = lookup(token_text(cfg, "eos_token"));
  v.pad = lookup(token_text(cfg, "pad_token"));

  ONDI_RETURN_IF_ERROR(add_post_processor(cx, j.value("post_processor", json()), ids, v));
  // transformers' Llama and Gemma tokenizers rebuild the post-processor from add_bos_token / add_eos_token
  // (defaults true / false) when they load, whatever tokenizer.json holds.
  const std::string cls = get_str(cfg, "tokenizer_class");
  if (cls.rfind("LlamaTokenizer", 0) == 0 || cls.rfind("GemmaTokenizer", 0) == 0 ||
      cls.rfind("CodeLlamaTokenizer", 0) == 0) {
    v.prefix_ids.clear();
    v.suffix_ids.clear();
    if (get_bool(cfg, "add_bos_token", true) && v.bos >= 0) v.prefix_ids.push_back(v.bos);
    if (get_bool(cfg, "add_eos_token", false) && v.eos >= 0) v.suffix_ids.push_back(v.eos);
  }
  v.add_bos = !v.prefix_ids.empty() && v.prefix_ids.front() == v.bos;
  v.add_eos = !v.suffix_ids.empty() && v.suffix_ids.back() == v.eos;
  v.n_vocab_declared = static_cast<uint32_t>(n);
  compute_eog(v);
  return v;
}

}  // namespace ondi
