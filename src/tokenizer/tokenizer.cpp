#include "tokenizer/tokenizer.h"

#include <algorithm>

#include "tokenizer/bpe.h"

namespace ondi {

Result<std::unique_ptr<Tokenizer>> Tokenizer::create(Vocab vocab) {
  if (vocab.model == "gpt2" || vocab.model == "llama") return tok::create_bpe_tokenizer(std::move(vocab));
  if (vocab.model == "none" || vocab.model.empty()) {
    return Result<std::unique_ptr<Tokenizer>>(
        Errc::unsupported, "the model has no tokenizer (tokenizer.ggml.model = \"none\"); pass token ids directly");
  }
  return Result<std::unique_ptr<Tokenizer>>(
      Errc::unsupported,
      "unsupported tokenizer model \"" + vocab.model + "\" (supported: gpt2 byte-level BPE, llama SentencePiece BPE)");
}

Result<std::unique_ptr<Tokenizer>> Tokenizer::from_hf(const std::string& path) {
  auto v = load_hf_vocab(path);
  if (!v.ok()) return v.status();
  return create(std::move(v).value());
}

std::string Tokenizer::decode(const std::vector<int32_t>& ids, bool special) const {
  std::string out;
  for (int32_t id : ids) out += token_to_piece(id, special);
  // SentencePiece's dummy prefix: the decoder strips the space it stands for from the start of the whole text (HF's
  // Strip decoder after Fuse), so decode(encode(s)) == s.
  size_t cut = 0;
  while (cut < static_cast<size_t>(vocab_.decode_strip) && cut < out.size() && out[cut] == ' ') ++cut;
  out.erase(0, cut);
  return out;
}

bool Tokenizer::is_eog(int32_t id) const { return std::binary_search(vocab_.eog.begin(), vocab_.eog.end(), id); }

// Utf8StreamDecoder follows the Unicode "maximal subpart" practice (as WHATWG's decoder and Python's
// errors="replace" do): each maximal prefix of a well-formed sequence that cannot be completed becomes one U+FFFD,
// and the byte that broke it is examined afresh. A byte is reported as soon as it is known to be invalid; only a
// prefix that can still become a valid character is held back.
namespace {

constexpr char kReplacement[] = "\xEF\xBF\xBD";

// Expected length and allowed range of the second byte for a lead byte; len 0 for a byte that cannot lead.
void lead_info(unsigned char c, size_t& len, unsigned char& lo, unsigned char& hi) {
  lo = 0x80;
  hi = 0xBF;
  if (c < 0x80) {
    len = 1;
  } else if (c >= 0xC2 && c <= 0xDF) {
    len = 2;
  } else if (c >= 0xE0 && c <= 0xEF) {
    len = 3;
    if (c == 0xE0) lo = 0xA0;
    if (c == 0xED) hi = 0x9F;
  } else if (c >= 0xF0 && c <= 0xF4) {
    len = 4;
    if (c == 0xF0) lo = 0x90;
    if (c == 0xF4) hi = 0x8F;
  } else {
    len = 0;
  }
}

}  // namespace

std::string Utf8StreamDecoder::push(std::string_view bytes) {
  pending_.append(bytes);
  std::string out;
  out.reserve(pending_.size());
  const auto* s = reinterpret_cast<const unsigned char*>(pending_.data());
  const size_t n = pending_.size();
  size_t i = 0;
  while (i < n) {
    size_t len;
    unsigned char lo, hi;
    lead_info(s[i], len, lo, hi);
    if (len == 0) {
      out += kReplacement;
      ++i;
      continue;
    }
    size_t k = 1;  // bytes of the sequence seen so far that fit
    while (k < len && i + k < n) {
      const unsigned char c = s[i + k];
      const bool ok = k == 1 ? (c >= lo && c <= hi) : (c & 0xC0) == 0x80;
      if (!ok) break;
      ++k;
    }
    if (k == len) {
      out.append(pending_, i, len);
      i += len;
    } else if (i + k == n) {
      break;  // a valid prefix that the next bytes may complete: hold it back
    } else {
      out += kReplacement;  // the prefix s[i, i+k) cannot be completed
      i += k;
    }
  }
  pending_.erase(0, i);
  return out;
}

std::string Utf8StreamDecoder::flush() {
  std::string out = pending_.empty() ? std::string() : std::string(kReplacement);
  pending_.clear();
  return out;
}

}  // namespace ondi
