// Decode attention of one token over a long cache, on one thread: for a Llama 3.2 1B-shaped model (16 layers, 8 KV
// heads of 64 dims, 4 query heads per KV head) the time of every layer's attend_group calls at a given context
// length, the caches laid out as ondi's (each KV head's positions contiguous, runtime/context.h) and far larger than
// the CPU caches at 2048 positions (64 MiB), as in a decode step. Usage: bench_attention [N_KV [rows]] ("rows": the
// previous layout, all KV heads of a position in one row, for comparison).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string_view>
#include <vector>

#include "core/fp16.h"
#include "runtime/attention.h"

int main(int argc, char** argv) {
  constexpr int kLayers = 16, kHeads = 8, kGroup = 4, kDim = 64;
  const int n_kv = argc > 1 ? std::max(1, std::atoi(argv[1])) : 2048;
  const bool rows = argc > 2 && std::string_view(argv[2]) == "rows";
  const size_t row = static_cast<size_t>(kHeads) * kDim;  // halves per cache row
  std::mt19937 rng(1);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  std::vector<std::vector<uint16_t>> k(kLayers), v(kLayers);
  for (int l = 0; l < kLayers; ++l) {
    k[static_cast<size_t>(l)].resize(row * static_cast<size_t>(n_kv));
    v[static_cast<size_t>(l)].resize(row * static_cast<size_t>(n_kv));
    for (auto& x : k[static_cast<size_t>(l)]) x = ondi::f32_to_fp16(nd(rng));
    for (auto& x : v[static_cast<size_t>(l)]) x = ondi::f32_to_fp16(nd(rng));
  }
  std::vector<float> q(kGroup * kDim), out(kGroup * kDim);
  for (auto& x : q) x = nd(rng);
  ondi::AttnScratch scratch;
  scratch.prefetch = true;  // the decode path
  std::vector<double> us;
  for (int rep = 0; rep < 21; ++rep) {
    const auto t0 = std::chrono::steady_clock::now();
    for (int l = 0; l < kLayers; ++l)
      for (int h = 0; h < kHeads; ++h) {
        // head h: at h * kDim in every row, or the h-th block of n_kv contiguous positions
        const size_t at = rows ? static_cast<size_t>(h) * kDim : static_cast<size_t>(h) * kDim * n_kv;
        const size_t stride = rows ? row : kDim;
        ondi::attend_group(q.data(), kGroup, k[static_cast<size_t>(l)].data() + at, stride,
                           v[static_cast<size_t>(l)].data() + at, stride, n_kv, kDim, kDim, 0.125f, scratch,
                           out.data());
      }
    us.push_back(std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(us.begin(), us.end());
  const double bytes = 2.0 * kLayers * n_kv * static_cast<double>(row) * 2;
  std::printf("%d positions: %.0f us per token on one thread (median of 21), %.1f GB/s of cache read\n", n_kv,
              us[us.size() / 2], bytes / us[us.size() / 2] / 1e3);
  return 0;
}
