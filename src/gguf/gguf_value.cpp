// GgufValue helpers: type names, builders and the human-readable rendering used by `ondi info`.
#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <limits>

#include "gguf/gguf.h"

namespace ondi {

std::string_view gguf_value_type_name(GgufValueType t) {
  switch (t) {
    case GgufValueType::UINT8:
      return "UINT8";
    case GgufValueType::INT8:
      return "INT8";
    case GgufValueType::UINT16:
      return "UINT16";
    case GgufValueType::INT16:
      return "INT16";
    case GgufValueType::UINT32:
      return "UINT32";
    case GgufValueType::INT32:
      return "INT32";
    case GgufValueType::FLOAT32:
      return "FLOAT32";
    case GgufValueType::BOOL:
      return "BOOL";
    case GgufValueType::STRING:
      return "STRING";
    case GgufValueType::ARRAY:
      return "ARRAY";
    case GgufValueType::UINT64:
      return "UINT64";
    case GgufValueType::INT64:
      return "INT64";
    case GgufValueType::FLOAT64:
      return "FLOAT64";
  }
  return "?";
}

namespace {

bool is_signed_int(GgufValueType t) {
  return t == GgufValueType::INT8 || t == GgufValueType::INT16 || t == GgufValueType::INT32 ||
         t == GgufValueType::INT64;
}
bool is_unsigned_int(GgufValueType t) {
  return t == GgufValueType::UINT8 || t == GgufValueType::UINT16 || t == GgufValueType::UINT32 ||
         t == GgufValueType::UINT64;
}
bool is_float_type(GgufValueType t) { return t == GgufValueType::FLOAT32 || t == GgufValueType::FLOAT64; }

// Bytes of a string shown before it is cut; enough for a path or a short template line.
constexpr size_t kMaxShownString = 96;

void append_float(std::string& out, double v, bool single) {
  if (std::isnan(v)) {
    out += "nan";
    return;
  }
  if (std::isinf(v)) {
    out += v < 0 ? "-inf" : "inf";
    return;
  }
  // Shortest round-trip digits of the stored precision (1e-05 for a FLOAT32 1e-5, not 9.99999974737875e-06),
  // positional for everyday magnitudes (500000, 0.001) and scientific outside them, as Python prints floats.
  char buf[64];
  if (single && std::fabs(v) > std::numeric_limits<float>::max()) single = false;  // a hand-built value
  const float f = static_cast<float>(v);
  auto sci = single ? std::to_chars(buf, buf + sizeof buf, f, std::chars_format::scientific)
                    : std::to_chars(buf, buf + sizeof buf, v, std::chars_format::scientific);
  const char* e = std::find(buf, sci.ptr, 'e');
  int exp10 = 0;
  if (e != sci.ptr) std::from_chars(e + (e[1] == '+' ? 2 : 1), sci.ptr, exp10);
  if (exp10 >= -4 && exp10 < 16) {
    auto fx = single ? std::to_chars(buf, buf + sizeof buf, f, std::chars_format::fixed)
                     : std::to_chars(buf, buf + sizeof buf, v, std::chars_format::fixed);
    out.append(buf, fx.ptr);
  } else {
    out.append(buf, sci.ptr);
  }
}

void append_quoted(std::string& out, std::string_view s) {
  size_t n = s.size();
  const bool cut = n > kMaxShownString;
  if (cut) {
    n = kMaxShownString;
    // Back off to a UTF-8 sequence start so that the output stays valid UTF-8.
    while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
  }
  out += '"';
  for (size_t i = 0; i < n; ++i) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
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
        if (c < 0x20 || c == 0x7F) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\x%02X", c);
          out += buf;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  out += '"';
  if (cut) out += "... (" + std::to_string(s.size()) + " bytes)";
}

void append_value(std::string& out, const GgufValue& v, size_t max_items);

void append_array(std::string& out, const GgufValue& v, size_t max_items) {
  const size_t n = v.array_size();
  const size_t shown = n < max_items ? n : max_items;
  const GgufValueType et = v.elem_type;
  const bool from_int = (is_signed_int(et) || is_unsigned_int(et) || et == GgufValueType::BOOL) && !v.arr_int.empty();
  out += '[';
  for (size_t i = 0; i < shown; ++i) {
    if (i) out += ", ";
    switch (et) {
      case GgufValueType::STRING:
        append_quoted(out, v.arr_str[i]);
        break;
      case GgufValueType::ARRAY:
        append_value(out, v.arr_nested[i], max_items);
        break;
      case GgufValueType::FLOAT32:
      case GgufValueType::FLOAT64:
        append_float(out, v.arr_num[i], et == GgufValueType::FLOAT32);
        break;
      case GgufValueType::BOOL:
        out += (from_int ? v.arr_int[i] != 0 : v.arr_num[i] != 0) ? "true" : "false";
        break;
      case GgufValueType::UINT64:
        out += from_int ? std::to_string(static_cast<uint64_t>(v.arr_int[i])) : std::to_string(v.arr_num[i]);
        break;
      default:
        out += from_int ? std::to_string(v.arr_int[i]) : std::to_string(static_cast<int64_t>(v.arr_num[i]));
        break;
    }
  }
  if (shown < n) out += (shown ? ", ... (" : "... (") + std::to_string(n) + " items)";
  out += ']';
}

void append_value(std::string& out, const GgufValue& v, size_t max_items) {
  const GgufValueType t = v.type;
  if (is_unsigned_int(t)) {
    out += std::to_string(v.u64);
  } else if (is_signed_int(t)) {
    out += std::to_string(v.i64);
  } else if (is_float_type(t)) {
    append_float(out, v.f64, t == GgufValueType::FLOAT32);
  } else if (t == GgufValueType::BOOL) {
    out += v.b ? "true" : "false";
  } else if (t == GgufValueType::STRING) {
    append_quoted(out, v.str);
  } else if (t == GgufValueType::ARRAY) {
    append_array(out, v, max_items);
  } else {
    out += "<invalid type " + std::to_string(static_cast<uint32_t>(t)) + ">";
  }
}

}  // namespace

size_t GgufValue::array_size() const {
  if (type != GgufValueType::ARRAY) return 0;
  switch (elem_type) {
    case GgufValueType::STRING:
      return arr_str.size();
    case GgufValueType::ARRAY:
      return arr_nested.size();
    case GgufValueType::FLOAT32:
    case GgufValueType::FLOAT64:
      return arr_num.size();
    default:
      return arr_int.empty() ? arr_num.size() : arr_int.size();
  }
}

bool GgufValue::is_integer() const { return is_signed_int(type) || is_unsigned_int(type); }
bool GgufValue::is_float() const { return is_float_type(type); }

std::string GgufValue::to_string(size_t max_items) const {
  std::string out;
  append_value(out, *this, max_items);
  return out;
}

GgufValue GgufValue::make_uint(GgufValueType t, uint64_t v) {
  GgufValue r;
  r.type = t;
  r.u64 = v;
  r.i64 = static_cast<int64_t>(v);
  return r;
}

GgufValue GgufValue::make_int(GgufValueType t, int64_t v) {
  GgufValue r;
  r.type = t;
  r.i64 = v;
  r.u64 = static_cast<uint64_t>(v);
  return r;
}

GgufValue GgufValue::make_float(GgufValueType t, double v) {
  GgufValue r;
  r.type = t;
  r.f64 = v;
  return r;
}

GgufValue GgufValue::make_bool(bool v) {
  GgufValue r;
  r.type = GgufValueType::BOOL;
  r.b = v;
  r.u64 = v;
  r.i64 = v;
  return r;
}

GgufValue GgufValue::make_str(std::string v) {
  GgufValue r;
  r.type = GgufValueType::STRING;
  r.str = std::move(v);
  return r;
}

GgufValue GgufValue::make_arr_str(std::vector<std::string> v) {
  GgufValue r;
  r.type = GgufValueType::ARRAY;
  r.elem_type = GgufValueType::STRING;
  r.arr_str = std::move(v);
  return r;
}

GgufValue GgufValue::make_arr_int(GgufValueType elem, std::vector<int64_t> v) {
  GgufValue r;
  r.type = GgufValueType::ARRAY;
  r.elem_type = elem;
  r.arr_num.reserve(v.size());
  for (int64_t x : v)
    r.arr_num.push_back(elem == GgufValueType::UINT64 ? static_cast<double>(static_cast<uint64_t>(x))
                                                      : static_cast<double>(x));
  r.arr_int = std::move(v);
  return r;
}

GgufValue GgufValue::make_arr_float(GgufValueType elem, std::vector<double> v) {
  GgufValue r;
  r.type = GgufValueType::ARRAY;
  r.elem_type = elem;
  r.arr_num = std::move(v);
  return r;
}

GgufValue GgufValue::make_arr_nested(std::vector<GgufValue> v) {
  GgufValue r;
  r.type = GgufValueType::ARRAY;
  r.elem_type = GgufValueType::ARRAY;
  r.arr_nested = std::move(v);
  return r;
}

}  // namespace ondi
