#include "chat/jinja_value.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "tokenizer/unicode.h"

namespace ondi::jinja {

void fail(std::string message) { throw Error{std::move(message), 0, 0}; }

const Value* Object::find(std::string_view key) const {
  auto it = index_.find(std::string(key));
  return it == index_.end() ? nullptr : &items_[it->second].second;
}
Value* Object::find(std::string_view key) {
  auto it = index_.find(std::string(key));
  return it == index_.end() ? nullptr : &items_[it->second].second;
}
void Object::set(const std::string& key, Value v) {
  auto it = index_.find(key);
  if (it != index_.end()) {
    items_[it->second].second = std::move(v);
    return;
  }
  index_.emplace(key, items_.size());
  items_.emplace_back(key, std::move(v));
}

namespace {
int max_child_depth(const Array& a, bool& ns) {
  int d = 0;
  for (const auto& v : a) {
    d = std::max(d, v.depth());
    ns = ns || v.holds_namespace();
  }
  return d;
}
int max_child_depth(const Object& o, bool& ns) {
  int d = 0;
  for (const auto& kv : o.items()) {
    d = std::max(d, kv.second.depth());
    ns = ns || kv.second.holds_namespace();
  }
  return d;
}
void check_depth(int d) {
  if (d > kMaxDepth) fail("values nested deeper than " + std::to_string(kMaxDepth) + " levels");
}
}  // namespace

Value Value::array(Array a) {
  Value v(Type::Array);
  v.depth_ = max_child_depth(a, v.has_ns_) + 1;
  check_depth(v.depth_);
  v.arr_ = std::make_shared<const Array>(std::move(a));
  return v;
}
Value Value::object(Object o) {
  Value v(Type::Object);
  v.depth_ = max_child_depth(o, v.has_ns_) + 1;
  check_depth(v.depth_);
  v.obj_ = std::make_shared<Object>(std::move(o));
  return v;
}
Value Value::ns(Object o) {
  Value v = object(std::move(o));
  if (v.has_ns_) fail("a namespace cannot hold a namespace");
  v.type_ = Type::Namespace;
  v.has_ns_ = true;
  return v;
}
Value Value::function(Function f) {
  Value v(Type::Function);
  v.fn_ = std::make_shared<const Function>(std::move(f));
  return v;
}

const void* Value::identity() const {
  switch (type_) {
    case Type::Array:
      return arr_.get();
    case Type::Object:
    case Type::Namespace:
      return obj_.get();
    case Type::Function:
      return fn_.get();
    default:
      return nullptr;
  }
}

bool Value::truthy() const {
  switch (type_) {
    case Type::Undefined:
    case Type::Null:
      return false;
    case Type::Bool:
    case Type::Int:
      return i_ != 0;
    case Type::Float:
      return f_ != 0 && !std::isnan(f_);
    case Type::String:
      return !s_->empty();
    case Type::Array:
      return !arr_->empty();
    case Type::Object:
      return obj_->size() > 0;
    case Type::Namespace:  // a JavaScript Map object: always truthy
    case Type::Function:
      return true;
  }
  return false;
}

const char* Value::type_name() const {
  switch (type_) {
    case Type::Undefined:
      return "undefined";
    case Type::Null:
      return "none";
    case Type::Bool:
      return "boolean";
    case Type::Int:
      return "integer";
    case Type::Float:
      return "float";
    case Type::String:
      return "string";
    case Type::Array:
      return "list";
    case Type::Object:
      return "mapping";
    case Type::Namespace:
      return "namespace";
    case Type::Function:
      return "function";
  }
  return "?";
}

const Value* Args::get(size_t i, std::string_view name) const {
  if (i < pos.size()) return &pos[i];
  for (const auto& kv : kw)
    if (kv.first == name) return &kv.second;
  return nullptr;
}

// ---- numbers --------------------------------------------------------------------------------------------

std::string js_number(double d) {
  if (std::isnan(d)) return "NaN";
  if (std::isinf(d)) return d > 0 ? "Infinity" : "-Infinity";
  if (d == 0) return "0";
  // Shortest digits that read back to the same double, as ECMAScript's Number::toString requires.
  char buf[64];
  int prec = 0;
  for (; prec < 17; ++prec) {
    std::snprintf(buf, sizeof buf, "%.*e", prec, d);
    if (std::strtod(buf, nullptr) == d) break;
  }
  std::string s = buf;
  const bool neg = s[0] == '-';
  if (neg) s.erase(0, 1);
  const size_t epos = s.find('e');
  const int e = std::atoi(s.c_str() + epos + 1);
  std::string digits;
  for (size_t i = 0; i < epos; ++i)
    if (s[i] != '.') digits += s[i];
  while (digits.size() > 1 && digits.back() == '0') digits.pop_back();
  const int k = static_cast<int>(digits.size());
  const int n = e + 1;  // position of the decimal point relative to the digits
  std::string out;
  if (k <= n && n <= 21) {
    out = digits + std::string(static_cast<size_t>(n - k), '0');
  } else if (0 < n && n <= 21) {
    out.assign(digits, 0, static_cast<size_t>(n));
    out += '.';
    out.append(digits, static_cast<size_t>(n), std::string::npos);
  } else if (-6 < n && n <= 0) {
    out = "0.";
    out.append(static_cast<size_t>(-n), '0');
    out += digits;
  } else {
    out = digits.substr(0, 1);
    if (k > 1) {
      out += '.';
      out.append(digits, 1, std::string::npos);
    }
    out += n - 1 >= 0 ? "e+" : "e-";
    out += std::to_string(std::abs(n - 1));
  }
  return neg ? "-" + out : out;
}

namespace {

std::string float_output(double d) {
  if (d == 0 && std::signbit(d)) return "-0.0";
  if (std::isfinite(d) && d == std::floor(d)) {
    if (std::fabs(d) >= 1e21) return js_number(d);  // toFixed falls back to String() there
    char buf[400];
    std::snprintf(buf, sizeof buf, "%.1f", d);
    return buf;
  }
  return js_number(d);
}

// JavaScript's Number(string) for loose equality.
double js_to_number(const std::string& s) {
  const std::string t = js_trim(s, true, true);
  if (t.empty()) return 0;
  if (t == "Infinity" || t == "+Infinity") return INFINITY;
  if (t == "-Infinity") return -INFINITY;
  for (char c : t)
    if (c == 'n' || c == 'N' || c == 'i' || c == 'I') return NAN;
  char* end = nullptr;
  const double d = std::strtod(t.c_str(), &end);
  return end && *end == '\0' ? d : NAN;
}

void json_string(std::string& out, std::string_view s, bool ensure_ascii) {
  out += '"';
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  for (size_t i = 0; i < s.size();) {
    const unsigned char c = p[i];
    if (c < 0x80) {
      ++i;
      switch (c) {
        case '"':
          out += "\\\"";
          break;
        case '\\':
          out += "\\\\";
          break;
        case '\b':
          out += "\\b";
          break;
        case '\f':
          out += "\\f";
          break;
        case '\n':
          out += "\\n";
          break;
        case '\r':
          out += "\\r";
          break;
        case '\t':
          out += "\\t";
          break;
        default:
          if (c < 0x20 || (ensure_ascii && c == 0x7f)) {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\u%04x", c);
            out += buf;
          } else {
            out += static_cast<char>(c);
          }
      }
      continue;
    }
    const size_t len = tok::utf8_valid_len(p, s.size(), i);
    if (len == 0) {  // not UTF-8: passed through as it is
      out += static_cast<char>(c);
      ++i;
      continue;
    }
    if (ensure_ascii) {
      uint32_t cp = tok::utf8_decode_valid(p + i, len);
      char buf[16];
      if (cp >= 0x10000) {
        cp -= 0x10000;
        std::snprintf(buf, sizeof buf, "\\u%04x\\u%04x", 0xD800 + (cp >> 10), 0xDC00 + (cp & 0x3FF));
      } else {
        std::snprintf(buf, sizeof buf, "\\u%04x", cp);
      }
      out += buf;
    } else {
      out.append(s.substr(i, len));
    }
    i += len;
  }
  out += '"';
}

void json_rec(std::string& out, const Value& v, const JsonOptions& o, int depth) {
  if (depth > 2 * kMaxDepth) fail("tojson: value nested too deeply");
  std::string item_sep = o.has_separators ? o.item_sep : (o.indent > 0 ? "," : ", ");
  const std::string& key_sep = o.has_separators ? o.key_sep : std::string(": ");
  const std::string ind = o.indent > 0 ? std::string(static_cast<size_t>(o.indent), ' ') : "";
  std::string base = "\n";
  for (int i = 0; i < depth && o.indent > 0; ++i) base += ind;
  const std::string child = base + ind;
  switch (v.type()) {
    case Type::Undefined:
      out += o.undefined_as_null ? "null" : "undefined";
      return;
    case Type::Null:
      out += "null";
      return;
    case Type::Bool:
      out += v.as_bool() ? "true" : "false";
      return;
    case Type::Int:
      out += std::to_string(v.as_int());
      return;
    case Type::Float:
      out += std::isfinite(v.as_number()) ? js_number(v.as_number()) : "null";
      return;
    case Type::String:
      json_string(out, v.str(), o.ensure_ascii);
      return;
    case Type::Array: {
      const Array& a = v.arr();
      out += '[';
      for (size_t i = 0; i < a.size(); ++i) {
        if (i) out += item_sep;
        if (o.indent > 0) out += child;
        json_rec(out, a[i], o, depth + 1);
      }
      if (o.indent > 0 && !a.empty()) out += base;
      out += ']';
      return;
    }
    case Type::Object:
    case Type::Namespace: {
      std::vector<const std::pair<std::string, Value>*> items;
      for (const auto& kv : v.obj().items()) items.push_back(&kv);
      if (o.sort_keys)
        std::stable_sort(items.begin(), items.end(), [](auto* a, auto* b) { return a->first < b->first; });
      out += '{';
      for (size_t i = 0; i < items.size(); ++i) {
        if (i) out += item_sep;
        if (o.indent > 0) out += child;
        json_string(out, items[i]->first, o.ensure_ascii);
        out += key_sep;
        json_rec(out, items[i]->second, o, depth + 1);
      }
      if (o.indent > 0 && !items.empty()) out += base;
      out += '}';
      return;
    }
    case Type::Function:
      fail("tojson: cannot convert a function to JSON");
  }
}

}  // namespace

std::string to_json(const Value& v, const JsonOptions& o) {
  std::string out;
  json_rec(out, v, o, 0);
  return out;
}

std::string to_output(const Value& v) {
  switch (v.type()) {
    case Type::Undefined:
      return "undefined";
    case Type::Null:
      return "null";
    case Type::Bool:
      return v.as_bool() ? "true" : "false";
    case Type::Int:
      return std::to_string(v.as_int());
    case Type::Float:
      return float_output(v.as_number());
    case Type::String:
      return v.str();
    case Type::Array:
    case Type::Object:
    case Type::Namespace: {
      JsonOptions o;
      o.undefined_as_null = false;
      return to_json(v, o);
    }
    case Type::Function:
      return "[function]";
  }
  return "";
}

std::string to_js_string(const Value& v) {
  switch (v.type()) {
    case Type::Float:
      return js_number(v.as_number());
    case Type::Array: {
      std::string out;
      const Array& a = v.arr();
      for (size_t i = 0; i < a.size(); ++i) {
        if (i) out += ',';
        if (a[i].depth() > kMaxDepth) fail("value nested too deeply");
        out += to_output(a[i]);
      }
      return out;
    }
    case Type::Object:
    case Type::Namespace:
      return "[object Map]";
    default:
      return to_output(v);
  }
}

bool loose_equal(const Value& a, const Value& b) {
  const bool an = a.is_null() || a.is_undefined(), bn = b.is_null() || b.is_undefined();
  if (an || bn) return an && bn;
  const void* ia = a.identity();
  const void* ib = b.identity();
  if (ia || ib) return ia == ib;
  if (a.is_string() && b.is_string()) return a.str() == b.str();
  auto num = [](const Value& v) {
    return v.is_string() ? js_to_number(v.str()) : v.type() == Type::Bool ? (v.as_bool() ? 1.0 : 0.0) : v.as_number();
  };
  if (a.type() == Type::Bool && b.type() == Type::Bool) return a.as_bool() == b.as_bool();
  if (a.is_int() && b.is_int()) return a.as_int() == b.as_int();
  return num(a) == num(b);
}

bool strict_equal(const Value& a, const Value& b) {
  if (a.is_number() && b.is_number()) {
    if (a.is_int() && b.is_int()) return a.as_int() == b.as_int();
    return a.as_number() == b.as_number();
  }
  if (a.type() != b.type()) return false;
  switch (a.type()) {
    case Type::Undefined:
    case Type::Null:
      return true;
    case Type::Bool:
      return a.as_bool() == b.as_bool();
    case Type::String:
      return a.str() == b.str();
    default:
      return a.identity() == b.identity();
  }
}

// ---- text -----------------------------------------------------------------------------------------------

namespace {
size_t char_len(std::string_view s, size_t i) {
  const size_t n = tok::utf8_valid_len(reinterpret_cast<const unsigned char*>(s.data()), s.size(), i);
  return n ? n : 1;
}
uint32_t cp_at(std::string_view s, size_t i, size_t len) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data()) + i;
  if (len == 1) return p[0] < 0x80 ? p[0] : 0xFFFD;
  return tok::utf8_decode_valid(p, len);
}
}  // namespace

std::vector<std::string_view> utf8_chars(std::string_view s) {
  std::vector<std::string_view> out;
  for (size_t i = 0; i < s.size();) {
    const size_t n = char_len(s, i);
    out.push_back(s.substr(i, n));
    i += n;
  }
  return out;
}

size_t utf16_length(std::string_view s) {
  size_t n = 0;
  for (size_t i = 0; i < s.size();) {
    const size_t len = char_len(s, i);
    n += cp_at(s, i, len) >= 0x10000 ? 2 : 1;
    i += len;
  }
  return n;
}

bool is_js_space(uint32_t cp) {
  return (cp >= 0x09 && cp <= 0x0D) || cp == 0x20 || cp == 0xA0 || cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A) ||
         cp == 0x2028 || cp == 0x2029 || cp == 0x202F || cp == 0x205F || cp == 0x3000 || cp == 0xFEFF;
}

std::string js_trim(std::string_view s, bool left, bool right) {
  size_t b = 0, e = s.size();
  if (left) {
    while (b < e) {
      const size_t n = char_len(s, b);
      if (!is_js_space(cp_at(s, b, n))) break;
      b += n;
    }
  }
  if (right) {
    while (e > b) {
      size_t start = e - 1;  // back up to the lead byte of the last character
      while (start > b && (static_cast<unsigned char>(s[start]) & 0xC0) == 0x80 && e - start < 4) --start;
      size_t n = char_len(s, start);
      if (start + n != e) {  // not one well-formed character: the last byte alone
        start = e - 1;
        n = 1;
      }
      if (!is_js_space(cp_at(s, start, n))) break;
      e = start;
    }
  }
  return std::string(s.substr(b, e - b));
}

namespace {
uint32_t map_case(uint32_t c, bool upper) {
  if (upper) {
    if (c >= 'a' && c <= 'z') return c - 32;
    if ((c >= 0xE0 && c <= 0xFE && c != 0xF7) || (c >= 0x3B1 && c <= 0x3C9 && c != 0x3C2) || (c >= 0x430 && c <= 0x44F))
      return c - 32;
    if (c == 0xFF) return 0x178;
    if (c == 0x3C2) return 0x3A3;
    if (c >= 0x450 && c <= 0x45F) return c - 80;
  } else {
    if (c >= 'A' && c <= 'Z') return c + 32;
    if ((c >= 0xC0 && c <= 0xDE && c != 0xD7) || (c >= 0x391 && c <= 0x3A9 && c != 0x3A2) || (c >= 0x410 && c <= 0x42F))
      return c + 32;
    if (c == 0x178) return 0xFF;
    if (c >= 0x400 && c <= 0x40F) return c + 80;
  }
  return c;
}
std::string map_string(std::string_view s, bool upper) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    const size_t n = char_len(s, i);
    const uint32_t cp = cp_at(s, i, n);
    if (upper && cp == 0xDF) {
      out += "SS";  // JavaScript's toUpperCase expands the sharp s
    } else if ((n == 1 && cp >= 0x80) || map_case(cp, upper) == cp) {
      out.append(s.substr(i, n));
    } else {
      tok::utf8_append(out, map_case(cp, upper));
    }
    i += n;
  }
  return out;
}
}  // namespace

std::string to_upper(std::string_view s) { return map_string(s, true); }
std::string to_lower(std::string_view s) { return map_string(s, false); }

}  // namespace ondi::jinja
