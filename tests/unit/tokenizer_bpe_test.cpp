// Byte-level BPE and vocabulary loading on small hand-made vocabularies, where every expected id follows from the
// merge list by hand.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "gguf/gguf.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/unicode.h"
#include "tokenizer/vocab.h"

namespace ondi {
namespace {

using Ids = std::vector<int32_t>;
constexpr int32_t kCtl = static_cast<int32_t>(TokenType::control);
constexpr int32_t kUser = static_cast<int32_t>(TokenType::user_defined);
constexpr int32_t kNormal = static_cast<int32_t>(TokenType::normal);

// ids 0..255: the byte alphabet (id == byte value); then merged tokens and special tokens.
enum : int32_t {
  kTh = 256,
  kThe,
  kSpThe,
  kAt,
  kCat,
  kSpCat,
  kEot,    // <|eot_id|> control
  kThink,  // <think> user-defined
  kX,      // <|x|> control
  kXy,     // <|x|>y control (longer, overlapping)
  kEe,
  kBc,
  kAb,
  kXyz,    // in the vocabulary, reachable by no merge
  kQrs,    // reachable only through "qr", which the vocabulary lacks
  kImEnd,  // <|im_end|> control
  kN
};

Vocab make_vocab(const std::string& pre) {
  Vocab v;
  v.model = "gpt2";
  v.pre = pre;
  for (int b = 0; b < 256; ++b) v.tokens.push_back(tok::byte_to_gpt2(static_cast<uint8_t>(b)));
  const std::string sp = tok::byte_to_gpt2(' ');  // "Ġ"
  for (const std::string& t : {std::string("th"), std::string("the"), sp + "the", std::string("at"), std::string("cat"),
                               sp + "cat", std::string("<|eot_id|>"), std::string("<think>"), std::string("<|x|>"),
                               std::string("<|x|>y"), std::string("ee"), std::string("bc"), std::string("ab"),
                               std::string("xyz"), std::string("qrs"), std::string("<|im_end|>")}) {
    v.tokens.push_back(t);
  }
  v.token_types.assign(v.tokens.size(), kNormal);
  for (int32_t id : {kEot, kX, kXy, kImEnd}) v.token_types[id] = kCtl;
  v.token_types[kThink] = kUser;
  v.merges = {"t h", "th e", sp + " the", "a t", "c at", sp + " cat", "e e", "b c", "a b", "q r", "qr s"};
  v.bos = kImEnd;  // any valid id; add_bos decides whether it is used
  v.eos = kEot;
  v.eog = {kEot};
  return v;
}

std::unique_ptr<Tokenizer> make(const std::string& pre = "qwen2") {
  auto t = Tokenizer::create(make_vocab(pre));
  EXPECT_TRUE(t.ok()) << t.status().message();
  return t.ok() ? std::move(t).value() : nullptr;
}

Ids enc(const Tokenizer& t, std::string_view s, bool parse_special = true, bool add_special = false) {
  auto r = t.encode(s, add_special, parse_special);
  EXPECT_TRUE(r.ok()) << r.status().message();
  return r.ok() ? *r : Ids{};
}

TEST(Bpe, MergesByRank) {
  auto t = make();
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(enc(*t, " the cat"), (Ids{kSpThe, kSpCat}));
  EXPECT_EQ(enc(*t, "the"), (Ids{kThe}));
  EXPECT_EQ(enc(*t, "thee"), (Ids{kThe, 'e'}));  // "th e" (rank 1) before "e e" (rank 6)
  EXPECT_EQ(enc(*t, "eee"), (Ids{kEe, 'e'}));    // equal ranks: leftmost first
  EXPECT_EQ(enc(*t, "abc"), (Ids{'a', kBc}));    // "b c" ranks before "a b" although it is further right
  EXPECT_EQ(enc(*t, "tthe"), (Ids{'t', kThe}));
}

TEST(Bpe, MergeThroughNonVocabularySymbol) {
  auto t = make();
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(enc(*t, "qrs"), (Ids{kQrs}));
  EXPECT_EQ(enc(*t, "qr"), (Ids{'q', 'r'}));  // "qr" is no token: emitted byte by byte
  EXPECT_EQ(t->decode(enc(*t, "qr")), "qr");
}

TEST(Bpe, IgnoreMergesForLlama3) {
  auto q = make("qwen2");
  auto l = make("llama-bpe");
  ASSERT_NE(q, nullptr);
  ASSERT_NE(l, nullptr);
  EXPECT_EQ(enc(*q, "xyz"), (Ids{'x', 'y', 'z'}));
  EXPECT_EQ(enc(*l, "xyz"), (Ids{kXyz}));  // a whole word that is a token is taken as is
}

TEST(Bpe, BytesOutsideAsciiUseTheAlphabet) {
  auto t = make();
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(enc(*t, "\xC3\xA9"), (Ids{0xC3, 0xA9}));
  EXPECT_EQ(enc(*t, "\n"), (Ids{'\n'}));
  EXPECT_EQ(t->token_to_piece(' '), " ");
  EXPECT_EQ(t->token_to_piece(kSpCat), " cat");
  EXPECT_EQ(t->token_to_piece(0xC3), "\xC3");
}

TEST(Bpe, SpecialTokens) {
  auto t = make();
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(enc(*t, "cat<|eot_id|>the"), (Ids{kCat, kEot, kThe}));
  EXPECT_EQ(enc(*t, "<|eot_id|><|eot_id|>"), (Ids{kEot, kEot}));
  EXPECT_EQ(enc(*t, "<think>the"), (Ids{kThink, kThe}));
  // Longest match wins; a shorter token is used when the longer one does not fit.
  EXPECT_EQ(enc(*t, "<|x|>y"), (Ids{kXy}));
  EXPECT_EQ(enc(*t, "<|x|>z"), (Ids{kX, 'z'}));
  // parse_special off: control tokens are plain text, byte for byte; user-defined ones are still matched, as
  // Hugging Face matches non-special added tokens whatever split_special_tokens says.
  const Ids off = enc(*t, "cat<|eot_id|><think>", /*parse_special=*/false);
  for (int32_t id : off) EXPECT_NE(id, kEot);
  ASSERT_FALSE(off.empty());
  EXPECT_EQ(off.back(), kThink);
  EXPECT_EQ(t->decode(off), "cat<|eot_id|><think>");
  // Control tokens decode only with special=true; user-defined ones always.
  EXPECT_EQ(t->decode(Ids{kCat, kEot, kThink}), "cat<think>");
  EXPECT_EQ(t->decode(Ids{kCat, kEot, kThink}, true), "cat<|eot_id|><think>");
}

TEST(Bpe, AddSpecial) {
  Vocab v = make_vocab("qwen2");
  v.add_bos = true;
  v.add_eos = true;
  auto t = Tokenizer::create(v);
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(enc(**t, "the", true, true), (Ids{kImEnd, kThe, kEot}));
  EXPECT_EQ(enc(**t, "", true, true), (Ids{kImEnd, kEot}));
  EXPECT_EQ(enc(**t, "the", true, false), (Ids{kThe}));
  EXPECT_TRUE((*t)->is_eog(kEot));
  EXPECT_FALSE((*t)->is_eog(kThe));
}

TEST(Bpe, InvalidUtf8) {
  auto t = make();
  ASSERT_NE(t, nullptr);
  // Each run of ill-formed bytes is a word of its own, encoded from its raw bytes: nothing is replaced or lost.
  EXPECT_EQ(enc(*t, "the\xFF\xFEthe"), (Ids{kThe, 0xFF, 0xFE, kThe}));
  EXPECT_EQ(enc(*t, "\xE2\x82"), (Ids{0xE2, 0x82}));
  EXPECT_EQ(t->decode(enc(*t, "a\x80\xC0 the")), "a\x80\xC0 the");
}

TEST(Bpe, MissingByteTokens) {
  // A vocabulary without some byte tokens: those bytes fall back to the unknown token, or vanish without one.
  Vocab v;
  v.model = "gpt2";
  v.pre = "gpt2";
  v.tokens = {"a", "b", "<unk>"};
  v.token_types = {kNormal, kNormal, static_cast<int32_t>(TokenType::unknown)};
  auto t = Tokenizer::create(v);
  ASSERT_TRUE(t.ok()) << t.status().message();
  EXPECT_EQ(enc(**t, "abc"), (Ids{0, 1}));
  v.unk = 2;
  t = Tokenizer::create(v);
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(enc(**t, "abc"), (Ids{0, 1, 2}));
}

TEST(Bpe, Unsupported) {
  Vocab v = make_vocab("no-such-pre");
  auto a = Tokenizer::create(v);
  ASSERT_FALSE(a.ok());
  EXPECT_EQ(a.status().code(), Errc::unsupported);
  EXPECT_NE(a.status().message().find("no-such-pre"), std::string::npos);
  v.pre = "qwen2";
  v.model = "t5";
  auto b = Tokenizer::create(v);
  ASSERT_FALSE(b.ok());
  EXPECT_EQ(b.status().code(), Errc::unsupported);
  EXPECT_NE(b.status().message().find("t5"), std::string::npos);
  Vocab none;
  none.model = "none";
  auto c = Tokenizer::create(none);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), Errc::unsupported);
  EXPECT_NE(c.status().message().find("none"), std::string::npos);
}

// ---- load_vocab ------------------------------------------------------------------------------------------------

GgufWriter base_writer() {
  GgufWriter w;
  w.set_str("general.architecture", "qwen2");
  w.set_str("tokenizer.ggml.model", "gpt2");
  w.set_str("tokenizer.ggml.pre", "qwen2");
  Vocab v = make_vocab("qwen2");
  w.set_arr_str("tokenizer.ggml.tokens", v.tokens);
  w.set_arr_i32("tokenizer.ggml.token_type", v.token_types);
  w.set_arr_str("tokenizer.ggml.merges", v.merges);
  w.set_u32("tokenizer.ggml.eos_token_id", kImEnd);
  return w;
}

struct LoadedVocab {
  std::vector<uint8_t> bytes;
  Result<Vocab> vocab = Result<Vocab>(Errc::internal, "not loaded");
};

LoadedVocab load(const GgufWriter& w) {
  LoadedVocab l;
  l.bytes = w.to_bytes();
  auto f = GgufFile::from_memory(l.bytes.data(), l.bytes.size(), "test.gguf");
  if (!f.ok()) {
    l.vocab = Result<Vocab>(f.status());
    return l;
  }
  l.vocab = load_vocab(**f);
  return l;
}

TEST(LoadVocab, ReadsEverything) {
  GgufWriter w = base_writer();
  w.set_u32("tokenizer.ggml.bos_token_id", kEot);
  w.set_arr_f32("tokenizer.ggml.scores", std::vector<float>(kN, -1.5f));
  auto l = load(w);
  ASSERT_TRUE(l.vocab.ok()) << l.vocab.status().message();
  const Vocab& v = *l.vocab;
  EXPECT_EQ(v.model, "gpt2");
  EXPECT_EQ(v.pre, "qwen2");
  EXPECT_EQ(v.tokens.size(), static_cast<size_t>(kN));
  EXPECT_EQ(v.token_types[kThink], kUser);
  EXPECT_EQ(v.scores.size(), static_cast<size_t>(kN));
  EXPECT_FLOAT_EQ(v.scores[3], -1.5f);
  EXPECT_EQ(v.merges.size(), 11u);
  EXPECT_EQ(v.bos, kEot);
  EXPECT_EQ(v.eos, kImEnd);
  EXPECT_EQ(v.unk, -1);
  EXPECT_FALSE(v.add_bos);  // qwen2 default
  EXPECT_EQ(v.eot, kEot);   // found by its text
  EXPECT_EQ(v.eog, (Ids{kEot, kImEnd}));
  EXPECT_EQ(v.n_vocab_declared, static_cast<uint32_t>(kN));
  auto t = Tokenizer::create(v);
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(enc(**t, " the cat"), (Ids{kSpThe, kSpCat}));
}

TEST(LoadVocab, AddBosDefaultsAndOverride) {
  GgufWriter w = base_writer();
  w.set_str("tokenizer.ggml.pre", "llama-bpe");
  auto a = load(w);
  ASSERT_TRUE(a.vocab.ok());
  EXPECT_TRUE(a.vocab->add_bos);  // Llama 3 adds BOS unless told otherwise
  w.set_bool("tokenizer.ggml.add_bos_token", false);
  w.set_bool("tokenizer.ggml.add_eos_token", true);
  auto b = load(w);
  ASSERT_TRUE(b.vocab.ok());
  EXPECT_FALSE(b.vocab->add_bos);
  EXPECT_TRUE(b.vocab->add_eos);
}

TEST(LoadVocab, IdsOutOfRange) {
  for (const char* key :
       {"tokenizer.ggml.bos_token_id", "tokenizer.ggml.eos_token_id", "tokenizer.ggml.eot_token_id",
        "tokenizer.ggml.eom_token_id", "tokenizer.ggml.unknown_token_id", "tokenizer.ggml.padding_token_id"}) {
    GgufWriter w = base_writer();
    w.set_u32(key, kN);
    auto l = load(w);
    ASSERT_FALSE(l.vocab.ok()) << key;
    EXPECT_EQ(l.vocab.status().code(), Errc::format);
    EXPECT_NE(l.vocab.status().message().find(key), std::string::npos) << l.vocab.status().message();
    w.set_i32(key, -7);
    EXPECT_FALSE(load(w).vocab.ok()) << key;
    w.set_i32(key, -1);  // "none"
    auto ok = load(w);
    ASSERT_TRUE(ok.vocab.ok()) << ok.vocab.status().message();
  }
}

TEST(LoadVocab, MalformedArrays) {
  {
    GgufWriter w = base_writer();
    w.set_arr_i32("tokenizer.ggml.token_type", std::vector<int32_t>(kN - 1, 1));
    EXPECT_EQ(load(w).vocab.status().code(), Errc::format);
  }
  {
    GgufWriter w = base_writer();
    std::vector<int32_t> types(kN, 1);
    types[5] = 42;
    w.set_arr_i32("tokenizer.ggml.token_type", types);
    EXPECT_EQ(load(w).vocab.status().code(), Errc::format);
  }
  {
    GgufWriter w = base_writer();
    w.set_arr_f32("tokenizer.ggml.scores", std::vector<float>(3, 0.f));
    EXPECT_EQ(load(w).vocab.status().code(), Errc::format);
  }
  {
    GgufWriter w = base_writer();
    w.set_arr_str("tokenizer.ggml.merges", {"t h", "nospace"});
    auto l = load(w);
    EXPECT_EQ(l.vocab.status().code(), Errc::format);
    EXPECT_NE(l.vocab.status().message().find("merges[1]"), std::string::npos) << l.vocab.status().message();
  }
  {
    GgufWriter w = base_writer();
    w.set_u32("tokenizer.ggml.tokens", 3);  // not an array
    EXPECT_EQ(load(w).vocab.status().code(), Errc::format);
  }
  {
    GgufWriter w;
    w.set_str("tokenizer.ggml.model", "gpt2");  // no token list
    EXPECT_EQ(load(w).vocab.status().code(), Errc::format);
  }
}

TEST(LoadVocab, ModelNone) {
  GgufWriter w;
  w.set_str("general.architecture", "llama");
  w.set_u32("llama.vocab_size", 512);
  w.set_str("tokenizer.ggml.model", "none");
  w.set_u32("tokenizer.ggml.bos_token_id", 1);
  auto l = load(w);
  ASSERT_TRUE(l.vocab.ok()) << l.vocab.status().message();
  EXPECT_TRUE(l.vocab->tokens.empty());
  EXPECT_EQ(l.vocab->n_vocab_declared, 512u);
  EXPECT_EQ(l.vocab->bos, 1);
  auto t = Tokenizer::create(*l.vocab);
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.status().code(), Errc::unsupported);
  w.set_u32("tokenizer.ggml.bos_token_id", 512);
  EXPECT_EQ(load(w).vocab.status().code(), Errc::format);
}

TEST(LoadVocab, GoldenMathModelHasNoTokenizer) {
  auto f = GgufFile::open(std::string(ONDI_GOLDEN_DIR) + "/llama-math-f32.gguf");
  ASSERT_TRUE(f.ok()) << f.status().message();
  auto v = load_vocab(**f);
  ASSERT_TRUE(v.ok()) << v.status().message();
  EXPECT_EQ(v->model, "none");
  EXPECT_TRUE(v->tokens.empty());
  EXPECT_EQ(v->n_vocab_declared, 512u);
}

}  // namespace
}  // namespace ondi
