// Encode throughput of ondi's tokenizer, one thread: tokenizer_bench TOKENIZER_DIR TEXT_FILE...
// Prints, per file, the median MB/s of 7 runs after one warm-up run (the word cache is warm, as in a server).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "tokenizer/tokenizer.h"

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s TOKENIZER_DIR TEXT_FILE...\n", argv[0]);
    return 2;
  }
  auto tok = ondi::Tokenizer::from_hf(argv[1]);
  if (!tok.ok()) {
    std::fprintf(stderr, "%s\n", tok.status().message().c_str());
    return 1;
  }
  for (int a = 2; a < argc; ++a) {
    std::ifstream in(argv[a], std::ios::binary);
    const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    size_t n_ids = 0;
    std::vector<double> mbps;
    for (int run = 0; run < 8; ++run) {
      const auto t0 = std::chrono::steady_clock::now();
      auto ids = (*tok)->encode(text, false, true);
      const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      if (!ids.ok()) return 1;
      n_ids = ids->size();
      if (run > 0) mbps.push_back(text.size() / 1e6 / s);
    }
    std::sort(mbps.begin(), mbps.end());
    std::printf("ondi %s %s: %.2f MB/s (%zu bytes, %zu tokens)\n", argv[1], argv[a], mbps[mbps.size() / 2], text.size(),
                n_ids);
  }
  return 0;
}
