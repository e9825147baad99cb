// Reads the golden *.logits files (format: ../shared/golden/FORMAT.md).
#pragma once

#include <cstdint>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

namespace ondi::golden {

inline std::string dir() { return ONDI_GOLDEN_DIR; }

struct Logits {
  uint32_t n_tokens = 0, n_vocab = 0, n_kept = 0;
  std::vector<int32_t> ids;
  std::vector<float> data;  // (n_kept, n_vocab)
  const float* row(size_t i) const { return data.data() + i * n_vocab; }
};

inline bool read_logits(const std::string& path, Logits& out, std::string& err) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    err = "cannot open " + path;
    return false;
  }
  std::vector<char> b((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto u32 = [&](size_t off) {
    uint32_t v;
    std::memcpy(&v, b.data() + off, 4);
    return v;
  };
  if (b.size() < 16 || u32(0) != 0x5354474Cu) {
    err = path + ": not a logits file";
    return false;
  }
  out.n_tokens = u32(4);
  out.n_vocab = u32(8);
  out.n_kept = u32(12);
  const size_t need = 16 + 4ull * out.n_tokens + 4ull * out.n_kept * out.n_vocab;
  if (b.size() != need || out.n_kept > out.n_tokens) {
    err = path + ": size " + std::to_string(b.size()) + " does not match its header";
    return false;
  }
  out.ids.resize(out.n_tokens);
  std::memcpy(out.ids.data(), b.data() + 16, 4ull * out.n_tokens);
  out.data.resize(size_t(out.n_kept) * out.n_vocab);
  std::memcpy(out.data.data(), b.data() + 16 + 4ull * out.n_tokens, 4ull * out.data.size());
  return true;
}

}  // namespace ondi::golden
