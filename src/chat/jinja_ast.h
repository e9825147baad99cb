// Tokens and syntax tree of the Jinja subset chat templates use (internal to src/chat).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace ondi::jinja {

enum class Tk {
  Text,
  Comment,
  Number,  // value holds the literal ("-1", "2.5")
  String,
  Ident,
  Equals,
  OpenParen,
  CloseParen,
  OpenStmt,
  CloseStmt,
  OpenExpr,
  CloseExpr,
  OpenBracket,
  CloseBracket,
  OpenBrace,
  CloseBrace,
  Comma,
  Dot,
  Colon,
  Pipe,
  Additive,        // + - ~
  Multiplicative,  // * / // %
  Power,           // **
  Comparison,      // < > <= >= == !=
  Unary,           // a + or - that is not binary
};

struct Token {
  Tk type;
  std::string value;
  int line, col;
};

struct LexOptions {
  bool trim_blocks = true;  // as transformers and @huggingface/jinja render chat templates
  bool lstrip_blocks = true;
};

// Throws Error with the position of the offending character.
std::vector<Token> tokenize(std::string_view source, const LexOptions& opts);

enum class Nk {
  // statements
  Text,
  If,     // kids[0] test; body; alt
  For,    // kids[0] target, kids[1] iterable, kids[2] filter (may be null); body; alt (else)
  Set,    // kids[0] target, kids[1] value (null: block set, body)
  Macro,  // s name, kids parameters (Name or Kwarg); body
  Break,
  Continue,
  FilterBlock,  // kids[0] filter (Name or Call); body
  // expressions
  Str,
  Int,
  Float,
  Name,
  List,
  Tuple,
  Dict,      // kids: key, value, key, value...
  Member,    // kids[0] object, kids[1] property (Str for .name, Int for .0, any expression for [x])
  Slice,     // kids[0] object, kids[1..3] start, stop, step (may be null)
  Call,      // kids[0] callee, kids[1..] arguments
  Filter,    // kids[0] operand, s name, kids[1..] arguments; flag: written with parentheses
  Test,      // kids[0] operand, s name; flag: negated
  Unary,     // s operator, kids[0]
  Binary,    // s operator, kids[0], kids[1]
  Ternary,   // kids[0] condition, kids[1] if true, kids[2] if false
  Select,    // kids[0] value, kids[1] condition (`a if c` without else)
  Kwarg,     // s name, kids[0] value
  Spread,    // *x
  KwSpread,  // **x
};

struct Node {
  Nk kind;
  int line = 0, col = 0;
  std::string s;
  int64_t i = 0;
  double f = 0;
  bool flag = false;
  std::vector<std::unique_ptr<Node>> kids;
  std::vector<std::unique_ptr<Node>> body, alt;
};
using NodeP = std::unique_ptr<Node>;

// Deepest nesting of blocks and expressions the parser accepts (recursion is bounded by it).
constexpr int kMaxNesting = 200;

// Throws Error naming the position of the token that does not fit.
std::vector<NodeP> parse(const std::vector<Token>& tokens);

}  // namespace ondi::jinja
