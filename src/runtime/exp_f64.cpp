#include "runtime/exp_f64.h"

#include <cstring>
#include <string_view>

#include "kernels/kernels.h"

#if defined(__x86_64__)
#include <immintrin.h>

#include "kernels/x86/cpu_features.h"
#endif

namespace ondi {
namespace {

constexpr double kLog2e = 1.4426950408889634;
constexpr double kMagic = 6755399441055744.0;  // 1.5 * 2^52: adding and subtracting it rounds to an integer
constexpr double kLn2Hi = 6.93147180369123816490e-01, kLn2Lo = 1.90821492927058770002e-10;
// 1/k! for k = 13 down to 2 (Horner order)
constexpr double kInvFact[12] = {1.0 / 6227020800.0, 1.0 / 479001600.0, 1.0 / 39916800.0, 1.0 / 3628800.0,
                                 1.0 / 362880.0,     1.0 / 40320.0,     1.0 / 5040.0,     1.0 / 720.0,
                                 1.0 / 120.0,        1.0 / 24.0,        1.0 / 6.0,        1.0 / 2.0};

#if defined(__x86_64__)
__attribute__((target("avx2"))) void exp_f64_avx2(double* x, int64_t n) {
  const __m256d magic = _mm256_set1_pd(kMagic);
  int64_t i = 0;
  for (; i + 4 <= n; i += 4) {
    const __m256d v = _mm256_loadu_pd(x + i);
    const __m256d keep = _mm256_cmp_pd(v, _mm256_set1_pd(-708.0), _CMP_GE_OQ);
    const __m256d k = _mm256_sub_pd(_mm256_add_pd(_mm256_mul_pd(v, _mm256_set1_pd(kLog2e)), magic), magic);
    const __m256d r = _mm256_sub_pd(_mm256_sub_pd(v, _mm256_mul_pd(k, _mm256_set1_pd(kLn2Hi))),
                                    _mm256_mul_pd(k, _mm256_set1_pd(kLn2Lo)));
    __m256d p = _mm256_set1_pd(kInvFact[0]);
    for (int j = 1; j < 12; ++j) p = _mm256_add_pd(_mm256_mul_pd(p, r), _mm256_set1_pd(kInvFact[j]));
    p = _mm256_add_pd(_mm256_add_pd(_mm256_mul_pd(p, _mm256_mul_pd(r, r)), r), _mm256_set1_pd(1.0));
    // 2^k: k is an integer in [-1022, 0] where kept; the out-of-range lanes are masked to 0 below
    const __m256i kk = _mm256_cvtepi32_epi64(_mm256_cvtpd_epi32(_mm256_and_pd(k, keep)));
    const __m256i e = _mm256_slli_epi64(_mm256_add_epi64(kk, _mm256_set1_epi64x(1023)), 52);
    _mm256_storeu_pd(x + i, _mm256_and_pd(_mm256_mul_pd(p, _mm256_castsi256_pd(e)), keep));
  }
  for (; i < n; ++i) x[i] = exp_f64(x[i]);
}

bool use_avx2() {
  static const bool on = std::string_view(kernel_isa()) != "scalar" && x86::detect_cpu_features().avx2;
  return on;
}
#endif

}  // namespace

double exp_f64(double x) {
  if (!(x >= -708.0)) return 0.0;
  const double k = (x * kLog2e + kMagic) - kMagic;
  const double r = (x - k * kLn2Hi) - k * kLn2Lo;
  double p = kInvFact[0];
  for (int j = 1; j < 12; ++j) p = p * r + kInvFact[j];
  p = (p * (r * r) + r) + 1.0;
  const uint64_t bits = static_cast<uint64_t>(static_cast<int64_t>(k) + 1023) << 52;
  double two_k;
  std::memcpy(&two_k, &bits, sizeof two_k);
  return p * two_k;
}

void exp_f64_n(double* x, int64_t n) {
#if defined(__x86_64__)
  if (use_avx2()) return exp_f64_avx2(x, n);
#endif
  for (int64_t i = 0; i < n; ++i) x[i] = exp_f64(x[i]);
}

}  // namespace ondi
