// SentencePiece-style BPE, normalizers, split behaviours and tokenizer.json loading on small hand-made inputs;
// every expected value follows by hand from the rules stated beside it.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "tokenizer/normalizer.h"
#include "tokenizer/pretokenizer.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/vocab.h"

namespace ondi {
namespace {

using Ids = std::vector<int32_t>;
const std::string kSp = "\xE2\x96\x81";  // U+2581

// <unk> <s> </s> ▁ a b ▁a ab ▁ab <0x63>; scores rank the merges: ▁ab (-1) before ▁a (-2) before ab (-3).
Vocab spm_vocab() {
  Vocab v;
  v.model = "llama";
  v.tokens = {"<unk>", "<s>", "</s>", kSp, "a", "b", kSp + "a", "ab", kSp + "ab", "<0x63>"};
  v.scores = {0, 0, 0, -10, -10, -10, -2, -3, -1, 0};
  v.token_types = {2, 3, 3, 1, 1, 1, 1, 1, 1, 6};
  v.unk = 0;
  v.bos = 1;
  v.eos = 2;
  v.add_bos = true;
  return v;
}

Ids enc(const Tokenizer& t, const std::string& s, bool add_special = false) {
  auto r = t.encode(s, add_special, true);
  EXPECT_TRUE(r.ok()) << r.status().message();
  return r.ok() ? *r : Ids{};
}

TEST(Spm, MergesByScoreWithDummyPrefix) {
  auto t = Tokenizer::create(spm_vocab());
  ASSERT_TRUE(t.ok()) << t.status().message();
  // "ab" -> "▁ab" -> symbols ▁ a b: (▁,a)=▁a scores -2, (a,b)=ab -3, so ▁a first; then (▁a,b)=▁ab.
  EXPECT_EQ(enc(**t, "ab"), (Ids{8}));
  EXPECT_EQ(enc(**t, "ab", true), (Ids{1, 8}));
  // "b a" -> "▁b▁a": (▁,b) no entry, (b,▁) none, (▁,a) -> ▁a.
  EXPECT_EQ(enc(**t, "b a"), (Ids{3, 5, 6}));
  // 'c' is no entry: byte fallback <0x63>; 'd' has no byte token either: <unk>.
  EXPECT_EQ(enc(**t, "c"), (Ids{3, 9}));
  EXPECT_EQ(enc(**t, "d"), (Ids{3, 0}));
  // Decode: ▁ -> space, the dummy-prefix space stripped, byte tokens as bytes.
  EXPECT_EQ((*t)->decode(Ids{8, 3, 5, 6}), "ab b a");
  EXPECT_EQ((*t)->decode(Ids{3, 9}), "c");
  EXPECT_EQ((*t)->token_to_piece(8), " ab");  // streaming keeps the space: it is not the start of the text
  // Special tokens split the text; each stretch gets its own dummy prefix (HF's Prepend normalizer per stretch).
  EXPECT_EQ(enc(**t, "a</s>a"), (Ids{6, 2, 6}));
  // Invalid bytes: <0xXX> when the vocabulary has it, else <unk>; no dummy prefix after them.
  EXPECT_EQ(enc(**t,
                "\xFF"
                "a"),
            (Ids{0, 4}));
}

TEST(Spm, NoSpacePrefix) {
  Vocab v = spm_vocab();
  v.add_space_prefix = false;
  auto t = Tokenizer::create(v);
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(enc(**t, "ab"), (Ids{7}));  // no ▁: only (a,b) -> ab
  EXPECT_EQ((*t)->decode(Ids{3, 7}), " ab");
}

TEST(Normalizer, Steps) {
  using K = NormalizerStep::Kind;
  auto step = [](K k, const std::string& a = {}, const std::string& b = {}) {
    NormalizerStep st;
    st.kind = k;
    st.a = a;
    st.b = b;
    return st;
  };
  auto one = [&](K k, const std::string& s) { return tok::normalize({step(k)}, s, true); };
  EXPECT_EQ(one(K::nfc, "e\xCC\x81"), "\xC3\xA9");           // e + U+0301 -> é
  EXPECT_EQ(one(K::nfd, "\xC3\xA9"), "e\xCC\x81");           // é -> e + U+0301
  EXPECT_EQ(one(K::nfkc, "\xEF\xAC\x81"), "fi");             // U+FB01 ligature
  EXPECT_EQ(one(K::nfc, "\xEF\xAC\x81"), "\xEF\xAC\x81");    // not a canonical decomposition
  EXPECT_EQ(one(K::lowercase, "A\xC3\x80Z"), "a\xC3\xA0z");  // À -> à
  NormalizerStep pre = step(K::prepend, kSp);
  NormalizerStep rep = step(K::replace, " ", kSp);
  EXPECT_EQ(tok::normalize({pre, rep}, "a b", true), kSp + "a" + kSp + "b");
  EXPECT_EQ(tok::normalize({pre, rep}, "", true), "");  // nothing to prefix
  NormalizerStep meta = step(K::metaspace_prepend, kSp);
  meta.first_only = true;
  EXPECT_EQ(tok::normalize({rep, meta}, " a", true), kSp + "a");  // already starts with ▁
  EXPECT_EQ(tok::normalize({rep, meta}, "a", true), kSp + "a");
  EXPECT_EQ(tok::normalize({rep, meta}, "a", false), "a");  // "first": only the first stretch
  EXPECT_EQ(tok::ws_prefix_len("\xEF\xBB\xBF \tx"), 5u);    // U+FEFF counts, as in JavaScript's trim
}

std::vector<std::string> split(SplitBehavior b, const std::string& text) {
  auto p = tok::PreTokenizer::create(std::vector<PreSplit>{PreSplit{"-", b}});
  EXPECT_TRUE(p.ok());
  std::vector<std::pair<size_t, size_t>> out;
  EXPECT_TRUE((*p)->split(text, out).ok());
  std::vector<std::string> r;
  for (auto [b0, e] : out) r.push_back(text.substr(b0, e - b0));
  return r;
}

TEST(PreSplit, Behaviours) {
  using V = std::vector<std::string>;
  const std::string s = "a-b--c";
  EXPECT_EQ(split(SplitBehavior::isolated, s), (V{"a", "-", "b", "-", "-", "c"}));
  EXPECT_EQ(split(SplitBehavior::removed, s), (V{"a", "b", "c"}));
  EXPECT_EQ(split(SplitBehavior::merged_with_previous, s), (V{"a-", "b-", "-", "c"}));
  EXPECT_EQ(split(SplitBehavior::merged_with_next, s), (V{"a", "-b", "-", "-c"}));
  EXPECT_EQ(split(SplitBehavior::contiguous, s), (V{"a", "-", "b", "--", "c"}));
}

std::string write_dir(const std::string& name, const std::string& tok, const std::string& cfg) {
  const auto dir = std::filesystem::temp_directory_path() / ("ondi-hf-" + name + "-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "tokenizer.json") << tok;
  if (!cfg.empty()) std::ofstream(dir / "tokenizer_config.json") << cfg;
  return dir.string();
}

TEST(HfLoader, SentencePieceJson) {
  // Llama 2's layout: Prepend + Replace normalizer, no pre-tokenizer, byte fallback, TemplateProcessing with <s>,
  // a Strip decoder. Ids: <unk>=0 <s>=1 </s>=2 ▁=3 a=4 b=5 ▁a=6 ab=7 <0x63>=8; merges ▁ a (rank 0), a b (rank 1).
  const std::string j = R"({"model": {"type": "BPE", "byte_fallback": true, "fuse_unk": true, "unk_token": "<unk>",
    "vocab": {"<unk>": 0, "<s>": 1, "</s>": 2, "▁": 3, "a": 4, "b": 5, "▁a": 6, "ab": 7, "<0x63>": 8},
    "merges": ["▁ a", "a b"]},
    "added_tokens": [{"id": 1, "content": "<s>", "special": true}, {"id": 2, "content": "</s>", "special": true,
                      "rstrip": true}],
    "normalizer": {"type": "Sequence", "normalizers": [{"type": "Prepend", "prepend": "▁"},
                   {"type": "Replace", "pattern": {"String": " "}, "content": "▁"}]},
    "pre_tokenizer": null,
    "post_processor": {"type": "TemplateProcessing", "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}},
                       {"Sequence": {"id": "A", "type_id": 0}}], "special_tokens": {"<s>": {"id": "<s>", "ids": [1]}}},
    "decoder": {"type": "Sequence", "decoders": [{"type": "Replace", "pattern": {"String": "▁"}, "content": " "},
                {"type": "ByteFallback"}, {"type": "Fuse"}, {"type": "Strip", "content": " ", "start": 1, "stop": 0}]}})";
  auto t = Tokenizer::from_hf(write_dir("spm", j, R"({"eos_token": "</s>"})"));
  ASSERT_TRUE(t.ok()) << t.status().message();
  // "ab" -> "▁ab": (▁,a) rank 0 merges first, then (▁a,b) has no merge.
  EXPECT_EQ(enc(**t, "ab", true), (Ids{1, 6, 5}));
  // </s> rstrip swallows the spaces after it; "dd" -> ▁ d d: unknown twice, fused into one <unk>.
  EXPECT_EQ(enc(**t, "a</s>   dd"), (Ids{6, 2, 3, 0}));
  EXPECT_EQ((*t)->decode(Ids{6, 5, 3, 8}), "ab c");
  EXPECT_EQ((*t)->vocab().eos, 2);
}

TEST(HfLoader, Errors) {
  auto bad = Tokenizer::from_hf(write_dir("bad", "{not json", ""));
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), Errc::format);
  auto uni = Tokenizer::from_hf(write_dir("uni", R"({"model": {"type": "Unigram", "vocab": []}})", ""));
  ASSERT_FALSE(uni.ok());
  EXPECT_EQ(uni.status().code(), Errc::unsupported);
  EXPECT_NE(uni.status().message().find("Unigram"), std::string::npos);
  auto norm = Tokenizer::from_hf(write_dir(
      "norm", R"({"model": {"type": "BPE", "vocab": {"a": 0}, "merges": []}, "normalizer": {"type": "Precompiled"}})",
      ""));
  ASSERT_FALSE(norm.ok());
  EXPECT_EQ(norm.status().code(), Errc::unsupported);
  EXPECT_NE(norm.status().message().find("normalizer"), std::string::npos);
  auto missing = Tokenizer::from_hf("/nonexistent/dir");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), Errc::io);
}

}  // namespace
}  // namespace ondi
