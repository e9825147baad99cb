// Filters, tests, methods of strings and dicts, and the global functions, as @huggingface/jinja defines them.
// Deliberate differences: strip/lstrip/rstrip take Python's optional `chars` argument (the JavaScript engine
// ignores it; the templates were written for Python), and `select`/`reject` filters exist.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "chat/jinja_interp.h"

namespace ondi::jinja {
namespace {

const Value& arg_or(const Args& a, size_t i, const char* name, const Value& def) {
  const Value* v = a.get(i, name);
  return v ? *v : def;
}

bool is_word_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }

// JavaScript's parseInt(s, 10) / parseFloat(s): the longest numeric prefix after leading whitespace.
bool js_parse_number(const std::string& s, bool as_int, double& out) {
  const std::string t = js_trim(s, true, false);
  size_t i = 0;
  if (i < t.size() && (t[i] == '+' || t[i] == '-')) ++i;
  const size_t digits_start = i;
  while (i < t.size() && std::isdigit(static_cast<unsigned char>(t[i]))) ++i;
  if (as_int) {
    if (i == digits_start) return false;
    out = std::strtod(t.substr(0, i).c_str(), nullptr);
    return true;
  }
  if (i < t.size() && t[i] == '.') {
    ++i;
    while (i < t.size() && std::isdigit(static_cast<unsigned char>(t[i]))) ++i;
  }
  if (i == digits_start || (i == digits_start + 1 && t[digits_start] == '.')) {
    if (t.compare(digits_start, 8, "Infinity") == 0) {
      out = t[0] == '-' ? -INFINITY : INFINITY;
      return true;
    }
    return false;
  }
  size_t e = i;
  if (e < t.size() && (t[e] == 'e' || t[e] == 'E')) {
    size_t k = e + 1;
    if (k < t.size() && (t[k] == '+' || t[k] == '-')) ++k;
    const size_t ks = k;
    while (k < t.size() && std::isdigit(static_cast<unsigned char>(t[k]))) ++k;
    if (k > ks) i = k;
  }
  out = std::strtod(t.substr(0, i).c_str(), nullptr);
  return true;
}

Value int_value(double d) {
  if (std::fabs(d) < 9.2e18) return Value(static_cast<int64_t>(d));
  return Value(d);
}

// Python's str.strip(chars) (chars given) or JavaScript's trim (no argument).
std::string strip_chars(const std::string& s, const Value* chars, bool left, bool right) {
  if (!chars || chars->is_null() || chars->is_undefined()) return js_trim(s, left, right);
  if (!chars->is_string()) fail("strip() argument must be a string");
  const auto set = utf8_chars(chars->str());
  const auto cs = utf8_chars(s);
  size_t b = 0, e = cs.size();
  auto in_set = [&](std::string_view c) { return std::find(set.begin(), set.end(), c) != set.end(); };
  while (left && b < e && in_set(cs[b])) ++b;
  while (right && e > b && in_set(cs[e - 1])) --e;
  std::string out;
  for (size_t i = b; i < e; ++i) out += cs[i];
  return out;
}

int compare_values(const Value& a, const Value& b, bool case_sensitive) {
  if (a.is_null() && b.is_null()) return 0;
  if (a.is_undefined() && b.is_undefined()) return 0;
  auto numeric_like = [](const Value& v) { return v.is_number() || v.type() == Type::Bool; };
  if (numeric_like(a) && numeric_like(b)) {
    const double x = a.as_number(), y = b.as_number();
    return x < y ? -1 : x > y ? 1 : 0;
  }
  if (a.is_string() && b.is_string()) {
    const std::string x = case_sensitive ? a.str() : to_lower(a.str());
    const std::string y = case_sensitive ? b.str() : to_lower(b.str());
    return x < y ? -1 : x > y ? 1 : 0;
  }
  fail(std::string("cannot compare a ") + a.type_name() + " with a " + b.type_name());
}

// "a.b.0": nested attribute or index, undefined when missing.
Value attribute_path(const Value& item, const std::string& path) {
  Value v = item;
  size_t start = 0;
  for (;;) {
    const size_t dot = path.find('.', start);
    const std::string part = path.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    if (v.is_mapping_like()) {
      const Value* f = v.obj().find(part);
      v = f ? *f : Value();
    } else if (v.is_array()) {
      char* end = nullptr;
      const long long idx = std::strtoll(part.c_str(), &end, 10);
      if (part.empty() || *end || idx < 0 || static_cast<size_t>(idx) >= v.arr().size()) return Value();
      v = v.arr()[static_cast<size_t>(idx)];
    } else {
      return Value();
    }
    if (dot == std::string::npos) return v;
    start = dot + 1;
  }
}

std::string js_join(const Value& v, const std::string& sep) {
  std::string out;
  const Array& a = v.arr();
  for (size_t i = 0; i < a.size(); ++i) {
    if (i) out += sep;
    if (!a[i].is_null() && !a[i].is_undefined()) out += to_js_string(a[i]);
  }
  return out;
}

Value items_of(const Object& o) {
  Array out;
  for (const auto& kv : o.items()) out.push_back(Value::array({Value(kv.first), kv.second}));
  return Value::array(std::move(out));
}

std::string title_case(const std::string& s) {
  std::string out = s;
  for (size_t i = 0; i < out.size(); ++i)
    if (is_word_char(out[i]) && (i == 0 || !is_word_char(out[i - 1])) && out[i] >= 'a' && out[i] <= 'z')
      out[i] = static_cast<char>(out[i] - 32);
  return out;
}

std::string capitalize(const std::string& s) {
  const auto cs = utf8_chars(s);
  if (cs.empty()) return s;
  return to_upper(cs[0]) + s.substr(cs[0].size());
}

std::string indent(const std::string& s, const std::string& pad, bool first, bool blank) {
  std::string out;
  size_t start = 0;
  for (size_t line = 0;; ++line) {
    const size_t nl = s.find('\n', start);
    const std::string l = s.substr(start, nl == std::string::npos ? std::string::npos : nl - start);
    if (line) out += '\n';
    if (!((!first && line == 0) || (!blank && l.empty()))) out += pad;
    out += l;
    if (nl == std::string::npos) break;
    start = nl + 1;
  }
  return out;
}

std::string replace_all(const std::string& s, const std::string& from, const std::string& to, int64_t count) {
  if (count == 0) return s;
  int64_t left = count < 0 ? INT64_MAX : count;
  std::string out;
  if (from.empty()) {  // inserts `to` at every character boundary, ends included
    const auto cs = utf8_chars(s);
    for (size_t i = 0; i <= cs.size(); ++i) {
      if (left > 0) {
        out += to;
        --left;
      }
      if (i < cs.size()) out += cs[i];
    }
    return out;
  }
  size_t pos = 0;
  while (left > 0) {
    const size_t at = s.find(from, pos);
    if (at == std::string::npos) break;
    out.append(s, pos, at - pos);
    out += to;
    pos = at + from.size();
    --left;
  }
  out.append(s, pos);
  return out;
}

std::string strftime_js(const std::tm& t, const std::string& fmt) {
  static const char* kMonths[] = {"January", "February", "March",     "April",   "May",      "June",
                                  "July",    "August",   "September", "October", "November", "December"};
  std::string out;
  auto pad2 = [](int v) {
    char buf[16];
    std::snprintf(buf, sizeof buf, "%02d", v);
    return std::string(buf);
  };
  const int mon = std::clamp(t.tm_mon, 0, 11);
  for (size_t i = 0; i < fmt.size(); ++i) {
    if (fmt[i] != '%' || i + 1 >= fmt.size()) {
      out += fmt[i];
      continue;
    }
    const char c = fmt[i + 1];
    switch (c) {
      case 'Y':
        out += std::to_string(t.tm_year + 1900);
        break;
      case 'm':
        out += pad2(mon + 1);
        break;
      case 'd':
        out += pad2(t.tm_mday);
        break;
      case 'b':
        out += std::string(kMonths[mon]).substr(0, 3);
        break;
      case 'B':
        out += kMonths[mon];
        break;
      case 'H':
        out += pad2(t.tm_hour);
        break;
      case 'M':
        out += pad2(t.tm_min);
        break;
      case '%':
        out += '%';
        break;
      default:  // unknown directives stay as they are
        out += '%';
        out += c;
    }
    ++i;
  }
  return out;
}

}  // namespace

bool Interpreter::apply_test(const std::string& name, const Value& v) {
  const Type t = v.type();
  if (name == "defined") return t != Type::Undefined;
  if (name == "undefined") return t == Type::Undefined;
  if (name == "none") return t == Type::Null;
  if (name == "string") return t == Type::String;
  if (name == "number") return v.is_number();
  if (name == "integer") return t == Type::Int;
  if (name == "boolean") return t == Type::Bool;
  if (name == "callable") return t == Type::Function;
  if (name == "mapping") return t == Type::Object;
  if (name == "iterable") return t == Type::Array || t == Type::String;
  if (name == "sequence") return t == Type::Array || t == Type::Object || t == Type::String;
  if (name == "true") return t == Type::Bool && v.as_bool();
  if (name == "false") return t == Type::Bool && !v.as_bool();
  if (name == "lower") return t == Type::String && v.str() == to_lower(v.str());
  if (name == "upper") return t == Type::String && v.str() == to_upper(v.str());
  if (name == "odd" || name == "even") {
    if (t != Type::Int) fail("test '" + name + "' needs an integer, not a " + v.type_name());
    return (v.as_int() % 2 != 0) == (name == "odd");
  }
  fail("unknown test '" + name + "'");
}

Value Interpreter::member(const Value& object, const Value& property) {
  if (object.is_mapping_like()) {
    if (!property.is_string()) fail(std::string("cannot index a mapping with a ") + property.type_name());
    if (const Value* v = object.obj().find(property.str())) return *v;
    if (!object.is_object()) return Value();
    const std::string& p = property.str();
    const Value self = object;
    if (p == "items" || p == "keys" || p == "values") {
      return Value::function([self, p](Args&, Interpreter& in, Scope&) -> Value {
        in.charge(self.obj().size());
        if (p == "items") return items_of(self.obj());
        Array out;
        for (const auto& kv : self.obj().items()) out.push_back(p == "keys" ? Value(kv.first) : kv.second);
        return Value::array(std::move(out));
      });
    }
    if (p == "get") {
      return Value::function([self](Args& a, Interpreter&, Scope&) -> Value {
        const Value key = arg_or(a, 0, "key", Value());
        if (!key.is_string()) fail("get(): the key must be a string");
        if (const Value* v = self.obj().find(key.str())) return *v;
        return arg_or(a, 1, "default", Value::null());
      });
    }
    if (p == "dictsort") {
      return Value::function([self](Args& a, Interpreter& in, Scope&) -> Value {
        const Value cs = arg_or(a, 0, "case_sensitive", Value(false));
        const Value by = arg_or(a, 1, "by", Value("key"));
        const Value rev = arg_or(a, 2, "reverse", Value(false));
        if (!by.is_string() || (by.str() != "key" && by.str() != "value"))
          fail("dictsort: by must be 'key' or 'value'");
        in.charge(self.obj().size() * 8);
        std::vector<std::pair<std::string, Value>> items = self.obj().items();
        const size_t which = by.str() == "key" ? 0 : 1;
        std::stable_sort(items.begin(), items.end(), [&](const auto& x, const auto& y) {
          const Value xa = which ? x.second : Value(x.first), ya = which ? y.second : Value(y.first);
          const int c = compare_values(xa, ya, cs.truthy());
          return rev.truthy() ? c > 0 : c < 0;
        });
        Array out;
        for (auto& kv : items) out.push_back(Value::array({Value(kv.first), kv.second}));
        return Value::array(std::move(out));
      });
    }
    return Value();
  }
  if (object.is_array() || object.is_string()) {
    if (property.is_int()) {
      if (object.is_array()) {
        const int64_t n = static_cast<int64_t>(object.arr().size());
        int64_t i = property.as_int();
        if (i < 0) i += n;
        return i >= 0 && i < n ? object.arr()[static_cast<size_t>(i)] : Value();
      }
      const auto cs = utf8_chars(object.str());
      const int64_t n = static_cast<int64_t>(cs.size());
      int64_t i = property.as_int();
      if (i < 0) i += n;
      return i >= 0 && i < n ? Value(std::string(cs[static_cast<size_t>(i)])) : Value();
    }
    if (!property.is_string()) fail(std::string("cannot index a list or string with a ") + property.type_name());
    const std::string& p = property.str();
    if (p == "length")
      return Value(static_cast<int64_t>(object.is_array() ? object.arr().size() : utf16_length(object.str())));
    if (object.is_array()) return Value();
    const std::string s = object.str();
    if (p == "upper" || p == "lower" || p == "title" || p == "capitalize") {
      return Value::function([s, p](Args&, Interpreter& in, Scope&) -> Value {
        if (p == "upper") return in.str(to_upper(s));
        if (p == "lower") return in.str(to_lower(s));
        if (p == "title") return in.str(title_case(s));
        return in.str(capitalize(s));
      });
    }
    if (p == "strip" || p == "lstrip" || p == "rstrip") {
      return Value::function([s, p](Args& a, Interpreter& in, Scope&) -> Value {
        return in.str(strip_chars(s, a.get(0, "chars"), p != "rstrip", p != "lstrip"));
      });
    }
    if (p == "startswith" || p == "endswith") {
      return Value::function([s, p](Args& a, Interpreter&, Scope&) -> Value {
        const Value* pat = a.get(0, "prefix");
        if (!pat) fail(p + "() needs an argument");
        auto match = [&](const Value& x) {
          if (!x.is_string()) fail(p + "() takes a string or a tuple of strings");
          const std::string& q = x.str();
          if (q.size() > s.size()) return false;
          return p == "startswith" ? s.compare(0, q.size(), q) == 0 : s.compare(s.size() - q.size(), q.size(), q) == 0;
        };
        if (pat->is_array()) {
          for (const auto& x : pat->arr())
            if (match(x)) return Value(true);
          return Value(false);
        }
        return Value(match(*pat));
      });
    }
    if (p == "split") {
      return Value::function([s](Args& a, Interpreter& in, Scope&) -> Value {
        const Value sep = arg_or(a, 0, "sep", Value::null());
        const Value maxv = arg_or(a, 1, "maxsplit", Value(-1));
        if (!sep.is_string() && !sep.is_null()) fail("split(): sep must be a string or none");
        if (!maxv.is_int()) fail("split(): maxsplit must be an integer");
        const int64_t maxsplit = maxv.as_int();
        in.charge(s.size() / 4);
        Array out;
        if (sep.is_null()) {  // runs of whitespace, no empty strings at the ends
          const std::string t = js_trim(s, true, false);
          const auto cs = utf8_chars(t);
          size_t off = 0, i = 0;
          auto is_sp = [](std::string_view c) { return js_trim(c, true, true).empty(); };
          while (i < cs.size()) {
            while (i < cs.size() && is_sp(cs[i])) off += cs[i++].size();
            if (i >= cs.size()) break;
            if (maxsplit >= 0 && static_cast<int64_t>(out.size()) >= maxsplit) {
              out.emplace_back(t.substr(off));
              break;
            }
            const size_t start = off;
            while (i < cs.size() && !is_sp(cs[i])) off += cs[i++].size();
            out.emplace_back(t.substr(start, off - start));
          }
        } else {
          const std::string& d = sep.str();
          if (d.empty()) fail("split(): empty separator");
          size_t pos = 0;
          for (;;) {
            if (maxsplit >= 0 && static_cast<int64_t>(out.size()) >= maxsplit) {
              out.emplace_back(s.substr(pos));
              break;
            }
            const size_t at = s.find(d, pos);
            if (at == std::string::npos) {
              out.emplace_back(s.substr(pos));
              break;
            }
            out.emplace_back(s.substr(pos, at - pos));
            pos = at + d.size();
          }
        }
        return Value::array(std::move(out));
      });
    }
    if (p == "replace") {
      return Value::function([s](Args& a, Interpreter& in, Scope&) -> Value {
        const Value* from = a.get(0, "old");
        const Value* to = a.get(1, "new");
        if (!from || !to || !from->is_string() || !to->is_string()) fail("replace() takes two strings");
        const Value count = arg_or(a, 2, "count", Value::null());
        if (!count.is_int() && !count.is_null()) fail("replace(): count must be an integer or none");
        const int64_t n = count.is_int() ? count.as_int() : -1;
        // Bound the result before building it: an empty `old` inserts at every character.
        const size_t hits = from->str().empty() ? s.size() + 1 : s.size() / from->str().size();
        if (to->str().size() > 0 && hits > in.options().max_output / to->str().size() + 1 &&
            s.size() + hits * to->str().size() > in.options().max_output)
          fail("replace(): the result would exceed the output limit");
        return in.str(replace_all(s, from->str(), to->str(), n));
      });
    }
    return Value();
  }
  if (!property.is_string()) fail(std::string("cannot index a ") + object.type_name());
  return Value();
}

Value Interpreter::apply_filter(const Value& v, const Node& f, Scope& sc) {
  const std::string& name = f.s;
  Args a;
  if (f.flag) a = eval_args(f, 1, sc);
  if (name == "safe") return v;
  if (name == "tojson") {
    JsonOptions o;
    const Value ind = arg_or(a, 0, "indent", Value::null());
    if (!ind.is_int() && !ind.is_null()) fail("tojson: indent must be an integer");
    if (ind.is_int()) o.indent = static_cast<int>(std::clamp<int64_t>(ind.as_int(), -1, 64));
    const Value ea = arg_or(a, 1000, "ensure_ascii", Value(false));
    const Value sk = arg_or(a, 1000, "sort_keys", Value(false));
    if (ea.type() != Type::Bool || sk.type() != Type::Bool) fail("tojson: ensure_ascii and sort_keys must be booleans");
    o.ensure_ascii = ea.as_bool();
    o.sort_keys = sk.as_bool();
    const Value sep = arg_or(a, 1000, "separators", Value::null());
    if (sep.is_array()) {
      if (sep.arr().size() != 2 || !sep.arr()[0].is_string() || !sep.arr()[1].is_string())
        fail("tojson: separators must be two strings");
      o.has_separators = true;
      o.item_sep = sep.arr()[0].str();
      o.key_sep = sep.arr()[1].str();
    } else if (!sep.is_null()) {
      fail("tojson: separators must be two strings");
    }
    // The output can be far larger than the value (indentation): bound it by the output limit as it grows.
    std::string out = to_json(v, o);
    return str(std::move(out));
  }
  if (name == "default" || name == "d") {
    const Value def = arg_or(a, 0, "default_value", Value(""));
    const Value boolean = arg_or(a, 1, "boolean", Value(false));
    if (v.is_undefined() || (boolean.truthy() && !v.truthy())) return def;
    return v;
  }
  if (name == "length" || name == "count") {
    if (v.is_array()) return Value(static_cast<int64_t>(v.arr().size()));
    if (v.is_string()) return Value(static_cast<int64_t>(utf16_length(v.str())));
    if (v.is_object()) return Value(static_cast<int64_t>(v.obj().size()));
    fail(std::string("cannot take the length of a ") + v.type_name());
  }
  if (name == "int" || name == "float") {
    const bool as_int = name == "int";
    const Value def = arg_or(a, 0, "default", as_int ? Value(0) : Value(0.0));
    if (v.is_string()) {
      double d = 0;
      if (!js_parse_number(v.str(), as_int, d)) return def;
      return as_int ? int_value(d) : Value(d);
    }
    if (v.is_number()) {
      if (f.flag) return v;  // @huggingface/jinja returns numbers unchanged when the filter has arguments
      return as_int ? int_value(std::floor(v.as_number())) : Value(v.as_number());
    }
    if (v.type() == Type::Bool) return as_int ? Value(v.as_bool() ? 1 : 0) : Value(v.as_bool() ? 1.0 : 0.0);
    fail("cannot apply filter '" + name + "' to a " + v.type_name());
  }
  if (name == "join") {
    const Value sep = arg_or(a, 0, "d", Value(""));
    if (!sep.is_string()) fail("join: the separator must be a string");
    if (v.is_string()) {
      if (!f.flag) return v;
      std::string out;
      const auto cs = utf8_chars(v.str());
      for (size_t i = 0; i < cs.size(); ++i) out += (i ? sep.str() : "") + std::string(cs[i]);
      return str(std::move(out));
    }
    if (v.is_array()) {
      charge(v.arr().size());
      return str(js_join(v, sep.str()));
    }
    fail(std::string("cannot join a ") + v.type_name());
  }
  if (name == "string") {
    if (v.is_string()) return v;
    if (v.is_array()) {
      JsonOptions o;
      o.undefined_as_null = false;
      return str(to_json(v, o));
    }
    if (v.is_number() || v.type() == Type::Bool) return Value(to_output(v));
    fail("cannot apply filter 'string' to a " + std::string(v.type_name()));
  }
  if (v.is_array()) {
    const Array& arr = v.arr();
    if (name == "list") return v;
    if (name == "first") return arr.empty() ? Value() : arr.front();
    if (name == "last") return arr.empty() ? Value() : arr.back();
    if (name == "reverse") return Value::array(Array(arr.rbegin(), arr.rend()));
    if (name == "unique") {
      charge(arr.size() * arr.size() / 8 + 1);
      Array out;
      for (const auto& x : arr) {
        bool seen = false;
        for (const auto& y : out) seen = seen || strict_equal(x, y);
        if (!seen) out.push_back(x);
      }
      return Value::array(std::move(out));
    }
    if (name == "sort") {
      const Value rev = arg_or(a, 0, "reverse", Value(false));
      const Value cs = arg_or(a, 1, "case_sensitive", Value(false));
      const Value attr = arg_or(a, 2, "attribute", Value::null());
      charge(arr.size() * 8);
      Array out = arr;
      auto key = [&](const Value& x) {
        if (attr.is_null()) return x;
        return attribute_path(x, attr.is_int() ? std::to_string(attr.as_int()) : attr.is_string() ? attr.str() : "");
      };
      std::stable_sort(out.begin(), out.end(), [&](const Value& x, const Value& y) {
        const int c = compare_values(key(x), key(y), cs.truthy());
        return rev.truthy() ? c > 0 : c < 0;
      });
      return Value::array(std::move(out));
    }
    if (name == "selectattr" || name == "rejectattr" || name == "select" || name == "reject") {
      const bool by_attr = name.size() > 6;
      const bool keep = name[0] == 's';
      size_t k = 0;
      Value attr;
      if (by_attr) {
        if (a.pos.empty() || !a.pos[0].is_string()) fail(name + ": the attribute must be a string");
        attr = a.pos[k++];
      }
      const Value* test = k < a.pos.size() ? &a.pos[k] : nullptr;
      const Value* test_arg = k + 1 < a.pos.size() ? &a.pos[k + 1] : nullptr;
      if (test && !test->is_string()) fail(name + ": the test must be a string");
      charge(arr.size());
      Array out;
      for (const auto& item : arr) {
        Value x = item;
        if (by_attr) {
          if (!item.is_mapping_like()) fail("'" + name + "' needs a list of mappings");
          const Value* f2 = item.obj().find(attr.str());
          if (!f2) {
            if (!keep) out.push_back(item);
            continue;
          }
          x = *f2;
        }
        bool r;
        if (!test) {
          r = x.truthy();
        } else if (test->str() == "equalto" || test->str() == "eq" || test->str() == "==") {
          r = test_arg && strict_equal(x, *test_arg);
        } else if (test->str() == "ne" || test->str() == "!=") {
          r = !(test_arg && strict_equal(x, *test_arg));
        } else if (test->str() == "in") {
          r = false;
          if (test_arg && test_arg->is_array())
            for (const auto& y : test_arg->arr()) r = r || strict_equal(x, y);
        } else {
          r = apply_test(test->str(), x);
        }
        if (r == keep) out.push_back(item);
      }
      return Value::array(std::move(out));
    }
    if (name == "map") {
      const Value* attr = nullptr;
      const Value* def = nullptr;
      for (const auto& kv : a.kw) {
        if (kv.first == "attribute") attr = &kv.second;
        if (kv.first == "default") def = &kv.second;
      }
      charge(arr.size());
      Array out;
      if (attr) {
        if (!attr->is_string()) fail("map: attribute must be a string");
        for (const auto& item : arr) {
          if (!item.is_mapping_like()) fail("map: the items must be mappings");
          Value x = attribute_path(item, attr->str());
          out.push_back(x.is_undefined() && def ? *def : x);
        }
        return Value::array(std::move(out));
      }
      if (!a.pos.empty() && a.pos[0].is_string()) {  // map('filter'): a filter by name, without arguments
        Node fake;
        fake.kind = Nk::Filter;
        fake.s = a.pos[0].str();
        for (const auto& item : arr) out.push_back(apply_filter(item, fake, sc));
        return Value::array(std::move(out));
      }
      fail("map needs attribute= or a filter name");
    }
    if (name == "items") fail("cannot apply filter 'items' to a list");
  }
  if (v.is_string()) {
    const std::string& s = v.str();
    if (name == "upper") return str(to_upper(s));
    if (name == "lower") return str(to_lower(s));
    if (name == "title") return str(title_case(s));
    if (name == "capitalize") return str(capitalize(s));
    if (name == "trim") return str(strip_chars(s, a.get(0, "chars"), true, true));
    if (name == "indent") {
      const Value width = arg_or(a, 0, "width", Value(4));
      const Value first = arg_or(a, 1, "first", Value(false));
      const Value blank = arg_or(a, 2, "blank", Value(false));
      std::string pad;
      if (width.is_int()) {
        if (width.as_int() < 0 || width.as_int() > 256) fail("indent: width out of range");
        pad.assign(static_cast<size_t>(width.as_int()), ' ');
      } else if (width.is_string()) {
        pad = width.str();
      } else {
        fail("indent: width must be a number or a string");
      }
      const size_t lines = static_cast<size_t>(std::count(s.begin(), s.end(), '\n')) + 1;
      if (pad.size() && lines > (opts_.max_output - s.size()) / pad.size()) fail("indent: the result is too large");
      return str(indent(s, pad, first.truthy(), blank.truthy()));
    }
    if (name == "replace") {
      Value fn = member(v, Value("replace"));
      return call_function(fn, a, sc);
    }
  }
  if (v.is_number()) {
    if (name == "abs")
      return v.is_int() ? (v.as_int() == INT64_MIN ? Value(-v.as_number())
                                                   : Value(static_cast<int64_t>(std::llabs(v.as_int()))))
                        : Value(std::fabs(v.as_number()));
  }
  if (v.is_object()) {
    if (name == "items") return items_of(v.obj());
    const Value fn = member(v, Value(name));
    if (fn.type() == Type::Function && (name == "keys" || name == "values" || name == "dictsort" || name == "get"))
      return call_function(fn, a, sc);
  }
  if (v.type() == Type::Bool && name == "bool") return v;
  fail("unknown filter '" + name + "' for a " + v.type_name());
}

void Interpreter::install_globals(Scope& g) {
  g.vars["true"] = g.vars["True"] = Value(true);
  g.vars["false"] = g.vars["False"] = Value(false);
  g.vars["none"] = g.vars["None"] = Value::null();
  g.vars["raise_exception"] = Value::function([](Args& a, Interpreter&, Scope&) -> Value {
    const Value* m = a.get(0, "message");
    fail("the template raised an exception: " + (m ? to_js_string(*m) : std::string("(no message)")));
  });
  g.vars["namespace"] = Value::function([](Args& a, Interpreter&, Scope&) -> Value {
    if (a.pos.size() > 1) fail("namespace() takes at most one positional argument");
    Object o;
    if (!a.pos.empty()) {
      const Value& src = a.pos[0];
      if (src.is_object()) {
        for (const auto& kv : src.obj().items()) o.set(kv.first, kv.second);
      } else if (src.is_array()) {
        for (const auto& pair : src.arr()) {
          if (!pair.is_array() || pair.arr().size() != 2 || !pair.arr()[0].is_string())
            fail("namespace() expects [key, value] pairs with string keys");
          o.set(pair.arr()[0].str(), pair.arr()[1]);
        }
      } else {
        fail(std::string("namespace() cannot take a ") + src.type_name());
      }
    }
    for (const auto& kv : a.kw) o.set(kv.first, kv.second);  // Value::ns refuses nested namespaces
    return Value::ns(std::move(o));
  });
  g.vars["range"] = Value::function([](Args& a, Interpreter& in, Scope&) -> Value {
    for (const auto& x : a.pos)
      if (!x.is_int()) fail("range() takes integers");
    if (a.pos.empty() || a.pos.size() > 3) fail("range() takes 1 to 3 arguments");
    int64_t start = 0, stop, step = 1;
    if (a.pos.size() == 1) {
      stop = a.pos[0].as_int();
    } else {
      start = a.pos[0].as_int();
      stop = a.pos[1].as_int();
      if (a.pos.size() == 3) step = a.pos[2].as_int();
    }
    if (step == 0) fail("range() step must not be zero");
    const double count =
        std::max(0.0, std::ceil((static_cast<double>(stop) - static_cast<double>(start)) / static_cast<double>(step)));
    in.charge(static_cast<uint64_t>(std::min(count, 1e18)));
    Array out;
    for (int64_t i = start; step > 0 ? i < stop : i > stop; i += step) {
      out.emplace_back(i);
      if (__builtin_add_overflow(i, step, &i)) break;
      i -= step;
    }
    return Value::array(std::move(out));
  });
  g.vars["strftime_now"] = Value::function([](Args& a, Interpreter& in, Scope&) -> Value {
    const Value* fmt = a.get(0, "format");
    if (!fmt || !fmt->is_string()) fail("strftime_now() takes a format string");
    std::tm t{};
    if (in.options().now) {
      t = *in.options().now;
    } else {
      const std::time_t now = std::time(nullptr);
      localtime_r(&now, &t);
    }
    return in.str(strftime_js(t, fmt->str()));
  });
}

}  // namespace ondi::jinja
