// The independent oracle: token ids the reference engine (and Hugging Face) produced for multilingual.txt with the
// real Llama 3 and Qwen3 tokenizers stored in the golden GGUF files.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <fstream>
#include <iterator>
#include <map>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "gguf/gguf.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/vocab.h"

namespace ondi {
namespace {

const std::string kGolden = ONDI_GOLDEN_DIR;

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// Token ids from a .logits file: u32 magic, n_tokens, n_vocab, n_kept, then i32 ids.
std::vector<int32_t> golden_ids(const std::string& path) {
  const std::string d = read_file(path);
  if (d.size() < 16) return {};
  uint32_t hdr[4];
  std::memcpy(hdr, d.data(), 16);
  if (hdr[0] != 0x5354474C || d.size() < 16 + 4ull * hdr[1]) return {};
  std::vector<int32_t> ids(hdr[1]);
  std::memcpy(ids.data(), d.data() + 16, 4ull * hdr[1]);
  return ids;
}

struct Loaded {
  std::unique_ptr<Tokenizer> tok;
  std::string error;
};

// Loading a 150k-token vocabulary takes a moment: once per model for the whole binary.
Tokenizer* load(const std::string& name) {
  static std::map<std::string, Loaded> cache;
  auto it = cache.find(name);
  if (it == cache.end()) {
    Loaded l;
    auto f = GgufFile::open(kGolden + "/" + name);
    if (!f.ok()) {
      l.error = f.status().message();
    } else {
      auto v = load_vocab(**f);
      if (!v.ok()) {
        l.error = v.status().message();
      } else {
        auto t = Tokenizer::create(std::move(v).value());
        if (!t.ok()) {
          l.error = t.status().message();
        } else {
          l.tok = std::move(t).value();
        }
      }
    }
    it = cache.emplace(name, std::move(l)).first;
  }
  EXPECT_EQ(it->second.error, "") << name;
  return it->second.tok.get();
}

std::vector<std::string> pieces(const Tokenizer& t, std::string_view text, bool parse_special = true) {
  auto ids = t.encode(text, /*add_special=*/false, parse_special);
  EXPECT_TRUE(ids.ok()) << ids.status().message();
  std::vector<std::string> out;
  if (!ids.ok()) return out;
  for (int32_t id : *ids) out.push_back(t.token_to_piece(id, true));
  return out;
}

using P = std::vector<std::string>;

class GoldenTokenizer : public ::testing::TestWithParam<const char*> {};

TEST_P(GoldenTokenizer, EncodesMultilingualLikeTheReference) {
  const std::string model = GetParam();
  Tokenizer* t = load(model + "-tok-f16.gguf");
  ASSERT_NE(t, nullptr);
  const std::vector<int32_t> want = golden_ids(kGolden + "/" + model + "-tok-f16.logits");
  ASSERT_FALSE(want.empty());
  const std::string text = read_file(kGolden + "/multilingual.txt");
  ASSERT_FALSE(text.empty());
  auto got = t->encode(text, /*add_special=*/true, /*parse_special=*/true);
  ASSERT_TRUE(got.ok()) << got.status().message();
  EXPECT_EQ(*got, want);
  // Decoding gives the text back (BOS decodes to nothing without `special`).
  EXPECT_EQ(t->decode(*got), text);
}

TEST_P(GoldenTokenizer, StreamingDecodeReassemblesText) {
  const std::string model = GetParam();
  Tokenizer* t = load(model + "-tok-f16.gguf");
  ASSERT_NE(t, nullptr);
  const std::string text = read_file(kGolden + "/multilingual.txt");
  auto ids = t->encode(text, false, true);
  ASSERT_TRUE(ids.ok());
  Utf8StreamDecoder dec;
  std::string out;
  for (int32_t id : *ids) {
    const std::string chunk = dec.push(t->token_to_piece(id));
    // Every chunk released is complete UTF-8 on its own.
    std::string again;
    Utf8StreamDecoder check;
    again = check.push(chunk) + check.flush();
    EXPECT_EQ(again, chunk);
    out += chunk;
  }
  out += dec.flush();
  EXPECT_EQ(out, text);
}

TEST_P(GoldenTokenizer, RoundTripsArbitraryBytes) {
  Tokenizer* t = load(std::string(GetParam()) + "-tok-f16.gguf");
  ASSERT_NE(t, nullptr);
  std::mt19937 rng(7);
  for (int iter = 0; iter < 200; ++iter) {
    std::string s(rng() % 64, '\0');
    for (char& c : s) c = static_cast<char>(rng() & 0xFF);
    auto ids = t->encode(s, false, false);
    ASSERT_TRUE(ids.ok());
    EXPECT_EQ(t->decode(*ids), s);
  }
}

TEST_P(GoldenTokenizer, EncodeSpeed) {
  Tokenizer* t = load(std::string(GetParam()) + "-tok-f16.gguf");
  ASSERT_NE(t, nullptr);
  // ~1 MB of varied text: random words over several scripts, digits, punctuation and whitespace, so that the word
  // cache does not do all the work.
  const char* alphabets[] = {"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ",
                             "äöüßéèêàçñ",
                             "абвгдежзийклмнопрстуфхцчшщыэюя",
                             "αβγδεζηθικλμνξοπρστυφχψω",
                             "日本語中文测试你好世界",
                             "0123456789",
                             ".,;:!?'\"()[]{}<>-_=+*/\\|@#$%^&~`"};
  std::vector<std::vector<std::string>> chars;
  for (const char* a : alphabets) {
    std::vector<std::string> cs;
    for (const char* p = a; *p;) {
      int len = (static_cast<unsigned char>(*p) < 0x80) ? 1 : (static_cast<unsigned char>(*p) < 0xE0) ? 2 : 3;
      cs.emplace_back(p, len);
      p += len;
    }
    chars.push_back(cs);
  }
  std::mt19937 rng(42);
  std::string text;
  while (text.size() < (1u << 20)) {
    const auto& cs = chars[rng() % chars.size()];
    const int len = 1 + static_cast<int>(rng() % 9);
    for (int i = 0; i < len; ++i) text += cs[rng() % cs.size()];
    const unsigned r = rng() % 20;
    text += r == 0 ? "\n" : r == 1 ? "  " : r == 2 ? "\t" : " ";
  }
  // CPU time of this thread, so that a busy machine does not make the check flaky; wall time is printed too.
  auto cpu_now = [] {
    timespec ts{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) + ts.tv_nsec * 1e-9;
  };
  const double c0 = cpu_now();
  const auto t0 = std::chrono::steady_clock::now();
  auto ids = t->encode(text, false, true);
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const double cpu = cpu_now() - c0;
  ASSERT_TRUE(ids.ok());
  std::printf("[ %s ] encode %.2f MB (%zu tokens): %.3f s CPU, %.3f s wall\n", GetParam(), text.size() / 1e6,
              ids->size(), cpu, wall);
  EXPECT_LT(cpu, 1.0);
  EXPECT_EQ(t->decode(*ids), text);
}

INSTANTIATE_TEST_SUITE_P(Models, GoldenTokenizer, ::testing::Values("llama3", "qwen2"));

// ---- Llama 3 specifics (real vocabulary) ----------------------------------------------------------------------

TEST(Llama3Tokenizer, VocabMetadata) {
  Tokenizer* t = load("llama3-tok-f16.gguf");
  ASSERT_NE(t, nullptr);
  const Vocab& v = t->vocab();
  EXPECT_EQ(v.model, "gpt2");
  EXPECT_EQ(v.pre, "llama-bpe");
  EXPECT_EQ(t->n_vocab(), 128256);
  EXPECT_EQ(v.bos, 128000);
  EXPECT_TRUE(v.add_bos);
  EXPECT_FALSE(v.add_eos);
  EXPECT_EQ(v.tokens[128009], "<|eot_id|>");
  EXPECT_TRUE(t->is_eog(128009));  // <|eot_id|>
  EXPECT_TRUE(t->is_eog(v.eos));
  EXPECT_FALSE(t->is_eog(128000));
  EXPECT_FALSE(t->is_eog(-5));
}

TEST(Llama3Tokenizer, EmptyString) {
  Tokenizer* t = load("llama3-tok-f16.gguf");
  ASSERT_NE(t, nullptr);
  auto a = t->encode("", true, true);
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(*a, std::vector<int32_t>{128000});
  auto b = t->encode("", false, true);
  ASSERT_TRUE(b.ok());
  EXPECT_TRUE(b->empty());
}

TEST(Llama3Tokenizer, DigitsGroupInThrees) {
  Tokenizer* t = load("llama3-tok-f16.gguf");
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(pieces(*t, "1234567"), (P{"123", "456", "7"}));
  EXPECT_EQ(pieces(*t, "x 12345"), (P{"x", " ", "123", "45"}));
}

TEST(Llama3Tokenizer, Contractions) {
  Tokenizer* t = load("llama3-tok-f16.gguf");
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(pieces(*t, "it's"), (P{"it", "'s"}));
  EXPECT_EQ(pieces(*t, "you're"), (P{"you", "'re"}));
}

TEST(Llama3Tokenizer, WhitespaceRunsAndNewlines) {
  Tokenizer* t = load("llama3-tok-f16.gguf");
  ASSERT_NE(t, nullptr);
  // A run of spaces leaves its last space to the next word (\s+(?!\S)).
  EXPECT_EQ(pieces(*t, "a   b"), (P{"a", "  ", " b"}));
  // \r\n is one piece; trailing spaces at the end stay together.
  EXPECT_EQ(pieces(*t, "line\r\nnext"), (P{"line", "\r\n", "next"}));
  EXPECT_EQ(pieces(*t, "end   "), (P{"end", "   "}));
  auto ids = t->encode("a\r\n\r\n  b\t\tc \n", false, false);
  ASSERT_TRUE(ids.ok());
  EXPECT_EQ(t->decode(*ids), "a\r\n\r\n  b\t\tc \n");
}

TEST(Llama3Tokenizer, SpecialTokensInText) {
  Tokenizer* t = load("llama3-tok-f16.gguf");
  ASSERT_NE(t, nullptr);
  const std::string text = "<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>";
  auto on = t->encode(text, false, true);
  ASSERT_TRUE(on.ok());
  ASSERT_GE(on->size(), 4u);
  EXPECT_EQ(on->front(), 128006);  // <|start_header_id|>
  EXPECT_EQ(on->back(), 128009);   // <|eot_id|>
  EXPECT_EQ(t->decode(*on, /*special=*/true), text);
  EXPECT_EQ(t->decode(*on, /*special=*/false), "user\n\nHi");
  // Off: the same characters are ordinary text, split into ordinary pieces.
  auto off = t->encode(text, false, false);
  ASSERT_TRUE(off.ok());
  for (int32_t id : *off) EXPECT_LT(id, 128000) << id;
  EXPECT_EQ(t->decode(*off), text);
  // BOS written in the text plus BOS added.
  auto twice = t->encode("<|begin_of_text|>x", true, true);
  ASSERT_TRUE(twice.ok());
  ASSERT_EQ(twice->size(), 3u);
  EXPECT_EQ((*twice)[0], 128000);
  EXPECT_EQ((*twice)[1], 128000);
  // A special token glued to words on both sides stays whole.
  EXPECT_EQ(pieces(*t, "ab<|eot_id|>cd"), (P{"ab", "<|eot_id|>", "cd"}));
  // An incomplete marker is plain text.
  auto partial = t->encode("<|eot_id|", false, true);
  ASSERT_TRUE(partial.ok());
  for (int32_t id : *partial) EXPECT_LT(id, 128000);
}

TEST(Llama3Tokenizer, InvalidUtf8IsKeptByteExact) {
  Tokenizer* t = load("llama3-tok-f16.gguf");
  ASSERT_NE(t, nullptr);
  // Stray continuation byte, truncated sequence, overlong form, surrogate, F5..FF.
  for (std::string s : {std::string("a\x80z"), std::string("caf\xC3"), std::string("\xC0\xAF!"),
                        std::string("x\xED\xA0\x80y"), std::string("\xFF\xFE hello")}) {
    auto ids = t->encode(s, false, true);
    ASSERT_TRUE(ids.ok());
    EXPECT_FALSE(ids->empty());
    EXPECT_EQ(t->decode(*ids), s);
  }
}

TEST(Llama3Tokenizer, LongSingleWords) {
  Tokenizer* t = load("llama3-tok-f16.gguf");
  ASSERT_NE(t, nullptr);
  // One pre-token of 1 MB each: BPE over a million symbols must stay fast and exact.
  for (char c : {' ', 'a', '!'}) {
    const std::string s(1 << 20, c);
    auto ids = t->encode(s, false, false);
    ASSERT_TRUE(ids.ok());
    EXPECT_LT(ids->size(), s.size() / 2);
    EXPECT_EQ(t->decode(*ids), s);
  }
}

TEST(Llama3Tokenizer, TokenToPiece) {
  Tokenizer* t = load("llama3-tok-f16.gguf");
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(t->token_to_piece(128000), "");
  EXPECT_EQ(t->token_to_piece(128000, true), "<|begin_of_text|>");
  EXPECT_EQ(t->token_to_piece(-1), "");
  EXPECT_EQ(t->token_to_piece(1 << 30), "");
  auto ids = t->encode(" über", false, false);
  ASSERT_TRUE(ids.ok());
  EXPECT_EQ(t->decode(*ids), " über");
}

// ---- Qwen specifics -------------------------------------------------------------------------------------------

TEST(QwenTokenizer, VocabMetadata) {
  Tokenizer* t = load("qwen2-tok-f16.gguf");
  ASSERT_NE(t, nullptr);
  const Vocab& v = t->vocab();
  EXPECT_EQ(v.pre, "qwen2");
  EXPECT_EQ(t->n_vocab(), 151669);
  EXPECT_FALSE(v.add_bos);
  auto e = t->encode("", true, true);
  ASSERT_TRUE(e.ok());
  EXPECT_TRUE(e->empty());
  // <|im_end|> and <|endoftext|> both end generation.
  for (const char* s : {"<|im_end|>", "<|endoftext|>"}) {
    auto ids = t->encode(s, false, true);
    ASSERT_TRUE(ids.ok());
    ASSERT_EQ(ids->size(), 1u) << s;
    EXPECT_TRUE(t->is_eog((*ids)[0])) << s;
  }
}

TEST(QwenTokenizer, DigitsAreSingle) {
  Tokenizer* t = load("qwen2-tok-f16.gguf");
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(pieces(*t, "2024"), (P{"2", "0", "2", "4"}));
}

TEST(QwenTokenizer, ChatMarkup) {
  Tokenizer* t = load("qwen2-tok-f16.gguf");
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(pieces(*t, "<|im_start|>user\nhi<|im_end|>\n"),
            (P{"<|im_start|>", "user", "\n", "hi", "<|im_end|>", "\n"}));
  EXPECT_EQ(pieces(*t, "<think>\n\n</think>"), (P{"<think>", "\n\n", "</think>"}));
}

}  // namespace
}  // namespace ondi
