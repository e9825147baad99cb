#include "tokenizer/normalizer.h"

#include <utf8proc.h>

#include <cstdlib>

#include "tokenizer/unicode.h"

namespace ondi::tok {

namespace {

bool is_ascii(std::string_view s) {
  for (unsigned char c : s) {
    if (c >= 0x80) return false;
  }
  return true;
}

std::string unicode_form(std::string_view s, utf8proc_option_t opts) {
  // Every normalization form leaves ASCII as it is (the common case: no allocation through utf8proc).
  if (is_ascii(s)) return std::string(s);
  utf8proc_uint8_t* out = nullptr;
  const utf8proc_ssize_t n =
      utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(s.data()), static_cast<utf8proc_ssize_t>(s.size()), &out,
                   static_cast<utf8proc_option_t>(opts | UTF8PROC_STABLE));
  // The input is well-formed UTF-8, so utf8proc fails only on memory exhaustion: keep the text as it is then.
  if (n < 0 || out == nullptr) return std::string(s);
  std::string r(reinterpret_cast<const char*>(out), static_cast<size_t>(n));
  std::free(out);
  return r;
}

std::string lowercase(std::string_view s) {
  std::string r;
  r.reserve(s.size());
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  for (size_t i = 0; i < s.size();) {
    if (p[i] < 0x80) {
      r += static_cast<char>(p[i] >= 'A' && p[i] <= 'Z' ? p[i] + 32 : p[i]);
      ++i;
      continue;
    }
    const size_t len = utf8_valid_len(p, s.size(), i);
    if (len == 0) {  // cannot happen for well-formed input; keep the byte
      r += static_cast<char>(p[i++]);
      continue;
    }
    utf8_append(r,
                static_cast<uint32_t>(utf8proc_tolower(static_cast<utf8proc_int32_t>(utf8_decode_valid(p + i, len)))));
    i += len;
  }
  return r;
}

std::string replace_all(std::string_view s, std::string_view from, std::string_view to) {
  if (from.empty()) return std::string(s);
  std::string r;
  r.reserve(s.size());
  size_t pos = 0;
  for (size_t hit; (hit = s.find(from, pos)) != std::string_view::npos; pos = hit + from.size()) {
    r.append(s, pos, hit - pos).append(to);
  }
  r.append(s, pos);
  return r;
}

uint32_t cp_at(std::string_view s, size_t i, size_t& len) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  len = utf8_valid_len(p, s.size(), i);
  if (len == 0) {
    len = 1;
    return 0xFFFD;
  }
  return utf8_decode_valid(p + i, len);
}

bool is_js_space(uint32_t c) {
  return (c >= 0x9 && c <= 0xD) || c == 0x20 || c == 0xA0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200A) ||
         c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000 || c == 0xFEFF;
}

}  // namespace

size_t ws_prefix_len(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    size_t len;
    if (!is_js_space(cp_at(s, i, len))) break;
    i += len;
  }
  return i;
}

size_t ws_suffix_len(std::string_view s) {
  size_t end = s.size();
  while (end > 0) {
    size_t start = end - 1;
    while (start > 0 && (static_cast<unsigned char>(s[start]) & 0xC0) == 0x80) --start;
    size_t len;
    if (!is_js_space(cp_at(s, start, len)) || start + len != end) break;
    end = start;
  }
  return s.size() - end;
}

std::string normalize(const std::vector<NormalizerStep>& steps, std::string_view text, bool first, bool no_prefix) {
  std::string s(text);
  for (const NormalizerStep& st : steps) {
    switch (st.kind) {
      case NormalizerStep::Kind::nfc:
        s = unicode_form(s, UTF8PROC_COMPOSE);
        break;
      case NormalizerStep::Kind::nfd:
        s = unicode_form(s, UTF8PROC_DECOMPOSE);
        break;
      case NormalizerStep::Kind::nfkc:
        s = unicode_form(s, static_cast<utf8proc_option_t>(UTF8PROC_COMPOSE | UTF8PROC_COMPAT));
        break;
      case NormalizerStep::Kind::nfkd:
        s = unicode_form(s, static_cast<utf8proc_option_t>(UTF8PROC_DECOMPOSE | UTF8PROC_COMPAT));
        break;
      case NormalizerStep::Kind::lowercase:
        s = lowercase(s);
        break;
      case NormalizerStep::Kind::prepend:
        if (!s.empty() && !no_prefix) s.insert(0, st.a);
        break;
      case NormalizerStep::Kind::replace:
        s = replace_all(s, st.a, st.b);
        break;
      case NormalizerStep::Kind::metaspace_prepend:
        if (!s.empty() && !no_prefix && s.compare(0, st.a.size(), st.a) != 0 && (!st.first_only || first)) {
          s.insert(0, st.a);
        }
        break;
      case NormalizerStep::Kind::strip: {
        const size_t l = st.left ? ws_prefix_len(s) : 0;
        const size_t r = st.right && l < s.size() ? ws_suffix_len(std::string_view(s).substr(l)) : 0;
        s = s.substr(l, s.size() - l - r);
        break;
      }
    }
  }
  return s;
}

}  // namespace ondi::tok
