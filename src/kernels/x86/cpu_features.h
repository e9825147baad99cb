// x86-64 CPU feature detection with CPUID and XGETBV, the same on GCC and clang (clang 14's
// __builtin_cpu_supports lacks some names, e.g. "f16c"). A feature counts only when the OS also saves the
// register state it needs (XCR0), as __builtin_cpu_supports does.
#pragma once

#if defined(__x86_64__)
#include <cpuid.h>

#include <cstdint>

namespace ondi::x86 {

struct CpuFeatures {
  bool avx2 = false, fma = false, f16c = false;
  bool avx512f = false, avx512vl = false, avx512bw = false, avx512vnni = false;
};

inline CpuFeatures detect_cpu_features() {
  CpuFeatures f;
  unsigned a, b, c, d;
  if (!__get_cpuid(1, &a, &b, &c, &d)) return f;
  const bool osxsave = c & (1u << 27);
  const bool fma = c & (1u << 12), f16c = c & (1u << 29), avx = c & (1u << 28);
  uint64_t xcr0 = 0;
  if (osxsave) {
    uint32_t lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    xcr0 = (static_cast<uint64_t>(hi) << 32) | lo;
  }
  const bool ymm = (xcr0 & 0x6) == 0x6;    // SSE and AVX state
  const bool zmm = (xcr0 & 0xe6) == 0xe6;  // plus opmask and the upper ZMM registers
  if (!avx || !ymm || __get_cpuid_max(0, nullptr) < 7) return f;
  __cpuid_count(7, 0, a, b, c, d);
  f.avx2 = b & (1u << 5);
  f.fma = fma;
  f.f16c = f16c;
  if (zmm) {
    f.avx512f = b & (1u << 16);
    f.avx512bw = b & (1u << 30);
    f.avx512vl = b & (1u << 31);
    f.avx512vnni = c & (1u << 11);
  }
  return f;
}

inline const CpuFeatures& cpu_features() {
  static const CpuFeatures f = detect_cpu_features();
  return f;
}

}  // namespace ondi::x86
#endif
