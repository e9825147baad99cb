// BPE as Hugging Face's tokenizers library defines it, in its two flavours:
//   - byte-level (GPT-2 style, tokenizer.ggml.model "gpt2"): words from the pre-tokenizer regexes, symbols are the
//     bytes of the word in the GPT-2 byte alphabet;
//   - SentencePiece-style (tokenizer.ggml.model "llama", tokenizer.json BPE with byte_fallback): spaces become U+2581,
//     symbols are characters, characters outside the vocabulary become <0xXX> byte tokens.
// Both run the same pipeline, in Hugging Face's order:
//   1. added tokens are cut out of the raw text (leftmost, longest; never split), with their lstrip/rstrip;
//   2. each stretch between them is normalized (NFC, Prepend, Replace, ...), then added tokens flagged
//      "normalized" are cut out of the normalized text;
//   3. the pre-tokenizer splits the rest into words; in each word the merge with the lowest rank among adjacent
//      symbol pairs is applied repeatedly (ties: leftmost) until none applies; each symbol is a vocabulary entry.
// Invalid UTF-8 in the input (which HF cannot receive: its input is a Unicode string) is kept, not replaced: every
// maximal run of bytes that is not well-formed UTF-8 is treated like an added token standing for those bytes. It
// splits the text around it (as an added token would) and becomes byte tokens: byte-level vocabularies run BPE over
// its bytes, SentencePiece ones emit <0xXX> per byte. decode(encode(x)) == x for any byte string x.
#include "tokenizer/bpe.h"

#include <algorithm>
#include <array>
#include <cstdio>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "tokenizer/normalizer.h"
#include "tokenizer/pretokenizer.h"
#include "tokenizer/unicode.h"

namespace ondi::tok {

namespace {

struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};
using StringMap = std::unordered_map<std::string, int32_t, StringHash, std::equal_to<>>;

// Trie over the texts of added tokens, for leftmost-longest matching. Values are indexes into the added list.
class AddedTrie {
 public:
  void add(std::string_view text, int32_t value) {
    if (text.empty()) return;
    int32_t node = 0;
    for (unsigned char c : text) {
      int32_t child = find(node, c);
      if (child < 0) {
        child = static_cast<int32_t>(nodes_.size());
        nodes_[node].next.emplace_back(c, child);
        nodes_.emplace_back();
      }
      node = child;
    }
    if (nodes_[node].value < 0) nodes_[node].value = value;  // duplicate texts: the first wins
    first_[static_cast<unsigned char>(text[0])] = true;
  }
  bool empty() const { return nodes_.size() == 1; }
  // Longest entry starting at s[i]: its length (0 if none) and value.
  size_t match(std::string_view s, size_t i, int32_t& value) const {
    if (!first_[static_cast<unsigned char>(s[i])]) return 0;
    size_t best = 0;
    int32_t node = 0;
    for (size_t k = i; k < s.size(); ++k) {
      node = find(node, static_cast<unsigned char>(s[k]));
      if (node < 0) break;
      if (nodes_[node].value >= 0) {
        best = k + 1 - i;
        value = nodes_[node].value;
      }
    }
    return best;
  }

 private:
  struct Node {
    std::vector<std::pair<unsigned char, int32_t>> next;
    int32_t value = -1;
  };
  int32_t find(int32_t node, unsigned char c) const {
    for (const auto& [ch, child] : nodes_[node].next) {
      if (ch == c) return child;
    }
    return -1;
  }
  std::vector<Node> nodes_ = std::vector<Node>(1);
  std::array<bool, 256> first_{};
};

struct MergeInfo {
  int32_t rank;
  int32_t result;  // symbol id of the merged pair
};

// (left id, right id) -> MergeInfo. Open addressing with linear probing: the pair lookup is the innermost
// operation of BPE, and std::unordered_map's node chasing costs a cache miss per probe on 300k merges.
class MergeTable {
 public:
  void reserve(size_t n) {
    size_t cap = 16;
    while (cap < n * 2) cap <<= 1;
    slots_.assign(cap, Slot{kEmpty, {0, 0}});
    size_ = 0;
  }
  // Keeps the first entry for a key (the lowest rank when merges are inserted in rank order).
  void insert(uint64_t key, MergeInfo v) {
    if ((size_ + 1) * 2 > slots_.size()) grow();
    for (size_t i = hash(key) & (slots_.size() - 1);; i = (i + 1) & (slots_.size() - 1)) {
      if (slots_[i].key == key) return;
      if (slots_[i].key == kEmpty) {
        slots_[i] = Slot{key, v};
        ++size_;
        return;
      }
    }
  }
  const MergeInfo* find(uint64_t key) const {
    if (slots_.empty()) return nullptr;
    for (size_t i = hash(key) & (slots_.size() - 1);; i = (i + 1) & (slots_.size() - 1)) {
      if (slots_[i].key == key) return &slots_[i].v;
      if (slots_[i].key == kEmpty) return nullptr;
    }
  }

 private:
  // Symbol ids are non-negative int32, so a key never has all bits set.
  static constexpr uint64_t kEmpty = ~uint64_t{0};
  struct Slot {
    uint64_t key;
    MergeInfo v;
  };
  static size_t hash(uint64_t x) {  // splitmix64 finaliser
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    x ^= x >> 31;
    return static_cast<size_t>(x);
  }
  void grow() {
    std::vector<Slot> old = std::move(slots_);
    reserve(std::max<size_t>(old.size(), 8));
    for (const Slot& s : old) {
      if (s.key != kEmpty) insert(s.key, s.v);
    }
  }
  std::vector<Slot> slots_;
  size_t size_ = 0;
};

constexpr const char* kSpace = "\xE2\x96\x81";  // U+2581, SentencePiece's visible space

class BpeTokenizer final : public Tokenizer {
 public:
  explicit BpeTokenizer(Vocab v) : Tokenizer(std::move(v)) {}

  Status init() {
    const int32_t n = n_vocab();
    if (n == 0) return Status(Errc::format, "tokenizer model \"" + vocab_.model + "\" with an empty token list");
    if (!vocab_.token_types.empty() && vocab_.token_types.size() != vocab_.tokens.size()) {
      return Status(Errc::invalid_argument, "vocab: token_types and tokens differ in length");
    }
    byte_level_ = vocab_.model == "gpt2";
    if (!vocab_.from_hf) ONDI_RETURN_IF_ERROR(derive_from_gguf());
    auto pre = PreTokenizer::create(vocab_.pre_splits);
    if (!pre.ok()) return pre.status();
    pre_ = std::move(pre).value();

    // Added tokens: the tries in which they are matched, and the ids that never come from BPE.
    std::vector<bool> is_added(static_cast<size_t>(n), false);
    for (size_t i = 0; i < vocab_.added.size(); ++i) {
      const AddedToken& a = vocab_.added[i];
      if (a.id < 0 || a.id >= n) {
        return Status(Errc::format, "added token \"" + a.content + "\" has id " + std::to_string(a.id) +
                                        " outside the vocabulary of " + std::to_string(n));
      }
      is_added[static_cast<size_t>(a.id)] = true;
      const bool norm = a.normalized && !vocab_.normalizer.empty();
      const std::string text = norm ? normalize(vocab_.normalizer, a.content, false) : a.content;
      const int32_t idx = static_cast<int32_t>(i);
      (norm ? norm_all_ : raw_all_).add(text, idx);
      if (!a.special) (norm ? norm_plain_ : raw_plain_).add(text, idx);
    }
    words_.reserve(static_cast<size_t>(n) + 1024);
    for (int32_t i = 0; i < n; ++i) {
      // Non-special added tokens stay reachable by BPE too (HF maps every piece through the added tokens first):
      // Gemma's "▁▁" is both an added token and the result of a merge.
      if ((is_added[static_cast<size_t>(i)] && type_of(i) == static_cast<int32_t>(TokenType::control)) ||
          vocab_.tokens[static_cast<size_t>(i)].empty()) {
        continue;
      }
      words_.emplace(vocab_.tokens[static_cast<size_t>(i)], i);  // duplicate texts: the first id wins
    }
    n_symbols_ = n;
    for (int b = 0; b < 256; ++b) {
      if (byte_level_) {
        const std::string& ch = byte_to_gpt2(static_cast<uint8_t>(b));
        byte_sym_[b] = intern(ch);
        byte_tok_[b] = byte_sym_[b] < n ? byte_sym_[b] : -1;
      } else {
        char name[8];
        std::snprintf(name, sizeof(name), "<0x%02X>", b);
        auto it = words_.find(std::string_view(name));
        byte_tok_[b] = it != words_.end() && it->second < n ? it->second : -1;
        if (b < 0x80) {
          const std::string one(1, static_cast<char>(b));
          auto c = words_.find(std::string_view(one));
          ascii_sym_[b] = c != words_.end() ? c->second : kUnknownSym;
        }
      }
    }
    if (!vocab_.merges.empty()) {
      ONDI_RETURN_IF_ERROR(load_merges());
    } else if (!byte_level_) {
      merges_from_scores();
    }
    return Status::Ok();
  }

  Result<std::vector<int32_t>> encode(std::string_view text, bool add_special, bool parse_special) const override {
    // Symbol positions are 32-bit; ids fit in a vector either way, but a >2 GiB prompt is a caller error.
    if (text.size() > static_cast<size_t>(INT32_MAX)) {
      return Result<std::vector<int32_t>>(Errc::invalid_argument, "text to encode is longer than 2 GiB");
    }
    std::vector<int32_t> out;
    out.reserve(text.size() / 3 + 4);
    if (add_special) out.insert(out.end(), vocab_.prefix_ids.begin(), vocab_.prefix_ids.end());
    Session s(*this);
    ONDI_RETURN_IF_ERROR(
        s.encode_text(text, parse_special ? raw_all_ : raw_plain_, parse_special ? norm_all_ : norm_plain_, out));
    if (add_special) out.insert(out.end(), vocab_.suffix_ids.begin(), vocab_.suffix_ids.end());
    return out;
  }

  std::string token_to_piece(int32_t id, bool special) const override {
    if (id < 0 || id >= n_vocab()) return {};
    const std::string& text = vocab_.tokens[static_cast<size_t>(id)];
    const int32_t ty = type_of(id);
    if (ty == static_cast<int32_t>(TokenType::control) || ty == static_cast<int32_t>(TokenType::unknown)) {
      return special ? text : std::string();
    }
    // User-defined (added, non-special) tokens are stored as plain text, outside the byte alphabet.
    if (byte_level_ && ty == static_cast<int32_t>(TokenType::user_defined)) return text;
    if (byte_level_) {
      // Decoded from the byte alphabet, falling back to the text itself when it is not in that alphabet (as HF's
      // ByteLevel decoder).
      std::string out;
      if (!gpt2_decode(text, out)) return text;
      return out;
    }
    if (ty == static_cast<int32_t>(TokenType::byte) ||
        (text.size() == 6 && text.compare(0, 3, "<0x") == 0 && text[5] == '>')) {
      int v = 0;
      bool ok = true;
      for (size_t i = 3; i < 5; ++i) {
        const char c = text[i];
        const int d = c >= '0' && c <= '9'   ? c - '0'
                      : c >= 'A' && c <= 'F' ? c - 'A' + 10
                      : c >= 'a' && c <= 'f' ? c - 'a' + 10
                                             : -1;
        ok = ok && d >= 0;
        v = v * 16 + d;
      }
      if (ok) return std::string(1, static_cast<char>(v));
    }
    // U+2581 stands for a space.
    std::string out;
    out.reserve(text.size());
    for (size_t pos = 0;;) {
      const size_t hit = text.find(kSpace, pos);
      if (hit == std::string::npos) {
        out.append(text, pos);
        break;
      }
      out.append(text, pos, hit - pos).push_back(' ');
      pos = hit + 3;
    }
    return out;
  }

 private:
  static constexpr int32_t kUnknownSym = -2;  // a character outside the vocabulary: no merge involves it

  static uint64_t pair_key(int32_t l, int32_t r) {
    return (static_cast<uint64_t>(static_cast<uint32_t>(l)) << 32) | static_cast<uint32_t>(r);
  }
  int32_t type_of(int32_t id) const {
    return vocab_.token_types.empty() ? static_cast<int32_t>(TokenType::normal)
                                      : vocab_.token_types[static_cast<size_t>(id)];
  }
  // Symbol id for a string: its token id, or a fresh id >= n_vocab for strings that merges mention but the
  // vocabulary lacks (a malformed vocabulary; such symbols fall back to bytes).
  int32_t intern(std::string_view s) {
    auto it = words_.find(s);
    if (it != words_.end()) return it->second;
    const int32_t id = n_symbols_++;
    words_.emplace(std::string(s), id);
    return id;
  }

  // The pipeline a GGUF vocabulary implies (tokenizer.json spells it out instead).
  Status derive_from_gguf() {
    Vocab& v = vocab_;
    if (byte_level_) {
      PreTokenizerSpec spec;
      if (!pretokenizer_spec(v.pre, spec)) {
        return Status(Errc::unsupported, "unsupported pre-tokenizer \"" + v.pre +
                                             "\" for tokenizer model \"gpt2\" (supported: llama-bpe, qwen2, gpt2, "
                                             "smollm, deepseek-v3, gpt-4o, default)");
      }
      for (const std::string& p : spec.patterns) v.pre_splits.push_back(PreSplit{p, SplitBehavior::isolated});
      v.ignore_merges = spec.ignore_merges;
    } else {
      // SentencePiece: a dummy-prefix space before each stretch of text (HF's Prepend normalizer, which it strips
      // again when decoding), spaces as U+2581, no pre-tokenizer, unknown characters as <0xXX> bytes.
      if (v.add_space_prefix)
        v.normalizer.push_back(NormalizerStep{NormalizerStep::Kind::prepend, kSpace, {}, false, false, false});
      v.normalizer.push_back(NormalizerStep{NormalizerStep::Kind::replace, " ", kSpace, false, false, false});
      v.byte_fallback = true;
      v.decode_strip = v.add_space_prefix ? 1 : 0;
    }
    // Control tokens are special added tokens; user-defined ones are added tokens that are always matched.
    for (int32_t i = 0; i < n_vocab(); ++i) {
      const int32_t ty = type_of(i);
      if (ty == static_cast<int32_t>(TokenType::control) || ty == static_cast<int32_t>(TokenType::user_defined)) {
        AddedToken a;
        a.id = i;
        a.content = v.tokens[static_cast<size_t>(i)];
        a.special = ty == static_cast<int32_t>(TokenType::control);
        v.added.push_back(std::move(a));
      }
    }
    v.prefix_ids.clear();
    v.suffix_ids.clear();
    if (v.add_bos && v.bos >= 0) v.prefix_ids.push_back(v.bos);
    if (v.add_eos && v.eos >= 0) v.suffix_ids.push_back(v.eos);
    return Status::Ok();
  }

  Status load_merges() {
    merges_.reserve(vocab_.merges.size());
    for (size_t r = 0; r < vocab_.merges.size(); ++r) {
      const std::string& m = vocab_.merges[r];
      const size_t sp = m.size() > 1 ? m.find(' ', 1) : std::string::npos;
      if (sp == std::string::npos || sp + 1 >= m.size()) {
        return Status(Errc::format, "merge " + std::to_string(r) + " is not \"left right\"");
      }
      if (r > static_cast<size_t>(INT32_MAX)) break;
      std::string_view left(m.data(), sp), right(m.data() + sp + 1, m.size() - sp - 1);
      const int32_t l = intern(left), rt = intern(right);
      std::string joined;
      joined.reserve(left.size() + right.size());
      joined.append(left).append(right);
      const int32_t res = intern(joined);
      merges_.insert(pair_key(l, rt), MergeInfo{static_cast<int32_t>(r), res});  // duplicates: lowest rank
    }
    return Status::Ok();
  }

  // SentencePiece BPE in GGUF has no merge list: the pair whose concatenation is the vocabulary entry with the
  // highest score merges first (ties: the lower id). Every split of every normal entry into two entries is such a
  // pair, ranked by that order.
  void merges_from_scores() {
    std::vector<int32_t> order;
    for (int32_t i = 0; i < n_vocab(); ++i) {
      if (type_of(i) == static_cast<int32_t>(TokenType::normal)) order.push_back(i);
    }
    auto score = [&](int32_t i) { return vocab_.scores.empty() ? 0.0f : vocab_.scores[static_cast<size_t>(i)]; };
    std::stable_sort(order.begin(), order.end(), [&](int32_t a, int32_t b) { return score(a) > score(b); });
    merges_.reserve(order.size() * 4);
    for (size_t r = 0; r < order.size(); ++r) {
      const std::string& t = vocab_.tokens[static_cast<size_t>(order[r])];
      const auto* p = reinterpret_cast<const unsigned char*>(t.data());
      for (size_t k = 0; k < t.size();) {
        const size_t len = utf8_valid_len(p, t.size(), k);
        k += len == 0 ? 1 : len;
        if (k >= t.size()) break;
        auto l = words_.find(std::string_view(t).substr(0, k));
        auto rr = words_.find(std::string_view(t).substr(k));
        if (l == words_.end() || rr == words_.end()) continue;
        merges_.insert(pair_key(l->second, rr->second), MergeInfo{static_cast<int32_t>(r), order[r]});
      }
    }
  }

  // Per-call scratch space, so that encode() is const and thread-safe apart from the shared word cache.
  struct Session {
    explicit Session(const BpeTokenizer& tok) : t(tok) {}
    const BpeTokenizer& t;
    std::vector<std::pair<size_t, size_t>> pieces;
    std::string mapped;
    struct Sym {
      int32_t id, prev, next;
      uint32_t start, len;
    };
    std::vector<Sym> syms;
    struct Cand {
      int32_t rank, left, right, left_id, right_id, result;
      bool operator>(const Cand& o) const { return rank != o.rank ? rank > o.rank : left > o.left; }
    };
    std::vector<Cand> heap;
    size_t fuse_from = 0;  // fuse_unk works within one stretch of text

    // One piece of the text after added tokens are cut out.
    struct Seg {
      enum Kind { text, added, invalid } kind;
      std::string_view s;
      int32_t idx = -1;
    };

    // Cuts `text` at added tokens (trie) and at runs of invalid UTF-8 (only when `check_utf8`), applying lstrip /
    // rstrip to the neighbouring text.
    void cut(std::string_view text, const AddedTrie& trie, bool check_utf8, std::vector<Seg>& segs) const {
      const auto* p = reinterpret_cast<const unsigned char*>(text.data());
      size_t frag = 0;
      auto flush = [&](size_t end) {
        if (end > frag) segs.push_back(Seg{Seg::text, text.substr(frag, end - frag)});
      };
      for (size_t i = 0; i < text.size();) {
        int32_t idx = -1;
        const size_t len = trie.empty() ? 0 : trie.match(text, i, idx);
        if (len > 0) {
          flush(i);
          segs.push_back(Seg{Seg::added, text.substr(i, len), idx});
          i += len;
          frag = i;
          continue;
        }
        if (p[i] < 0x80 || !check_utf8) {
          ++i;
          continue;
        }
        const size_t cl = utf8_valid_len(p, text.size(), i);
        if (cl > 0) {
          i += cl;
          continue;
        }
        flush(i);
        size_t k = i;
        while (k < text.size() && utf8_valid_len(p, text.size(), k) == 0) ++k;
        segs.push_back(Seg{Seg::invalid, text.substr(i, k - i)});
        i = k;
        frag = i;
      }
      flush(text.size());
      for (size_t k = 0; k < segs.size(); ++k) {
        if (segs[k].kind != Seg::added) continue;
        const AddedToken& a = t.vocab_.added[static_cast<size_t>(segs[k].idx)];
        if (a.lstrip && k > 0 && segs[k - 1].kind == Seg::text) {
          std::string_view& prev = segs[k - 1].s;
          prev.remove_suffix(ws_suffix_len(prev));
        }
        if (a.rstrip && k + 1 < segs.size() && segs[k + 1].kind == Seg::text) {
          std::string_view& next = segs[k + 1].s;
          next.remove_prefix(ws_prefix_len(next));
        }
      }
    }

    Status encode_text(std::string_view text, const AddedTrie& raw, const AddedTrie& norm, std::vector<int32_t>& out) {
      std::vector<Seg> segs;
      cut(text, raw, true, segs);
      std::vector<Seg> sub;
      for (size_t k = 0; k < segs.size(); ++k) {
        const Seg& seg = segs[k];
        if (seg.kind == Seg::added) {
          out.push_back(t.vocab_.added[static_cast<size_t>(seg.idx)].id);
          continue;
        }
        if (seg.s.empty()) continue;
        if (seg.kind == Seg::invalid) {
          fuse_from = out.size();
          if (t.byte_level_) {
            encode_word(seg.s, out);
          } else {
            for (unsigned char c : seg.s) push_byte_fallback(c, out);
          }
          continue;
        }
        std::string normalized;
        std::string_view body = seg.s;
        if (!t.vocab_.normalizer.empty()) {
          // After a run of invalid bytes the text goes on: no dummy prefix, so that decode gives the bytes back.
          const bool after_invalid = k > 0 && segs[k - 1].kind == Seg::invalid;
          normalized = normalize(t.vocab_.normalizer, seg.s, k == 0, after_invalid);
          body = normalized;
        }
        if (body.empty()) continue;
        sub.clear();
        if (norm.empty()) {
          sub.push_back(Seg{Seg::text, body});
        } else {
          cut(body, norm, false, sub);
        }
        for (const Seg& ss : sub) {
          if (ss.kind == Seg::added) {
            out.push_back(t.vocab_.added[static_cast<size_t>(ss.idx)].id);
            continue;
          }
          if (ss.s.empty()) continue;
          ONDI_RETURN_IF_ERROR(encode_section(ss.s, out));
        }
      }
      return Status::Ok();
    }

    Status encode_section(std::string_view text, std::vector<int32_t>& out) {
      fuse_from = out.size();
      std::string prefixed;
      if (t.vocab_.byte_prefix_space && text[0] != ' ') {
        prefixed.reserve(text.size() + 1);
        prefixed.push_back(' ');
        prefixed.append(text);
        text = prefixed;
      }
      pieces.clear();
      ONDI_RETURN_IF_ERROR(t.pre_->split(text, pieces));
      for (const auto& [b, e] : pieces) encode_word(text.substr(b, e - b), out);
      return Status::Ok();
    }

    void push_unk(std::vector<int32_t>& out) {
      const int32_t unk = t.vocab_.unk;
      if (unk < 0) return;
      if (t.vocab_.fuse_unk && out.size() > fuse_from && out.back() == unk) return;
      out.push_back(unk);
    }
    void push_byte_fallback(unsigned char c, std::vector<int32_t>& out) {
      if (t.byte_tok_[c] >= 0) {
        out.push_back(t.byte_tok_[c]);
      } else {
        push_unk(out);
      }
    }

    void encode_word(std::string_view w, std::vector<int32_t>& out) {
      if (w.empty()) return;
      constexpr size_t kMaxCachedWord = 128;
      const bool cacheable = w.size() <= kMaxCachedWord;
      if (cacheable) {
        std::lock_guard<std::mutex> lock(t.cache_mu_);
        auto it = t.cache_.find(w);
        if (it != t.cache_.end()) {
          out.insert(out.end(), it->second.begin(), it->second.end());
          return;
        }
      }
      const size_t before = out.size();
      bpe(w, out);
      if (cacheable) {
        std::lock_guard<std::mutex> lock(t.cache_mu_);
        if (t.cache_.size() >= kMaxCacheEntries) t.cache_.clear();  // crude bound on memory; refills quickly
        t.cache_.emplace(std::string(w), std::vector<int32_t>(out.begin() + static_cast<ptrdiff_t>(before), out.end()));
      }
    }

    void bpe(std::string_view w, std::vector<int32_t>& out) {
      const auto* b = reinterpret_cast<const unsigned char*>(w.data());
      const int32_t nv = t.n_vocab();
      if (t.vocab_.ignore_merges) {
        std::string_view key = w;
        if (t.byte_level_) {
          mapped.clear();
          for (size_t i = 0; i < w.size(); ++i) mapped += byte_to_gpt2(b[i]);
          key = mapped;
        }
        auto it = t.words_.find(key);
        if (it != t.words_.end() && it->second < nv) {
          out.push_back(it->second);
          return;
        }
      }
      syms.clear();
      if (t.byte_level_) {
        const int32_t n = static_cast<int32_t>(w.size());
        for (int32_t i = 0; i < n; ++i) {
          syms.push_back(Sym{t.byte_sym_[b[i]], i - 1, i + 1 < n ? i + 1 : -1, static_cast<uint32_t>(i), 1});
        }
      } else {
        // One symbol per character; the text is well-formed UTF-8 here.
        for (size_t i = 0; i < w.size();) {
          size_t len = 1;
          int32_t id;
          if (b[i] < 0x80) {
            id = t.ascii_sym_[b[i]];
          } else {
            len = utf8_valid_len(b, w.size(), i);
            if (len == 0) len = 1;
            auto it = t.words_.find(w.substr(i, len));
            id = it != t.words_.end() ? it->second : kUnknownSym;
          }
          const int32_t k = static_cast<int32_t>(syms.size());
          syms.push_back(Sym{id, k - 1, -1, static_cast<uint32_t>(i), static_cast<uint32_t>(len)});
          if (k > 0) syms[static_cast<size_t>(k - 1)].next = k;
          i += len;
        }
      }
      const int32_t n = static_cast<int32_t>(syms.size());
      heap.clear();
      auto push_pair = [&](int32_t l) {
        if (l < 0) return;
        const int32_t r = syms[l].next;
        if (r < 0) return;
        const MergeInfo* m = t.merges_.find(pair_key(syms[l].id, syms[r].id));
        if (m == nullptr) return;
        heap.push_back(Cand{m->rank, l, r, syms[l].id, syms[r].id, m->result});
        std::push_heap(heap.begin(), heap.end(), std::greater<>());
      };
      for (int32_t i = 0; i + 1 < n; ++i) push_pair(i);
      while (!heap.empty()) {
        std::pop_heap(heap.begin(), heap.end(), std::greater<>());
        const Cand c = heap.back();
        heap.pop_back();
        Sym& l = syms[c.left];
        // Stale candidates: one side was merged away or changed since the pair was queued.
        if (l.len == 0 || l.next != c.right || l.id != c.left_id || syms[c.right].id != c.right_id) continue;
        Sym& r = syms[c.right];
        l.id = c.result;
        l.len += r.len;
        l.next = r.next;
        if (r.next >= 0) syms[r.next].prev = c.left;
        r.len = 0;
        r.id = -1;
        push_pair(l.prev);
        push_pair(c.left);
      }
      for (int32_t i = 0; i >= 0; i = syms[i].next) {
        const Sym& sym = syms[i];
        if (sym.id >= 0 && sym.id < nv) {
          out.push_back(sym.id);
          continue;
        }
        if (!t.byte_level_) {
          // Byte fallback: all of the symbol's bytes as <0xXX> tokens, or the unknown token if one is missing.
          bool all = t.vocab_.byte_fallback;
          for (uint32_t k = sym.start; all && k < sym.start + sym.len; ++k) all = t.byte_tok_[b[k]] >= 0;
          if (all) {
            for (uint32_t k = sym.start; k < sym.start + sym.len; ++k) out.push_back(t.byte_tok_[b[k]]);
          } else {
            push_unk(out);
          }
          continue;
        }
        // Not a vocabulary entry: fall back to one token per byte, then to the unknown token; a byte the vocabulary
        // cannot express at all is dropped.
        for (uint32_t k = sym.start; k < sym.start + sym.len; ++k) {
          const int32_t bt = t.byte_tok_[b[k]];
          if (bt >= 0) {
            out.push_back(bt);
          } else if (t.vocab_.unk >= 0) {
            out.push_back(t.vocab_.unk);
          }
        }
      }
    }
  };

  static constexpr size_t kMaxCacheEntries = 1 << 17;

  bool byte_level_ = true;
  std::unique_ptr<PreTokenizer> pre_;
  StringMap words_;  // BPE vocabulary text -> symbol id (ids >= n_vocab are interned non-vocabulary strings)
  int32_t n_symbols_ = 0;
  MergeTable merges_;                     // (left id, right id) -> rank, result
  std::array<int32_t, 256> byte_sym_{};   // byte-level: initial symbol of each byte
  std::array<int32_t, 256> byte_tok_{};   // token of each byte (byte-level alphabet or <0xXX>), -1 if absent
  std::array<int32_t, 128> ascii_sym_{};  // SentencePiece: symbol of each ASCII character
  AddedTrie raw_all_, raw_plain_, norm_all_, norm_plain_;  // added tokens: all / non-special; raw / normalized
  mutable std::mutex cache_mu_;
  mutable std::unordered_map<std::string, std::vector<int32_t>, StringHash, std::equal_to<>> cache_;
};

}  // namespace

Result<std::unique_ptr<Tokenizer>> create_bpe_tokenizer(Vocab vocab) {
  auto t = std::make_unique<BpeTokenizer>(std::move(vocab));
  ONDI_RETURN_IF_ERROR(t->init());
  return std::unique_ptr<Tokenizer>(std::move(t));
}

}  // namespace ondi::tok
