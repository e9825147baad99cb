// The values a chat template computes with. The semantics (truthiness, equality, string conversion, JSON output)
// follow @huggingface/jinja, the JavaScript engine transformers.js renders chat templates with, because the
// parity test compares against it byte for byte; where it differs from Python Jinja the comment says so.
#pragma once

#include <algorithm>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace ondi::jinja {

// Thrown inside the interpreter only; Template::render turns it into a Status naming the template position.
struct Error {
  std::string message;
  int line = 0;  // 0: not known yet (filled in by the node being evaluated)
  int col = 0;
};
[[noreturn]] void fail(std::string message);

class Value;
using Array = std::vector<Value>;

// Insertion-ordered string-keyed map: templates print keys in the order the caller gave them (tojson).
class Object {
 public:
  const Value* find(std::string_view key) const;
  Value* find(std::string_view key);
  void set(const std::string& key, Value v);
  size_t size() const;  // defined below Value: clang needs the element type complete to instantiate size()
  const std::vector<std::pair<std::string, Value>>& items() const { return items_; }

 private:
  std::vector<std::pair<std::string, Value>> items_;
  std::unordered_map<std::string, size_t> index_;
};

struct Args;
class Interpreter;
struct Scope;
// `caller` is the scope of the call site: macros see the caller's variables, as in @huggingface/jinja.
using Function = std::function<Value(Args& args, Interpreter& in, Scope& caller)>;

enum class Type { Undefined, Null, Bool, Int, Float, String, Array, Object, Namespace, Function };

class Value {
 public:
  Value() = default;  // undefined
  static Value null() { return Value(Type::Null); }
  Value(bool b) : type_(Type::Bool), i_(b) {}     // NOLINT: implicit for brevity
  Value(int v) : type_(Type::Int), i_(v) {}       // NOLINT
  Value(int64_t v) : type_(Type::Int), i_(v) {}   // NOLINT
  Value(double v) : type_(Type::Float), f_(v) {}  // NOLINT
  Value(std::string s) : type_(Type::String), s_(std::make_shared<const std::string>(std::move(s))) {}  // NOLINT
  Value(const char* s) : Value(std::string(s)) {}                                                       // NOLINT
  static Value array(Array a);
  static Value object(Object o);
  static Value ns(Object o);
  static Value function(Function f);

  Type type() const { return type_; }
  bool is_undefined() const { return type_ == Type::Undefined; }
  bool is_null() const { return type_ == Type::Null; }
  bool is_string() const { return type_ == Type::String; }
  bool is_int() const { return type_ == Type::Int; }
  bool is_number() const { return type_ == Type::Int || type_ == Type::Float; }
  bool is_array() const { return type_ == Type::Array; }
  bool is_object() const { return type_ == Type::Object; }
  bool is_namespace() const { return type_ == Type::Namespace; }
  bool is_mapping_like() const { return type_ == Type::Object || type_ == Type::Namespace; }

  bool as_bool() const { return i_ != 0; }
  int64_t as_int() const { return i_; }
  double as_number() const { return type_ == Type::Float ? f_ : static_cast<double>(i_); }
  const std::string& str() const { return *s_; }
  const Array& arr() const { return *arr_; }
  const Object& obj() const { return *obj_; }
  Object& ns_obj() const { return *obj_; }  // namespaces are the only mutable values
  const Function& fn() const { return *fn_; }
  // Nesting depth of containers (0 for scalars); bounds every recursive walk over values.
  int depth() const { return depth_; }
  // Whether a namespace is this value or inside it: namespaces may not hold one, so no value can form a cycle.
  bool holds_namespace() const { return has_ns_; }
  void note_child_depth(int d) { depth_ = std::max(depth_, d + 1); }
  // Identity of a container or function (JavaScript compares those by reference).
  const void* identity() const;

  bool truthy() const;
  const char* type_name() const;

 private:
  explicit Value(Type t) : type_(t) {}
  Type type_ = Type::Undefined;
  int depth_ = 0;
  bool has_ns_ = false;
  int64_t i_ = 0;
  double f_ = 0;
  std::shared_ptr<const std::string> s_;
  std::shared_ptr<const Array> arr_;
  std::shared_ptr<Object> obj_;
  std::shared_ptr<const Function> fn_;
};

inline size_t Object::size() const { return items_.size(); }

// The arguments of a call: positional, then keyword in call order.
struct Args {
  std::vector<Value> pos;
  std::vector<std::pair<std::string, Value>> kw;
  const Value* get(size_t i, std::string_view name) const;  // positional i, else keyword name, else null
};

// Deepest nesting any value may have; deeper input or results are an error, never a stack overflow.
constexpr int kMaxDepth = 256;

struct JsonOptions {
  int indent = -1;  // < 0: single line
  bool ensure_ascii = false;
  bool sort_keys = false;
  bool has_separators = false;
  std::string item_sep, key_sep;
  bool undefined_as_null = true;
};
// `tojson` (Python json.dumps layout as @huggingface/jinja writes it).
std::string to_json(const Value& v, const JsonOptions& o);
// What `{{ v }}` prints (floats keep ".0", containers print as JSON with `undefined` for undefined).
std::string to_output(const Value& v);
// JavaScript's String(v.value), which `+` and `~` use ("3" for 3.0, "a,b" for a list).
std::string to_js_string(const Value& v);
// JavaScript's Number -> string (shortest round trip, exponent past 1e21).
std::string js_number(double d);
// `==`: JavaScript loose equality of the underlying values (containers by identity).
bool loose_equal(const Value& a, const Value& b);
// `in` on a list: JavaScript strict equality.
bool strict_equal(const Value& a, const Value& b);

// UTF-8 helpers. Invalid bytes count as one character each, so hostile input never fails to split.
std::vector<std::string_view> utf8_chars(std::string_view s);
size_t utf16_length(std::string_view s);  // JavaScript's String.length
bool is_js_space(uint32_t cp);
std::string js_trim(std::string_view s, bool left, bool right);
std::string to_upper(std::string_view s);  // ASCII, Latin-1, Greek and Cyrillic letters
std::string to_lower(std::string_view s);

}  // namespace ondi::jinja
