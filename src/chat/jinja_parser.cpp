// Tokens -> syntax tree. Operator precedence is @huggingface/jinja's (loosest first): `a if c else b`, or,
// and, not, comparisons and `in`, + - ~, * / // %, **, `is` tests, `|` filters, unary signs, calls and member
// access. Every recursion goes through a depth guard so that hostile nesting is an error, not a stack overflow.
#include <cerrno>
#include <cstdlib>
#include <set>

#include "chat/jinja_ast.h"
#include "chat/jinja_value.h"

namespace ondi::jinja {
namespace {

class Parser {
 public:
  explicit Parser(const std::vector<Token>& t) : t_(t) {}

  std::vector<NodeP> program() {
    std::vector<NodeP> out;
    while (pos_ < t_.size()) out.push_back(any());
    return out;
  }

 private:
  struct Guard {
    Parser& p;
    explicit Guard(Parser& parser) : p(parser) {
      if (++p.depth_ > kMaxNesting) p.error("template nested deeper than " + std::to_string(kMaxNesting) + " levels");
    }
    ~Guard() { --p.depth_; }
  };

  [[noreturn]] void error(const std::string& msg) const { error_at(msg, pos_); }
  [[noreturn]] void error_at(const std::string& msg, size_t at) const {
    Error e{msg, 0, 0};
    if (at < t_.size()) {
      e.line = t_[at].line;
      e.col = t_[at].col;
    } else if (!t_.empty()) {
      e.line = t_.back().line;
      e.col = t_.back().col;
      e.message = "unexpected end of template: " + msg;
    }
    throw e;
  }
  static const char* describe(Tk t) {
    switch (t) {
      case Tk::Text:
        return "text";
      case Tk::Comment:
        return "a comment";
      case Tk::Number:
        return "a number";
      case Tk::String:
        return "a string";
      case Tk::Ident:
        return "a name";
      case Tk::OpenStmt:
        return "'{%'";
      case Tk::CloseStmt:
        return "'%}'";
      case Tk::OpenExpr:
        return "'{{'";
      case Tk::CloseExpr:
        return "'}}'";
      default:
        return "an operator";
    }
  }
  std::string found() const {
    if (pos_ >= t_.size()) return "the end of the template";
    const Token& k = t_[pos_];
    if (k.type == Tk::Text || k.type == Tk::Comment) return describe(k.type);
    return "'" + k.value + "'";
  }

  bool is(Tk t, size_t ahead = 0) const { return pos_ + ahead < t_.size() && t_[pos_ + ahead].type == t; }
  bool is_ident(const char* name, size_t ahead = 0) const {
    return is(Tk::Ident, ahead) && t_[pos_ + ahead].value == name;
  }
  bool is_stmt(std::initializer_list<const char*> names) const {
    if (!is(Tk::OpenStmt) || !is(Tk::Ident, 1)) return false;
    for (const char* n : names)
      if (t_[pos_ + 1].value == n) return true;
    return false;
  }
  const Token& expect(Tk t, const char* what) {
    if (!is(t)) error(std::string("expected ") + what + ", found " + found());
    return t_[pos_++];
  }
  void expect_ident(const char* name) {
    if (!is_ident(name)) error(std::string("expected '") + name + "', found " + found());
    ++pos_;
  }
  NodeP node(Nk k, size_t at) const {
    auto n = std::make_unique<Node>();
    n->kind = k;
    const Token& tok = t_[std::min(at, t_.size() - 1)];
    n->line = tok.line;
    n->col = tok.col;
    return n;
  }
  // Body statements until one of `ends` (not consumed); `opener` names the block in the error.
  std::vector<NodeP> block(std::initializer_list<const char*> ends, const char* opener, size_t open_at) {
    std::vector<NodeP> body;
    while (!is_stmt(ends)) {
      if (pos_ >= t_.size()) {
        std::string want;
        for (const char* e : ends) want += std::string(want.empty() ? "" : " or ") + "{% " + e + " %}";
        error_at(std::string("'") + opener + "' block is never closed: expected " + want, open_at);
      }
      body.push_back(any());
    }
    return body;
  }
  void end_tag(const char* name) {
    expect(Tk::OpenStmt, "'{%'");
    expect_ident(name);
    expect(Tk::CloseStmt, "'%}'");
  }

  NodeP any() {
    Guard g(*this);
    const Token& k = t_[pos_];
    switch (k.type) {
      case Tk::Comment: {
        ++pos_;
        auto n = node(Nk::Text, pos_ - 1);
        return n;  // renders nothing
      }
      case Tk::Text: {
        auto n = node(Nk::Text, pos_);
        n->s = t_[pos_++].value;
        return n;
      }
      case Tk::OpenStmt:
        return statement();
      case Tk::OpenExpr: {
        ++pos_;
        auto e = expression();
        expect(Tk::CloseExpr, "'}}'");
        return e;
      }
      default:
        error("unexpected " + found() + " outside of a tag");
    }
  }

  NodeP statement() {
    const size_t open = pos_;
    expect(Tk::OpenStmt, "'{%'");
    if (!is(Tk::Ident)) error("expected a statement name after '{%', found " + found());
    const std::string name = t_[pos_].value;
    const size_t at = pos_++;
    if (name == "set") {
      auto n = node(Nk::Set, at);
      n->kids.push_back(sequence(false));
      if (is(Tk::Equals)) {
        ++pos_;
        n->kids.push_back(sequence(false));
      } else {
        n->kids.push_back(nullptr);
        expect(Tk::CloseStmt, "'=' or '%}'");
        n->body = block({"endset"}, "set", open);
        expect(Tk::OpenStmt, "'{%'");
        expect_ident("endset");
      }
      expect(Tk::CloseStmt, "'%}'");
      return n;
    }
    if (name == "if") {
      auto n = if_rest(at, open);
      end_tag("endif");
      return n;
    }
    if (name == "for") {
      auto n = node(Nk::For, at);
      auto target = sequence(true);
      if (target->kind != Nk::Name && target->kind != Nk::Tuple)
        error_at("expected a name or names as the loop variable", at + 1);
      n->kids.push_back(std::move(target));
      expect_ident("in");
      auto iter = expression();
      NodeP cond;
      if (iter->kind == Nk::Select) {  // `for x in xs if cond`
        cond = std::move(iter->kids[1]);
        iter = std::move(iter->kids[0]);
      }
      n->kids.push_back(std::move(iter));
      n->kids.push_back(std::move(cond));
      expect(Tk::CloseStmt, "'%}'");
      n->body = block({"endfor", "else"}, "for", open);
      if (is_stmt({"else"})) {
        pos_ += 2;
        expect(Tk::CloseStmt, "'%}'");
        n->alt = block({"endfor"}, "for", open);
      }
      end_tag("endfor");
      return n;
    }
    if (name == "macro") {
      auto n = node(Nk::Macro, at);
      if (!is(Tk::Ident)) error("expected the macro's name, found " + found());
      n->s = t_[pos_++].value;
      n->kids = arguments(true);
      expect(Tk::CloseStmt, "'%}'");
      n->body = block({"endmacro"}, "macro", open);
      end_tag("endmacro");
      return n;
    }
    if (name == "break" || name == "continue") {
      auto n = node(name == "break" ? Nk::Break : Nk::Continue, at);
      expect(Tk::CloseStmt, "'%}'");
      return n;
    }
    if (name == "filter") {
      auto n = node(Nk::FilterBlock, at);
      if (!is(Tk::Ident)) error("expected a filter name, found " + found());
      auto f = node(Nk::Filter, pos_);
      f->s = t_[pos_++].value;
      f->kids.push_back(nullptr);  // the operand is the block's text
      if (is(Tk::OpenParen)) {
        f->flag = true;
        for (auto& a : arguments(false)) f->kids.push_back(std::move(a));
      }
      n->kids.push_back(std::move(f));
      expect(Tk::CloseStmt, "'%}'");
      n->body = block({"endfilter"}, "filter", open);
      end_tag("endfilter");
      return n;
    }
    error_at("unknown or misplaced statement '" + name + "'", at);
  }

  NodeP if_rest(size_t at, size_t open) {
    auto n = node(Nk::If, at);
    n->kids.push_back(expression());
    expect(Tk::CloseStmt, "'%}'");
    n->body = block({"elif", "else", "endif"}, "if", open);
    if (is_stmt({"elif"})) {
      const size_t elif_open = pos_;
      pos_ += 2;
      n->alt.push_back(if_rest(elif_open + 1, elif_open));
    } else if (is_stmt({"else"})) {
      pos_ += 2;
      expect(Tk::CloseStmt, "'%}'");
      n->alt = block({"endif"}, "if", open);
    }
    return n;
  }

  // `a, b` (a tuple) or a single expression; primary_only for loop targets.
  NodeP sequence(bool primary_only) {
    const size_t at = pos_;
    auto first = primary_only ? primary() : expression();
    if (!is(Tk::Comma)) return first;
    auto t = node(Nk::Tuple, at);
    t->kids.push_back(std::move(first));
    while (is(Tk::Comma)) {
      ++pos_;
      t->kids.push_back(primary_only ? primary() : expression());
    }
    return t;
  }

  NodeP expression() {
    Guard g(*this);
    const size_t at = pos_;
    auto a = logical_or();
    if (!is_ident("if")) return a;
    ++pos_;
    auto cond = logical_or();
    if (is_ident("else")) {
      ++pos_;
      auto n = node(Nk::Ternary, at);
      n->kids.push_back(std::move(cond));
      n->kids.push_back(std::move(a));
      n->kids.push_back(expression());
      return n;
    }
    auto n = node(Nk::Select, at);
    n->kids.push_back(std::move(a));
    n->kids.push_back(std::move(cond));
    return n;
  }
  NodeP binary(NodeP l, const std::string& op, NodeP r, size_t at) {
    auto n = node(Nk::Binary, at);
    n->s = op;
    n->kids.push_back(std::move(l));
    n->kids.push_back(std::move(r));
    return n;
  }
  NodeP logical_or() {
    auto l = logical_and();
    while (is_ident("or")) {
      const size_t at = pos_++;
      l = binary(std::move(l), "or", logical_and(), at);
    }
    return l;
  }
  NodeP logical_and() {
    auto l = logical_not();
    while (is_ident("and")) {
      const size_t at = pos_++;
      l = binary(std::move(l), "and", logical_not(), at);
    }
    return l;
  }
  NodeP logical_not() {
    Guard g(*this);
    if (!is_ident("not")) return comparison();
    auto n = node(Nk::Unary, pos_++);
    n->s = "not";
    n->kids.push_back(logical_not());
    return n;
  }
  NodeP comparison() {
    auto l = additive();
    for (;;) {
      const size_t at = pos_;
      std::string op;
      if (is_ident("not") && is_ident("in", 1)) {
        op = "not in";
        pos_ += 2;
      } else if (is_ident("in")) {
        op = "in";
        ++pos_;
      } else if (is(Tk::Comparison)) {
        op = t_[pos_++].value;
      } else {
        return l;
      }
      l = binary(std::move(l), op, additive(), at);
    }
  }
  NodeP additive() {
    auto l = multiplicative();
    while (is(Tk::Additive)) {
      const size_t at = pos_;
      const std::string op = t_[pos_++].value;
      l = binary(std::move(l), op, multiplicative(), at);
    }
    return l;
  }
  NodeP multiplicative() {
    auto l = power();
    while (is(Tk::Multiplicative)) {
      const size_t at = pos_;
      const std::string op = t_[pos_++].value;
      l = binary(std::move(l), op, power(), at);
    }
    return l;
  }
  NodeP power() {
    auto l = test();
    while (is(Tk::Power)) {
      const size_t at = pos_++;
      l = binary(std::move(l), "**", test(), at);
    }
    return l;
  }
  NodeP test() {
    auto operand = filter();
    while (is_ident("is")) {
      auto n = node(Nk::Test, pos_++);
      if (is_ident("not")) {
        n->flag = true;
        ++pos_;
      }
      if (!is(Tk::Ident)) error("expected a test name after 'is', found " + found());
      n->s = t_[pos_++].value;
      n->kids.push_back(std::move(operand));
      operand = std::move(n);
    }
    return operand;
  }
  NodeP filter() {
    auto operand = unary_sign();
    while (is(Tk::Pipe)) {
      ++pos_;
      if (!is(Tk::Ident)) error("expected a filter name after '|', found " + found());
      auto n = node(Nk::Filter, pos_);
      n->s = t_[pos_++].value;
      n->kids.push_back(std::move(operand));
      if (is(Tk::OpenParen)) {
        n->flag = true;
        for (auto& a : arguments(false)) n->kids.push_back(std::move(a));
      }
      operand = std::move(n);
    }
    return operand;
  }
  NodeP unary_sign() {
    Guard g(*this);
    if ((is(Tk::Unary) || is(Tk::Additive)) && (t_[pos_].value == "-" || t_[pos_].value == "+")) {
      auto n = node(Nk::Unary, pos_);
      n->s = t_[pos_++].value;
      n->kids.push_back(unary_sign());
      return n;
    }
    return call_member(primary());
  }
  NodeP call_member(NodeP object) {
    for (;;) {
      Guard g(*this);
      if (is(Tk::Dot)) {
        auto n = node(Nk::Member, pos_++);
        auto prop = primary();
        if (prop->kind == Nk::Name) {
          prop->kind = Nk::Str;
        } else if (prop->kind != Nk::Int) {
          error_at("expected a name or an integer after '.'", pos_ - 1);
        }
        n->kids.push_back(std::move(object));
        n->kids.push_back(std::move(prop));
        object = std::move(n);
      } else if (is(Tk::OpenBracket)) {
        object = subscript(std::move(object));
      } else if (is(Tk::OpenParen)) {
        auto n = node(Nk::Call, pos_);
        n->line = object->line;  // errors inside a call point at what is called
        n->col = object->col;
        n->kids.push_back(std::move(object));
        for (auto& a : arguments(false)) n->kids.push_back(std::move(a));
        object = std::move(n);
      } else {
        return object;
      }
    }
  }
  NodeP subscript(NodeP object) {
    const size_t at = pos_++;
    std::vector<NodeP> parts;
    bool slice = false;
    parts.push_back(nullptr);
    while (!is(Tk::CloseBracket)) {
      if (pos_ >= t_.size()) error("'[' is never closed");
      if (is(Tk::Colon)) {
        ++pos_;
        slice = true;
        parts.push_back(nullptr);
        if (parts.size() > 3) error_at("a slice takes at most start:stop:step", at);
      } else {
        if (parts.back()) error("expected ':' or ']', found " + found());
        parts.back() = expression();
      }
    }
    ++pos_;
    if (!slice) {
      if (!parts[0]) error_at("expected an index inside '[]'", at);
      auto n = node(Nk::Member, at);
      n->kids.push_back(std::move(object));
      n->kids.push_back(std::move(parts[0]));
      return n;
    }
    auto n = node(Nk::Slice, at);
    n->kids.push_back(std::move(object));
    for (size_t i = 0; i < 3; ++i) n->kids.push_back(i < parts.size() ? std::move(parts[i]) : nullptr);
    return n;
  }
  // `(a, b=1, *c, **d)`; for macro parameters only names and name=default.
  std::vector<NodeP> arguments(bool parameters) {
    expect(Tk::OpenParen, "'('");
    std::vector<NodeP> args;
    std::set<std::string> names;
    bool keyword_seen = false;
    while (!is(Tk::CloseParen)) {
      if (pos_ >= t_.size()) error("'(' is never closed");
      const size_t at = pos_;
      if (!parameters && (is(Tk::Power) || (is(Tk::Multiplicative) && t_[pos_].value == "*"))) {
        auto n = node(is(Tk::Power) ? Nk::KwSpread : Nk::Spread, pos_++);
        n->kids.push_back(expression());
        args.push_back(std::move(n));
      } else {
        auto a = expression();
        if (is(Tk::Equals)) {
          ++pos_;
          if (a->kind != Nk::Name) error_at("expected a name before '='", at);
          auto kw = node(Nk::Kwarg, at);
          kw->s = a->s;
          kw->kids.push_back(expression());
          a = std::move(kw);
          keyword_seen = true;
        } else if (keyword_seen) {
          error_at(parameters ? "a parameter without default follows one with a default"
                              : "a positional argument follows a keyword argument",
                   at);
        }
        if (parameters) {
          if (a->kind != Nk::Name && a->kind != Nk::Kwarg) error_at("expected a parameter name", at);
          if (!names.insert(a->s).second) error_at("duplicate parameter '" + a->s + "'", at);
        }
        args.push_back(std::move(a));
      }
      if (is(Tk::Comma)) {
        ++pos_;
      } else if (!is(Tk::CloseParen)) {
        error("expected ',' or ')', found " + found());
      }
    }
    ++pos_;
    return args;
  }

  NodeP primary() {
    Guard g(*this);
    if (pos_ >= t_.size()) error("expected an expression");
    const Token& k = t_[pos_];
    const size_t at = pos_++;
    switch (k.type) {
      case Tk::Number: {
        if (k.value.find('.') != std::string::npos) {
          auto n = node(Nk::Float, at);
          n->f = std::strtod(k.value.c_str(), nullptr);
          return n;
        }
        auto n = node(Nk::Int, at);
        errno = 0;
        n->i = std::strtoll(k.value.c_str(), nullptr, 10);
        if (errno == ERANGE) error_at("integer literal " + k.value + " is out of range", at);
        return n;
      }
      case Tk::String: {
        auto n = node(Nk::Str, at);
        n->s = k.value;
        while (is(Tk::String)) n->s += t_[pos_++].value;  // adjacent literals concatenate
        return n;
      }
      case Tk::Ident: {
        auto n = node(Nk::Name, at);
        n->s = k.value;
        return n;
      }
      case Tk::OpenParen: {
        auto e = sequence(false);
        expect(Tk::CloseParen, "')'");
        return e;
      }
      case Tk::OpenBracket: {
        auto n = node(Nk::List, at);
        while (!is(Tk::CloseBracket)) {
          if (pos_ >= t_.size()) error_at("'[' is never closed", at);
          n->kids.push_back(expression());
          if (is(Tk::Comma)) {
            ++pos_;
          } else if (!is(Tk::CloseBracket)) {
            error("expected ',' or ']', found " + found());
          }
        }
        ++pos_;
        return n;
      }
      case Tk::OpenBrace: {
        auto n = node(Nk::Dict, at);
        while (!is(Tk::CloseBrace)) {
          if (pos_ >= t_.size()) error_at("'{' is never closed", at);
          n->kids.push_back(expression());
          expect(Tk::Colon, "':' between a key and its value");
          n->kids.push_back(expression());
          if (is(Tk::Comma)) {
            ++pos_;
          } else if (!is(Tk::CloseBrace)) {
            error("expected ',' or '}', found " + found());
          }
        }
        ++pos_;
        return n;
      }
      default:
        --pos_;
        error("expected an expression, found " + found());
    }
  }

  const std::vector<Token>& t_;
  size_t pos_ = 0;
  int depth_ = 0;
};

}  // namespace

std::vector<NodeP> parse(const std::vector<Token>& tokens) {
  Parser p(tokens);
  return p.program();
}

}  // namespace ondi::jinja
