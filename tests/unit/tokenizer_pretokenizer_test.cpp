// Pre-tokenizer regexes, checked piece by piece against what the patterns in the models' tokenizer.json mean.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tokenizer/pretokenizer.h"

namespace ondi::tok {
namespace {

using P = std::vector<std::string>;

P split(std::string_view pre, std::string_view text) {
  PreTokenizerSpec spec;
  EXPECT_TRUE(pretokenizer_spec(pre, spec)) << pre;
  auto p = PreTokenizer::create(spec.patterns);
  EXPECT_TRUE(p.ok()) << p.status().message();
  if (!p.ok()) return {};
  std::vector<std::pair<size_t, size_t>> offs;
  Status st = (*p)->split(text, offs);
  EXPECT_TRUE(st.ok()) << st.message();
  P out;
  size_t expect_begin = 0;
  for (auto [b, e] : offs) {
    EXPECT_EQ(b, expect_begin);  // pieces tile the text
    EXPECT_LT(b, e);
    expect_begin = e;
    out.emplace_back(text.substr(b, e - b));
  }
  EXPECT_EQ(expect_begin, text.size());
  return out;
}

TEST(PreTokenizer, UnknownName) {
  PreTokenizerSpec spec;
  EXPECT_FALSE(pretokenizer_spec("no-such-pre", spec));
  EXPECT_TRUE(pretokenizer_spec("llama-bpe", spec));
  EXPECT_TRUE(spec.ignore_merges);
  EXPECT_TRUE(pretokenizer_spec("qwen2", spec));
  EXPECT_FALSE(spec.ignore_merges);
}

TEST(PreTokenizer, Empty) {
  EXPECT_EQ(split("llama-bpe", ""), P{});
  EXPECT_EQ(split("default", ""), P{});
}

TEST(PreTokenizer, Llama3Digits) {
  EXPECT_EQ(split("llama-bpe", "1234567"), (P{"123", "456", "7"}));
  EXPECT_EQ(split("llama-bpe", "3.14159"), (P{"3", ".", "141", "59"}));
  EXPECT_EQ(split("llama-bpe", "x 42"), (P{"x", " ", "42"}));
  // \p{N} is Unicode: Arabic-Indic and fullwidth digits group too.
  EXPECT_EQ(split("llama-bpe", "\xD9\xA1\xD9\xA2\xD9\xA3\xD9\xA4"), (P{"\xD9\xA1\xD9\xA2\xD9\xA3", "\xD9\xA4"}));
}

TEST(PreTokenizer, Qwen2DigitsOneByOne) { EXPECT_EQ(split("qwen2", "2024!"), (P{"2", "0", "2", "4", "!"})); }

TEST(PreTokenizer, Gpt2DigitsAndSpaces) { EXPECT_EQ(split("gpt2", "in 2024, ok"), (P{"in", " 2024", ",", " ok"})); }

TEST(PreTokenizer, Contractions) {
  EXPECT_EQ(split("llama-bpe", "it's"), (P{"it", "'s"}));
  EXPECT_EQ(split("llama-bpe", "WE'LL DON'T"), (P{"WE", "'LL", " DON", "'T"}));
  EXPECT_EQ(split("qwen2", "they've I'd"), (P{"they", "'ve", " I", "'d"}));
  // GPT-2's contractions are case-sensitive.
  EXPECT_EQ(split("gpt2", "IT'S"), (P{"IT", "'", "S"}));
  // Not a contraction: the apostrophe joins the letters that follow.
  EXPECT_EQ(split("llama-bpe", "l'amour"), (P{"l", "'amour"}));
}

TEST(PreTokenizer, Whitespace) {
  EXPECT_EQ(split("llama-bpe", "a   b"), (P{"a", "  ", " b"}));
  EXPECT_EQ(split("llama-bpe", "a \t b"), (P{"a", " \t", " b"}));
  EXPECT_EQ(split("llama-bpe", "end   "), (P{"end", "   "}));
  EXPECT_EQ(split("llama-bpe", "   "), (P{"   "}));
  // Newlines: \s*[\r\n]+ keeps \r\n (and the spaces before it) together.
  EXPECT_EQ(split("llama-bpe", "line\r\nnext"), (P{"line", "\r\n", "next"}));
  EXPECT_EQ(split("llama-bpe", "a  \n\n  b"), (P{"a", "  \n\n", " ", " b"}));
  // Punctuation swallows the newlines that follow it.
  EXPECT_EQ(split("llama-bpe", "ok.\n\nNext"), (P{"ok", ".\n\n", "Next"}));
  // U+00A0 and U+3000 are White_Space; U+180E (Mongolian vowel separator) is not (since Unicode 6.3).
  EXPECT_EQ(split("llama-bpe",
                  "a\xC2\xA0\xC2\xA0"
                  "b"),
            (P{"a", "\xC2\xA0",
               "\xC2\xA0"
               "b"}));
  EXPECT_EQ(split("llama-bpe", "a \xE1\xA0\x8E"), (P{"a", " \xE1\xA0\x8E"}));
  EXPECT_EQ(split("llama-bpe", "x\xC2\x85\xC2\x85y"), (P{"x", "\xC2\x85", "\xC2\x85y"}));
}

TEST(PreTokenizer, LettersAndMarks) {
  // A non-letter, non-digit character (here a space or an emoji) may lead a word of letters.
  EXPECT_EQ(split("llama-bpe", "Hello world"), (P{"Hello", " world"}));
  EXPECT_EQ(split("qwen2", "\xF0\x9F\x99\x82hi"), (P{"\xF0\x9F\x99\x82hi"}));
  // Combining marks are not \p{L}: a Devanagari word splits at its vowel signs.
  EXPECT_EQ(split("llama-bpe", " \xE0\xA4\xA8\xE0\xA4\xAE\xE0\xA4\xB8\xE0\xA5\x8D\xE0\xA4\xA4\xE0\xA5\x87"),
            (P{" \xE0\xA4\xA8\xE0\xA4\xAE\xE0\xA4\xB8", "\xE0\xA5\x8D\xE0\xA4\xA4", "\xE0\xA5\x87"}));
  EXPECT_EQ(split("llama-bpe", "  # code"), (P{" ", " #", " code"}));
}

TEST(PreTokenizer, DefaultChain) {
  // llama.cpp's fallback: punctuation runs, then GPT-2 words, then digit runs, then groups of three ASCII digits.
  EXPECT_EQ(split("default", "hello, world 12345!"), (P{"hello", ",", " world", " ", "123", "45", "!"}));
}

TEST(PreTokenizer, LongRunsDoNotExhaustResources) {
  EXPECT_EQ(split("llama-bpe", std::string(1 << 20, ' ')).size(), 1u);
  EXPECT_EQ(split("qwen2", std::string(1 << 20, 'a')).size(), 1u);
  EXPECT_EQ(split("llama-bpe", std::string(1 << 20, '\n')).size(), 1u);
  EXPECT_EQ(split("llama-bpe", std::string(1 << 20, '!')).size(), 1u);
}

}  // namespace
}  // namespace ondi::tok
