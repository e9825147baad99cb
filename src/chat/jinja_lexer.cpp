// Template text -> tokens. Whitespace control follows Jinja as transformers configures it (trim_blocks,
// lstrip_blocks, a single trailing newline dropped) and the tokenization @huggingface/jinja does, so that both
// render the same bytes. The source is rewritten first (the block options and the transformers-only
// {% generation %} tag) with a map back to the original offsets, so that every error names the line and
// column the author wrote.
#include <algorithm>
#include <cstring>

#include "chat/jinja_ast.h"
#include "chat/jinja_value.h"
#include "tokenizer/unicode.h"

namespace ondi::jinja {
namespace {

struct Mapped {
  std::string s;
  std::vector<uint32_t> at;  // at[i]: offset in the original source of s[i]
  void push(char c, uint32_t from) {
    s += c;
    at.push_back(from);
  }
};

// Byte length of the whitespace character (JavaScript's \s) at s[i], or 0.
size_t space_at(std::string_view s, size_t i) {
  if (i >= s.size()) return 0;
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const size_t n = tok::utf8_valid_len(p, s.size(), i);
  if (n == 0) return 0;
  const uint32_t cp = n == 1 ? p[i] : tok::utf8_decode_valid(p + i, n);
  return is_js_space(cp) ? n : 0;
}
// Byte length of the whitespace character that ends s[0, end), or 0.
size_t space_before(std::string_view s, size_t end) {
  for (size_t n = 1; n <= 4 && n <= end; ++n) {
    const size_t i = end - n;
    if (n > 1 && (static_cast<unsigned char>(s[i]) & 0xC0) == 0x80) continue;
    return space_at(s, i) == n ? n : 0;
  }
  return 0;
}

Mapped preprocess(std::string_view src, const LexOptions& o) {
  Mapped m;
  if (!src.empty() && src.back() == '\n') src.remove_suffix(1);
  // lstrip_blocks: spaces and tabs from the start of a line up to a block or comment tag.
  Mapped a;
  for (size_t i = 0; i < src.size();) {
    if (o.lstrip_blocks && (i == 0 || src[i - 1] == '\n' || src[i - 1] == '\r')) {
      size_t j = i;
      while (j < src.size() && (src[j] == ' ' || src[j] == '\t')) ++j;
      if (j > i && j + 1 < src.size() && src[j] == '{' && std::strchr("#%-", src[j + 1])) i = j;
    }
    a.push(src[i], static_cast<uint32_t>(i));
    ++i;
  }
  // trim_blocks: the first newline after a block or comment tag.
  Mapped b;
  for (size_t i = 0; i < a.s.size(); ++i) {
    b.push(a.s[i], a.at[i]);
    if (o.trim_blocks && std::strchr("#%-", a.s[i]) && i + 2 < a.s.size() && a.s[i + 1] == '}' && a.s[i + 2] == '\n') {
      b.push('}', a.at[i + 1]);
      i += 2;
    }
  }
  // transformers' {% generation %} / {% endgeneration %} mark the assistant's tokens for training; they render
  // nothing, and their - markers strip the whitespace around them.
  size_t protect = 0;  // whitespace before this output offset belongs to an earlier tag's match
  for (size_t i = 0; i < b.s.size();) {
    if (b.s.compare(i, 2, "{%") == 0) {
      size_t j = i + 2;
      const bool lstrip = j < b.s.size() && b.s[j] == '-';
      if (lstrip) ++j;
      while (size_t n = space_at(b.s, j)) j += n;
      if (b.s.compare(j, 3, "end") == 0) j += 3;
      if (b.s.compare(j, 10, "generation") == 0) {
        j += 10;
        while (size_t n = space_at(b.s, j)) j += n;
        const bool rstrip = j < b.s.size() && b.s[j] == '-';
        if (rstrip) ++j;
        if (b.s.compare(j, 2, "%}") == 0) {
          j += 2;
          if (lstrip) {
            while (m.s.size() > protect) {
              const size_t n = space_before(m.s, m.s.size());
              if (!n) break;
              m.s.resize(m.s.size() - n);
              m.at.resize(m.s.size());
            }
          }
          size_t k = j;
          while (size_t n = space_at(b.s, k)) k += n;
          if (!rstrip)
            for (size_t x = j; x < k; ++x) m.push(b.s[x], b.at[x]);
          protect = m.s.size();
          i = k;
          continue;
        }
      }
    }
    m.push(b.s[i], b.at[i]);
    ++i;
  }
  m.at.push_back(static_cast<uint32_t>(src.size()));  // the end of input
  return m;
}

class Lexer {
 public:
  Lexer(std::string_view original, Mapped m) : orig_(original), m_(std::move(m)), src_(m_.s) {
    line_starts_.push_back(0);
    for (size_t i = 0; i < orig_.size(); ++i)
      if (orig_[i] == '\n') line_starts_.push_back(i + 1);
  }

  std::vector<Token> run() {
    while (cur_ < src_.size()) step();
    return std::move(tokens_);
  }

 private:
  // Tokens come in source order, so the column is counted on from the previous token's (linear overall, even
  // for a template on one long line); only an error may look back, and then counts from its line's start.
  void position(size_t at, int& line, int& col) {
    const uint32_t off = m_.at[std::min(at, m_.at.size() - 1)];
    const auto it = std::upper_bound(line_starts_.begin(), line_starts_.end(), off);
    const size_t ls = *(it - 1);
    line = static_cast<int>(it - line_starts_.begin());
    size_t from = ls;
    col = 1;
    if (line == last_line_ && off >= last_off_) {
      from = last_off_;
      col = last_col_;
    }
    for (size_t i = from; i < off && i < orig_.size(); ++i)
      if ((static_cast<unsigned char>(orig_[i]) & 0xC0) != 0x80) ++col;
    last_line_ = line;
    last_off_ = off;
    last_col_ = col;
  }
  [[noreturn]] void error(const std::string& msg, size_t at) {
    Error e{msg, 0, 0};
    position(at, e.line, e.col);
    throw e;
  }
  void push(Tk t, std::string v, size_t at) {
    Token tok{t, std::move(v), 0, 0};
    position(at, tok.line, tok.col);
    tokens_.push_back(std::move(tok));
  }
  bool at(const char* s) const { return src_.compare(cur_, std::strlen(s), s) == 0; }
  Tk last() const { return tokens_.empty() ? Tk::Text : tokens_.back().type; }
  void strip_trailing() {
    if (tokens_.empty() || tokens_.back().type != Tk::Text) return;
    tokens_.back().value = js_trim(tokens_.back().value, false, true);
    if (tokens_.back().value.empty()) tokens_.pop_back();
  }
  void skip_spaces() {
    while (size_t n = space_at(src_, cur_)) cur_ += n;
  }
  static bool is_digit(char c) { return c >= '0' && c <= '9'; }
  static bool is_word(char c) { return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }

  // Digits with an optional fraction; `x.0.1` is two member accesses, so no fraction right after a dot.
  std::string digits(bool allow_fraction) {
    std::string d;
    while (cur_ < src_.size() && is_digit(src_[cur_])) d += src_[cur_++];
    if (allow_fraction && !d.empty() && cur_ + 1 < src_.size() && src_[cur_] == '.' && is_digit(src_[cur_ + 1])) {
      d += src_[cur_++];
      while (cur_ < src_.size() && is_digit(src_[cur_])) d += src_[cur_++];
    }
    return d;
  }

  void string_literal(size_t start) {
    const char quote = src_[cur_++];
    std::string out;
    for (;;) {
      if (cur_ >= src_.size()) error("unterminated string literal", start);
      const char c = src_[cur_];
      if (c == quote) break;
      if (c != '\\') {
        out += c;
        ++cur_;
        continue;
      }
      if (++cur_ >= src_.size()) error("unterminated string literal", start);
      const char e = src_[cur_++];
      switch (e) {
        case 'n':
          out += '\n';
          break;
        case 't':
          out += '\t';
          break;
        case 'r':
          out += '\r';
          break;
        case 'b':
          out += '\b';
          break;
        case 'f':
          out += '\f';
          break;
        case 'v':
          out += '\v';
          break;
        case '\'':
        case '"':
        case '\\':
          out += e;
          break;
        case 'x':
        case 'u': {
          uint32_t cp = hex(e == 'x' ? 2 : 4, cur_ - 2);
          if (cp >= 0xD800 && cp < 0xDC00 && at("\\u")) {  // a surrogate pair written as two escapes
            const size_t save = cur_;
            cur_ += 2;
            const uint32_t lo = hex(4, save);
            if (lo >= 0xDC00 && lo < 0xE000) {
              cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            } else {
              cur_ = save;
            }
          }
          if (cp >= 0xD800 && cp < 0xE000) cp = 0xFFFD;
          tok::utf8_append(out, cp);
          break;
        }
        default:
          error(std::string("unknown escape \\") + e + " in string literal", cur_ - 2);
      }
    }
    ++cur_;  // closing quote
    push(Tk::String, std::move(out), start);
  }
  uint32_t hex(int n, size_t at_err) {
    uint32_t v = 0;
    for (int k = 0; k < n; ++k) {
      const char c = cur_ < src_.size() ? src_[cur_] : '\0';
      int d = -1;
      if (c >= '0' && c <= '9') d = c - '0';
      if (c >= 'a' && c <= 'f') d = c - 'a' + 10;
      if (c >= 'A' && c <= 'F') d = c - 'A' + 10;
      if (d < 0) error("invalid hexadecimal escape in string literal", at_err);
      v = v * 16 + static_cast<uint32_t>(d);
      ++cur_;
    }
    return v;
  }

  void step() {
    const Tk lt = last();
    if (tokens_.empty() || lt == Tk::CloseStmt || lt == Tk::CloseExpr || lt == Tk::Comment) {
      const size_t start = cur_;
      while (cur_ < src_.size() && !(src_[cur_] == '{' && cur_ + 1 < src_.size() &&
                                     (src_[cur_ + 1] == '%' || src_[cur_ + 1] == '{' || src_[cur_ + 1] == '#')))
        ++cur_;
      if (cur_ > start) {
        push(Tk::Text, src_.substr(start, cur_ - start), start);
        return;
      }
    }
    if (at("{#")) {
      const size_t start = cur_;
      cur_ += 2;
      const bool strip_before = cur_ < src_.size() && src_[cur_] == '-';
      if (strip_before) ++cur_;
      const size_t end = src_.find("#}", cur_);
      if (end == std::string::npos) error("comment {# is never closed with #}", start);
      std::string body = src_.substr(cur_, end - cur_);
      const bool strip_after = !body.empty() && body.back() == '-';
      if (strip_before) strip_trailing();
      push(Tk::Comment, std::move(body), start);
      cur_ = end + 2;
      if (strip_after) skip_spaces();
      return;
    }
    if (at("{%-") || at("{{-")) {
      strip_trailing();
      const bool stmt = src_[cur_ + 1] == '%';
      push(stmt ? Tk::OpenStmt : Tk::OpenExpr, stmt ? "{%" : "{{", cur_);
      if (!stmt) curly_ = 0;
      cur_ += 3;
      return;
    }
    skip_spaces();
    if (cur_ >= src_.size()) error("unexpected end of template inside a tag", cur_);
    if (at("-%}") || at("-}}")) {
      const bool stmt = src_[cur_ + 1] == '%';
      push(stmt ? Tk::CloseStmt : Tk::CloseExpr, stmt ? "%}" : "}}", cur_);
      cur_ += 3;
      skip_spaces();
      return;
    }
    const size_t start = cur_;
    const char c = src_[cur_];
    if (c == '-' || c == '+') {
      if (tokens_.empty() || lt == Tk::Text) error(std::string("unexpected character '") + c + "'", cur_);
      if (!(lt == Tk::Ident || lt == Tk::Number || lt == Tk::String || lt == Tk::CloseParen ||
            lt == Tk::CloseBracket)) {
        ++cur_;
        const std::string num = digits(true);
        push(num.empty() ? Tk::Unary : Tk::Number, std::string(1, c) + num, start);
        return;
      }
    }
    static const struct {
      const char* text;
      Tk type;
    } kTable[] = {{"{%", Tk::OpenStmt},      {"%}", Tk::CloseStmt},
                  {"{{", Tk::OpenExpr},      {"}}", Tk::CloseExpr},
                  {"(", Tk::OpenParen},      {")", Tk::CloseParen},
                  {"{", Tk::OpenBrace},      {"}", Tk::CloseBrace},
                  {"[", Tk::OpenBracket},    {"]", Tk::CloseBracket},
                  {",", Tk::Comma},          {".", Tk::Dot},
                  {":", Tk::Colon},          {"|", Tk::Pipe},
                  {"<=", Tk::Comparison},    {">=", Tk::Comparison},
                  {"==", Tk::Comparison},    {"!=", Tk::Comparison},
                  {"<", Tk::Comparison},     {">", Tk::Comparison},
                  {"+", Tk::Additive},       {"-", Tk::Additive},
                  {"~", Tk::Additive},       {"**", Tk::Power},
                  {"*", Tk::Multiplicative}, {"//", Tk::Multiplicative},
                  {"/", Tk::Multiplicative}, {"%", Tk::Multiplicative},
                  {"=", Tk::Equals}};
    for (const auto& e : kTable) {
      if (e.type == Tk::CloseExpr && curly_ > 0) continue;  // `}}` closing a dict literal inside {{ }}
      if (!at(e.text)) continue;
      push(e.type, e.text, start);
      if (e.type == Tk::OpenExpr) curly_ = 0;
      if (e.type == Tk::OpenBrace) ++curly_;
      if (e.type == Tk::CloseBrace) --curly_;
      cur_ += std::strlen(e.text);
      return;
    }
    if (c == '\'' || c == '"') return string_literal(start);
    if (is_digit(c)) {
      std::string num = digits(lt != Tk::Dot || tokens_.empty());
      push(Tk::Number, std::move(num), start);
      return;
    }
    if (is_word(c)) {
      while (cur_ < src_.size() && is_word(src_[cur_])) ++cur_;
      push(Tk::Ident, src_.substr(start, cur_ - start), start);
      return;
    }
    error("unexpected character '" + std::string(utf8_chars(std::string_view(src_).substr(cur_, 4)).front()) + "'",
          cur_);
  }

  std::string_view orig_;
  Mapped m_;
  const std::string& src_;
  std::vector<size_t> line_starts_;
  std::vector<Token> tokens_;
  size_t cur_ = 0;
  int curly_ = 0;
  int last_line_ = 0, last_col_ = 1;
  size_t last_off_ = 0;
};

}  // namespace

std::vector<Token> tokenize(std::string_view source, const LexOptions& opts) {
  Lexer lx(source, preprocess(source, opts));
  return lx.run();
}

}  // namespace ondi::jinja
