// Small UTF-8 and GPT-2 byte-alphabet helpers shared by the tokenizer sources (internal header).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace ondi::tok {

// Length of the well-formed UTF-8 sequence that starts at s[i] (1..4), or 0 if the bytes there are not a
// complete, well-formed sequence (stray continuation byte, overlong form, surrogate, > U+10FFFF, truncated).
// Follows the Unicode "well-formed UTF-8" table, the same rules PCRE2's UTF check applies, so that every run this
// accepts can be handed to PCRE2 with PCRE2_NO_UTF_CHECK.
size_t utf8_valid_len(const unsigned char* s, size_t n, size_t i);

// Decodes the code point of a sequence already known to be valid (length from utf8_valid_len).
uint32_t utf8_decode_valid(const unsigned char* s, size_t len);

// Appends the UTF-8 encoding of a code point (< 0x110000).
void utf8_append(std::string& out, uint32_t cp);

// GPT-2's reversible byte -> Unicode alphabet: printable Latin-1 bytes map to themselves, the other 68 bytes to
// U+0100.. in byte order. Byte-level BPE vocabularies store every token in this alphabet.
const std::string& byte_to_gpt2(uint8_t b);  // UTF-8 of the mapped code point
int gpt2_to_byte(uint32_t cp);               // inverse; -1 for code points outside the alphabet

// Maps a token's text (in the GPT-2 alphabet) back to raw bytes. Returns false, leaving `out` untouched, if some
// character is outside the alphabet (then the caller uses the text as is, as Hugging Face's ByteLevel decoder does).
bool gpt2_decode(std::string_view text, std::string& out);

}  // namespace ondi::tok
