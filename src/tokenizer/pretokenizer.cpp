#include "tokenizer/pretokenizer.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

namespace ondi::tok {

namespace {

// The patterns as written in the models' tokenizer.json files (Hugging Face), not llama.cpp's ASCII-only
// rewrites: PCRE2 with UTF+UCP gives \p{L}, \p{N}, \s and (?i) their Unicode meaning, as Oniguruma does for HF.
constexpr const char* kLlama3 =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
constexpr const char* kQwen2 =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
constexpr const char* kGpt2 = R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

// PCRE2's \s (UCP) is Unicode's Z categories plus controls and also U+180E; Hugging Face (Oniguruma) and the
// reference engine use the White_Space property. Spell that set out so all three agree.
constexpr const char* kWhiteSpace =
    R"(\x{9}-\x{d}\x{20}\x{85}\x{a0}\x{1680}\x{2000}-\x{200a}\x{2028}\x{2029}\x{202f}\x{205f}\x{3000})";

// Rewrites \s and \S as White_Space classes (inside a [...] class: its members; outside: a class of its own).
std::string expand_whitespace(std::string_view pat) {
  std::string out;
  bool in_class = false;
  for (size_t i = 0; i < pat.size(); ++i) {
    const char c = pat[i];
    if (c == '\\' && i + 1 < pat.size()) {
      const char e = pat[i + 1];
      ++i;
      if (e == 's') {
        out += in_class ? std::string(kWhiteSpace) : "[" + std::string(kWhiteSpace) + "]";
      } else if (e == 'S' && !in_class) {
        out += "[^" + std::string(kWhiteSpace) + "]";
      } else {
        out += c;
        out += e;
      }
      continue;
    }
    if (c == '[' && !in_class) {
      in_class = true;
    } else if (c == ']' && in_class) {
      in_class = false;
    }
    out += c;
  }
  return out;
}

std::string pcre2_message(int code) {
  PCRE2_UCHAR buf[256];
  const int n = pcre2_get_error_message(code, buf, sizeof(buf));
  return n < 0 ? "PCRE2 error " + std::to_string(code) : std::string(reinterpret_cast<const char*>(buf));
}

}  // namespace

bool pretokenizer_spec(std::string_view pre, PreTokenizerSpec& spec) {
  spec = {};
  if (pre == "llama-bpe" || pre == "llama3" || pre == "llama-v3") {
    spec.patterns = {kLlama3};
    spec.ignore_merges = true;  // tokenizer.json of Llama 3: "ignore_merges": true
  } else if (pre == "qwen2") {
    spec.patterns = {kQwen2};
  } else if (pre == "gpt2") {
    spec.patterns = {kGpt2};
  } else if (pre == "default") {
    // What llama.cpp applies when the converter did not recognise the pre-tokenizer: a chain of four splits.
    // There is no Hugging Face counterpart; kept for compatibility with such files.
    spec.patterns = {R"([\p{P}\$\+<=>\^~\|]+)",
                     R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S))", R"(\p{N}+)",
                     R"([0-9][0-9][0-9])"};
  } else {
    return false;
  }
  return true;
}

struct PreTokenizer::Impl {
  std::vector<pcre2_code*> codes;
  ~Impl() {
    for (pcre2_code* c : codes) pcre2_code_free(c);
  }
};

PreTokenizer::~PreTokenizer() = default;

Result<std::unique_ptr<PreTokenizer>> PreTokenizer::create(const std::vector<std::string>& patterns) {
  std::unique_ptr<PreTokenizer> p(new PreTokenizer());
  p->impl_ = std::make_unique<Impl>();
  for (const std::string& original : patterns) {
    const std::string pat = expand_whitespace(original);
    int err = 0;
    PCRE2_SIZE err_off = 0;
    pcre2_code* code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pat.c_str()), pat.size(), PCRE2_UTF | PCRE2_UCP, &err,
                                     &err_off, nullptr);
    if (code == nullptr) {
      return Result<std::unique_ptr<PreTokenizer>>(Errc::internal, "pre-tokenizer regex does not compile at offset " +
                                                                       std::to_string(err_off) + ": " +
                                                                       pcre2_message(err) + " (pattern " + pat + ")");
    }
    p->impl_->codes.push_back(code);
    // JIT is an optimisation only: when the library lacks it (or it fails), pcre2_match interprets.
    (void)pcre2_jit_compile(code, PCRE2_JIT_COMPLETE);
  }
  return p;
}

Status PreTokenizer::split(std::string_view text, std::vector<std::pair<size_t, size_t>>& out) const {
  const size_t first = out.size();
  out.emplace_back(0, text.size());
  if (text.empty()) {
    out.pop_back();
    return Status::Ok();
  }
  const auto* subject = reinterpret_cast<PCRE2_SPTR>(text.data());
  std::vector<std::pair<size_t, size_t>> pieces;
  for (pcre2_code* code : impl_->codes) {
    pcre2_match_data* md = pcre2_match_data_create_from_pattern(code, nullptr);
    if (md == nullptr) return Status(Errc::out_of_memory, "pre-tokenizer: cannot allocate PCRE2 match data");
    pieces.clear();
    Status st;
    for (size_t k = first; k < out.size() && st.ok(); ++k) {
      const auto [begin, end] = out[k];
      // The piece is the whole subject, so that anchors and look-ahead stop at its end, as in HF's Split.
      const PCRE2_SPTR piece = subject + begin;
      const size_t len = end - begin;
      size_t pos = 0;
      while (pos < len) {
        const int rc = pcre2_match(code, piece, len, pos, PCRE2_NO_UTF_CHECK, md, nullptr);
        if (rc == PCRE2_ERROR_NOMATCH) break;
        if (rc < 0) {
          st = Status(Errc::internal, "pre-tokenizer: regex match failed: " + pcre2_message(rc));
          break;
        }
        const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(md);
        size_t ms = ov[0], me = ov[1];
        if (me <= ms) {
          // No pattern here can match empty; guard anyway so a bad pattern cannot loop forever: skip one
          // character (the text is valid UTF-8, so skip continuation bytes too).
          size_t next = ms + 1;
          while (next < len && (piece[next] & 0xC0) == 0x80) ++next;
          if (ms > pos) pieces.emplace_back(begin + pos, begin + ms);
          pieces.emplace_back(begin + ms, begin + next);
          pos = next;
          continue;
        }
        if (ms > pos) pieces.emplace_back(begin + pos, begin + ms);
        pieces.emplace_back(begin + ms, begin + me);
        pos = me;
      }
      if (st.ok() && pos < len) pieces.emplace_back(begin + pos, end);
    }
    pcre2_match_data_free(md);
    if (!st.ok()) {
      out.resize(first);
      return st;
    }
    out.resize(first);
    out.insert(out.end(), pieces.begin(), pieces.end());
  }
  return Status::Ok();
}

}  // namespace ondi::tok
