// Per-core throughput of the gemm kernels, on thread CPU time (so that other processes on a shared machine
// distort it less than wall-clock figures): for each weight type, a 2048 x 2048 matrix (in cache: kernel
// speed) and a 65536 x 2048 one (streamed from memory) against 1 token (decode, GB/s of weights) and 64
// tokens (prefill, GMAC/s), and 8 tokens (a server step of 8 sequences, GMAC/s); a second line ("il") for the
// types the set multiplies from an interleaved copy (kernels.h). Usage: bench_kernels [scalar|avx2|avx512vnni]
// (default: the set dispatch picks).
#include <time.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "kernels/kernels.h"
#include "kernels/x86/x86_sets.h"
#include "tensor/quants.h"
#include "tensor/types.h"

using namespace ondi;

namespace {

double cpu_s() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

const KernelSet* named(const std::string& set) {
  const KernelSet* k = set == "avx2" ? x86::avx2_set() : set == "avx512vnni" ? x86::avx512_set() : nullptr;
  return k && k->supported() ? k : nullptr;
}

GemmFn pick(const std::string& set, GgmlType t) {
  if (set == "scalar") return ref::gemm_fn(t);
  const KernelSet* k = named(set);
  if (k && k->gemm(t)) return k->gemm(t);
  return gemm_fn(t);
}

}  // namespace

int main(int argc, char** argv) {
  const std::string set = argc > 1 ? argv[1] : kernel_isa();
  std::printf("kernel set %s\n", set.c_str());
  const int64_t n = 2048;
  std::mt19937 rng(1);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  std::vector<float> f(static_cast<size_t>(n));
  for (GgmlType t : {GgmlType::Q4_0, GgmlType::Q8_0, GgmlType::Q4_K, GgmlType::Q5_K, GgmlType::Q6_K, GgmlType::IQ4_NL,
                     GgmlType::F16}) {
    const KernelSet* k = named(set);
    const size_t rs = *row_size(t, n);
    const GgmlType at = vec_dot_type(t);
    const size_t as = *row_size(at, n);
    for (bool il : {false, true}) {
      if (il && !(k && k->interleaved_bytes && k->interleaved_bytes(t, n, 8) > 0)) continue;
      std::printf("%-6s%s", std::string(type_name(t)).c_str(), il ? " il" : "");
      for (int64_t rows : {2048, 65536}) {
        std::vector<uint8_t> w(rs * static_cast<size_t>(rows));
        for (auto& v : f) v = nd(rng);
        for (int64_t r = 0; r < rows; ++r) quantize_row(t, f.data(), w.data() + static_cast<size_t>(r) * rs, n);
        std::vector<uint8_t> copy;
        if (il) {
          copy.resize(k->interleaved_bytes(t, n, rows));
          k->interleave(t, n, w.data(), rs, rows, 0, (rows + 7) / 8, copy.data());
        }
        for (int ntok : {1, 8, 64}) {
          if (rows > 2048 && ntok > 1) continue;  // prefill is compute bound: the in-cache figure is the one
          std::vector<uint8_t> a(as * static_cast<size_t>(ntok));
          for (int i = 0; i < ntok; ++i) {
            for (auto& v : f) v = nd(rng);
            quantize_activations(at, f.data(), a.data() + static_cast<size_t>(i) * as, n);
          }
          std::vector<float> y(static_cast<size_t>(rows * ntok));
          double best = 1e30;
          for (int rep = 0; rep < (set == "scalar" ? 2 : 5); ++rep) {
            const double t0 = cpu_s();
            if (il)
              k->interleaved_gemm(t)(n, copy.data(), rows, a.data(), as, ntok, y.data(), static_cast<size_t>(rows));
            else
              pick(set, t)(n, w.data(), rs, rows, a.data(), as, ntok, y.data(), static_cast<size_t>(rows));
            best = std::min(best, cpu_s() - t0);
          }
          if (ntok == 1)
            std::printf("  decode(%s) %5.1f GB/s", rows > 2048 ? "memory" : "cache",
                        static_cast<double>(rs) * rows / best / 1e9);
          else
            std::printf("  %s %5.1f GMAC/s", ntok < 16 ? "batch8" : "prefill",
                        static_cast<double>(n) * rows * ntok / best / 1e9);
        }
      }
      std::printf("\n");
    }
  }
  return 0;
}
