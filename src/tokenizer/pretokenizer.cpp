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
// o200k (gpt-oss, GPT-4o): case-aware letter runs with the contraction as a suffix, and '/' after punctuation.
constexpr const char* kO200k =
    R"([^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
// DeepSeek V3 / R1: digits in threes, then CJK runs, then the word/punctuation split (three chained splits).
constexpr const char* kDeepSeek3Digits = R"(\p{N}{1,3})";
constexpr const char* kDeepSeek3Cjk = "[\u4e00-\u9fa5\u3040-\u309f\u30a0-\u30ff]+";
constexpr const char* kDeepSeek3Words =
    R"([!"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~][A-Za-z]+|[^\r\n\p{L}\p{P}\p{S}]?[\p{L}\p{M}]+| ?[\p{P}\p{S}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
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
  } else if (pre == "smollm" || pre == "starcoder" || pre == "refact" || pre == "codeshell") {
    // tokenizer.json: Digits(individual_digits) then ByteLevel(use_regex).
    spec.patterns = {R"(\p{N})", kGpt2};
  } else if (pre == "deepseek-v3") {
    spec.patterns = {kDeepSeek3Digits, kDeepSeek3Cjk, kDeepSeek3Words};
  } else if (pre == "gpt-4o" || pre == "o200k" || pre == "llama4") {
    spec.patterns = {kO200k};
    spec.ignore_merges = true;  // tokenizer.json of gpt-oss: "ignore_merges": true
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
  std::vector<SplitBehavior> behaviors;
  ~Impl() {
    for (pcre2_code* c : codes) pcre2_code_free(c);
  }
};

PreTokenizer::~PreTokenizer() = default;

Result<std::unique_ptr<PreTokenizer>> PreTokenizer::create(const std::vector<std::string>& patterns) {
  std::vector<PreSplit> splits;
  for (const std::string& p : patterns) splits.push_back(PreSplit{p, SplitBehavior::isolated});
  return build(splits);
}

Result<std::unique_ptr<PreTokenizer>> PreTokenizer::create(const std::vector<PreSplit>& splits) {
  return build(splits);
}

Result<std::unique_ptr<PreTokenizer>> PreTokenizer::build(const std::vector<PreSplit>& splits) {
  std::unique_ptr<PreTokenizer> p(new PreTokenizer());
  p->impl_ = std::make_unique<Impl>();
  for (const PreSplit& split : splits) {
    const std::string pat = expand_whitespace(split.pattern);
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
    p->impl_->behaviors.push_back(split.behavior);
    // JIT is an optimisation only: when the library lacks it (or it fails), pcre2_match interprets.
    (void)pcre2_jit_compile(code, PCRE2_JIT_COMPLETE);
  }
  return p;
}

Status PreTokenizer::split(std::string_view text, std::vector<std::pair<size_t, size_t>>& out) const {
  const size_t first = out.size();
  if (text.empty()) return Status::Ok();
  out.emplace_back(0, text.size());
  const auto* subject = reinterpret_cast<PCRE2_SPTR>(text.data());
  std::vector<std::pair<size_t, size_t>> pieces, matches;
  for (size_t ci = 0; ci < impl_->codes.size(); ++ci) {
    pcre2_code* code = impl_->codes[ci];
    const SplitBehavior behavior = impl_->behaviors[ci];
    pcre2_match_data* md = pcre2_match_data_create_from_pattern(code, nullptr);
    if (md == nullptr) return Status(Errc::out_of_memory, "pre-tokenizer: cannot allocate PCRE2 match data");
    pieces.clear();
    Status st;
    for (size_t k = first; k < out.size() && st.ok(); ++k) {
      const auto [begin, end] = out[k];
      // The piece is the whole subject, so that anchors and look-ahead stop at its end, as in HF's Split.
      const PCRE2_SPTR piece = subject + begin;
      const size_t len = end - begin;
      matches.clear();
      size_t pos = 0;
      while (pos < len) {
        const int rc = pcre2_match(code, piece, len, pos, PCRE2_NO_UTF_CHECK, md, nullptr);
        if (rc == PCRE2_ERROR_NOMATCH) break;
        if (rc < 0) {
          st = Status(Errc::internal, "pre-tokenizer: regex match failed: " + pcre2_message(rc));
          break;
        }
        const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(md);
        const size_t ms = ov[0], me = ov[1];
        if (me <= ms) {
          // An empty match splits nothing (as HF's Split); step one character on so the loop always advances.
          size_t next = ms + 1;
          while (next < len && (piece[next] & 0xC0) == 0x80) ++next;
          pos = next;
          continue;
        }
        matches.emplace_back(begin + ms, begin + me);
        pos = me;
      }
      if (!st.ok()) break;
      // Matches and the stretches between them become pieces as the behaviour says.
      size_t prev = begin;
      auto emit = [&](size_t b, size_t e) {
        if (e > b) pieces.emplace_back(b, e);
      };
      switch (behavior) {
        case SplitBehavior::isolated:
          for (const auto& [ms, me] : matches) {
            emit(prev, ms);
            emit(ms, me);
            prev = me;
          }
          emit(prev, end);
          break;
        case SplitBehavior::removed:
          for (const auto& [ms, me] : matches) {
            emit(prev, ms);
            prev = me;
          }
          emit(prev, end);
          break;
        case SplitBehavior::merged_with_previous:
          for (const auto& [ms, me] : matches) {
            emit(prev, me);
            prev = me;
          }
          emit(prev, end);
          break;
        case SplitBehavior::merged_with_next: {
          size_t open = begin;  // start of the piece being built
          for (const auto& [ms, me] : matches) {
            emit(open, ms);
            open = ms;
          }
          emit(open, end);
          break;
        }
        case SplitBehavior::contiguous: {
          size_t run_b = 0, run_e = 0;
          bool in_run = false;
          for (const auto& [ms, me] : matches) {
            if (in_run && ms == run_e) {
              run_e = me;
              continue;
            }
            if (in_run) emit(run_b, run_e), prev = run_e;
            emit(prev, ms);
            run_b = ms;
            run_e = me;
            in_run = true;
          }
          if (in_run) emit(run_b, run_e), prev = run_e;
          emit(prev, end);
          break;
        }
      }
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
