// Byte-level BPE as Hugging Face's tokenizers library defines it for GPT-2 style vocabularies:
//   1. added/special tokens are cut out of the text first (leftmost, longest match; never split);
//   2. the rest is split into words by the pre-tokenizer's regexes;
//   3. each word's bytes become characters of the GPT-2 byte alphabet, and the merge with the lowest rank among
//      adjacent pairs is applied repeatedly (ties: leftmost) until none applies;
//   4. each resulting symbol is a vocabulary entry.
// Invalid UTF-8 in the input (which HF cannot receive: its input is a Unicode string) is kept, not replaced: every
// maximal run of bytes that is not well-formed UTF-8 becomes one word of its own, encoded from its raw bytes, so
// decode(encode(x)) == x for any byte string.
#include "tokenizer/bpe.h"

#include <algorithm>
#include <array>
#include <mutex>
#include <queue>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "tokenizer/pretokenizer.h"
#include "tokenizer/unicode.h"

namespace ondi::tok {

namespace {

struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};
using StringMap = std::unordered_map<std::string, int32_t, StringHash, std::equal_to<>>;

// Trie over the texts of the special (control, user-defined) tokens, for leftmost-longest matching.
class SpecialTrie {
 public:
  void add(std::string_view text, int32_t id) {
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
    if (nodes_[node].id < 0) nodes_[node].id = id;  // duplicate texts: the first id wins
    first_[static_cast<unsigned char>(text[0])] = true;
  }
  bool empty() const { return nodes_.size() == 1; }
  // Longest special token starting at s[i]: its length (0 if none) and id.
  size_t match(std::string_view s, size_t i, int32_t& id) const {
    if (!first_[static_cast<unsigned char>(s[i])]) return 0;
    size_t best = 0;
    int32_t node = 0;
    for (size_t k = i; k < s.size(); ++k) {
      node = find(node, static_cast<unsigned char>(s[k]));
      if (node < 0) break;
      if (nodes_[node].id >= 0) {
        best = k + 1 - i;
        id = nodes_[node].id;
      }
    }
    return best;
  }

 private:
  struct Node {
    std::vector<std::pair<unsigned char, int32_t>> next;
    int32_t id = -1;
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

class BpeTokenizer final : public Tokenizer {
 public:
  explicit BpeTokenizer(Vocab v) : Tokenizer(std::move(v)) {}

  Status init() {
    PreTokenizerSpec spec;
    if (!pretokenizer_spec(vocab_.pre, spec)) {
      return Status(Errc::unsupported, "unsupported pre-tokenizer \"" + vocab_.pre +
                                           "\" for tokenizer model \"gpt2\" (supported: llama-bpe, qwen2, gpt2, "
                                           "default)");
    }
    ignore_merges_ = spec.ignore_merges;
    auto pre = PreTokenizer::create(spec.patterns);
    if (!pre.ok()) return pre.status();
    pre_ = std::move(pre).value();

    const int32_t n = n_vocab();
    if (n == 0) return Status(Errc::format, "tokenizer model \"gpt2\" with an empty token list");
    if (!vocab_.token_types.empty() && vocab_.token_types.size() != vocab_.tokens.size()) {
      return Status(Errc::invalid_argument, "vocab: token_types and tokens differ in length");
    }
    // Ordinary BPE entries. Control and user-defined tokens are "added tokens" in HF terms: they are not part of
    // the BPE model's vocabulary and only ever come from the special-token pass.
    words_.reserve(static_cast<size_t>(n) + 1024);
    for (int32_t i = 0; i < n; ++i) {
      const int32_t ty = type_of(i);
      if (ty == static_cast<int32_t>(TokenType::control) || ty == static_cast<int32_t>(TokenType::user_defined)) {
        trie_.add(vocab_.tokens[i], i);
        continue;
      }
      words_.emplace(vocab_.tokens[i], i);  // duplicate texts: the first id wins
    }
    n_symbols_ = n;
    for (int b = 0; b < 256; ++b) {
      const std::string& ch = byte_to_gpt2(static_cast<uint8_t>(b));
      byte_sym_[b] = intern(ch);
      byte_tok_[b] = byte_sym_[b] < n ? byte_sym_[b] : -1;
    }
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

  Result<std::vector<int32_t>> encode(std::string_view text, bool add_special, bool parse_special) const override {
    // Symbol positions are 32-bit; ids fit in a vector either way, but a >2 GiB prompt is a caller error.
    if (text.size() > static_cast<size_t>(INT32_MAX)) {
      return Result<std::vector<int32_t>>(Errc::invalid_argument, "text to encode is longer than 2 GiB");
    }
    std::vector<int32_t> out;
    out.reserve(text.size() / 3 + 4);
    if (add_special && vocab_.add_bos && vocab_.bos >= 0) out.push_back(vocab_.bos);
    Session s(*this);
    size_t frag = 0;
    if (parse_special && !trie_.empty()) {
      for (size_t i = 0; i < text.size();) {
        int32_t id = -1;
        const size_t len = trie_.match(text, i, id);
        if (len == 0) {
          ++i;
          continue;
        }
        ONDI_RETURN_IF_ERROR(s.encode_fragment(text.substr(frag, i - frag), out));
        out.push_back(id);
        i += len;
        frag = i;
      }
    }
    ONDI_RETURN_IF_ERROR(s.encode_fragment(text.substr(frag), out));
    if (add_special && vocab_.add_eos && vocab_.eos >= 0) out.push_back(vocab_.eos);
    return out;
  }

  std::string token_to_piece(int32_t id, bool special) const override {
    if (id < 0 || id >= n_vocab()) return {};
    const std::string& text = vocab_.tokens[static_cast<size_t>(id)];
    const int32_t ty = type_of(id);
    if (ty == static_cast<int32_t>(TokenType::control) || ty == static_cast<int32_t>(TokenType::unknown)) {
      return special ? text : std::string();
    }
    // User-defined tokens are stored as plain text (not in the byte alphabet); ordinary tokens are decoded from the
    // byte alphabet, falling back to the text itself when it is not in that alphabet (as HF's ByteLevel decoder).
    if (ty == static_cast<int32_t>(TokenType::user_defined)) return text;
    std::string out;
    if (!gpt2_decode(text, out)) return text;
    return out;
  }

 private:
  static uint64_t pair_key(int32_t l, int32_t r) {
    return (static_cast<uint64_t>(static_cast<uint32_t>(l)) << 32) | static_cast<uint32_t>(r);
  }
  int32_t type_of(int32_t id) const {
    return vocab_.token_types.empty() ? static_cast<int32_t>(TokenType::normal)
                                      : vocab_.token_types[static_cast<size_t>(id)];
  }
  // Symbol id for a string: its token id, or a fresh id >= n_vocab for strings that merges mention but the
  // vocabulary lacks (a malformed vocabulary; such symbols are emitted byte by byte).
  int32_t intern(std::string_view s) {
    auto it = words_.find(s);
    if (it != words_.end()) return it->second;
    const int32_t id = n_symbols_++;
    words_.emplace(std::string(s), id);
    return id;
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

    Status encode_fragment(std::string_view text, std::vector<int32_t>& out) {
      const auto* s = reinterpret_cast<const unsigned char*>(text.data());
      size_t i = 0;
      while (i < text.size()) {
        // Longest well-formed UTF-8 run, then the run of bytes that is not.
        size_t j = i;
        while (j < text.size()) {
          const size_t len = utf8_valid_len(s, text.size(), j);
          if (len == 0) break;
          j += len;
        }
        if (j > i) {
          pieces.clear();
          const std::string_view run = text.substr(i, j - i);
          ONDI_RETURN_IF_ERROR(t.pre_->split(run, pieces));
          for (const auto& [b, e] : pieces) encode_word(run.substr(b, e - b), out);
        }
        size_t k = j;
        while (k < text.size() && utf8_valid_len(s, text.size(), k) == 0) ++k;
        if (k > j) encode_word(text.substr(j, k - j), out);
        i = k;
      }
      return Status::Ok();
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
      if (t.ignore_merges_) {
        mapped.clear();
        for (size_t i = 0; i < w.size(); ++i) mapped += byte_to_gpt2(b[i]);
        auto it = t.words_.find(std::string_view(mapped));
        if (it != t.words_.end() && it->second < nv) {
          out.push_back(it->second);
          return;
        }
      }
      syms.clear();
      const int32_t n = static_cast<int32_t>(w.size());
      for (int32_t i = 0; i < n; ++i) {
        syms.push_back(Sym{t.byte_sym_[b[i]], i - 1, i + 1 < n ? i + 1 : -1, static_cast<uint32_t>(i), 1});
      }
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
        if (sym.id < nv) {
          out.push_back(sym.id);
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

  std::unique_ptr<PreTokenizer> pre_;
  bool ignore_merges_ = false;
  StringMap words_;  // BPE vocabulary text -> symbol id (ids >= n_vocab are interned non-vocabulary strings)
  int32_t n_symbols_ = 0;
  MergeTable merges_;                    // (left id, right id) -> rank, result
  std::array<int32_t, 256> byte_sym_{};  // initial symbol of each byte
  std::array<int32_t, 256> byte_tok_{};  // token of each byte, -1 if the vocabulary lacks it
  SpecialTrie trie_;
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
