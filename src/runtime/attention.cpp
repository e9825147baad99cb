// attend_group(): the scalar loops are the spec; on x86-64 with AVX2/FMA/F16C (unless ONDI_KERNELS=scalar) they run
// in SIMD with the same IEEE operations in the same order per output, so both paths give identical bits:
//  - q.k: 8 lanes over the head dimension (lane l takes d = 8i + l), each a chain of fused multiply-adds in
//    ascending d, then the fixed tree ((l0 + l4) + (l2 + l6)) + ((l1 + l5) + (l3 + l7)), then the dims past the last
//    multiple of 8 in order. One key's row is loaded and converted once for every query head of the group.
//  - softmax: exp is ondi's own (exp_det: Cody-Waite reduction and a degree-7 polynomial, no FMA), so the scalar
//    and SIMD paths and every machine agree; the sum runs in double over 4 lanes (position j into lane j mod 4, in
//    ascending j), then (s0 + s1) + (s2 + s3), then the positions past the last multiple of 4.
//  - p.V: 8 output dims per vector, out[d] = fma(v[j][d], p[j], out[d]), j ascending.
// Measured at a 3000-token context (1B Q4_0, 2 threads), the previous spec (q.k one lane per key after an 8x8 F16
// transpose, separate multiply and add, libm's expf) made attention ~55% of all the time.
#include "runtime/attention.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <string_view>
#include <type_traits>

#include "core/fp16.h"
#include "kernels/kernels.h"

#if defined(__x86_64__)
#include <immintrin.h>

#include "kernels/x86/cpu_features.h"
#endif

namespace ondi {
namespace {

// The q.k lane tree, written out so that the SIMD horizontal sum below matches it operation for operation.
inline float lane_tree(const float* a) { return ((a[0] + a[4]) + (a[2] + a[6])) + ((a[1] + a[5]) + (a[3] + a[7])); }

void scores_scalar(const uint16_t* q16, const uint16_t* k, size_t k_stride, int32_t n_kv, int64_t hd, float scale,
                   float* sc) {
  const int64_t hd8 = hd & ~int64_t{7};
  for (int32_t j = 0; j < n_kv; ++j) {
    const uint16_t* kj = k + static_cast<size_t>(j) * k_stride;
    float acc[8] = {};
    for (int64_t d0 = 0; d0 < hd8; d0 += 8)
      for (int l = 0; l < 8; ++l) acc[l] = std::fma(fp16_to_f32(kj[d0 + l]), fp16_to_f32(q16[d0 + l]), acc[l]);
    float dot = lane_tree(acc);
    for (int64_t d = hd8; d < hd; ++d) dot = std::fma(fp16_to_f32(kj[d]), fp16_to_f32(q16[d]), dot);
    sc[j] = dot * scale;
  }
}

// e^x for the softmax's x <= 0 (0 below -87, where e^x is under 2^-125 and its F16 probability is 0 anyway):
// n = round(x / ln 2) by the 1.5 * 2^23 trick, r = x - n ln 2 in two parts (Cody-Waite), e^r by Cephes' expf
// polynomial in Horner form, times 2^n built from its bits. Separate multiplies and adds only (the build does not
// contract), so exp_det8 gives the same bits lane by lane. Within ~2 ulp of e^x.
inline float exp_det(float x) {
  if (!(x >= -87.0f)) return 0.0f;
  const float t = x * 1.44269504088896341f;
  const float n = (t + 12582912.0f) - 12582912.0f;
  const float r = (x - n * 0.693359375f) - n * -2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * (r * r) + r + 1.0f;
  return p * bits_to_f32(static_cast<uint32_t>(static_cast<int32_t>(n) + 127) << 23);
}

// Exponentiates positions [from, n_kv) in place and finishes the sum: lanes s[j mod 4] up to the last multiple of 4
// (s holds the lanes of positions before `from`), the lane tree, then the rest in order.
double exp_and_sum(float* sc, int32_t from, int32_t n_kv, float mx, double* s) {
  const int32_t n4 = n_kv & ~3;
  for (int32_t j = from; j < n4; ++j) {
    sc[j] = exp_det(sc[j] - mx);
    s[j & 3] += static_cast<double>(sc[j]);
  }
  double sum = (s[0] + s[1]) + (s[2] + s[3]);
  for (int32_t j = std::max(from, n4); j < n_kv; ++j) {
    sc[j] = exp_det(sc[j] - mx);
    sum += static_cast<double>(sc[j]);
  }
  return sum;
}

// Softmax of n_kv scores in place, probabilities rounded to F16 (the reference engine's numerics): exp_det, the
// sum in double over 4 lanes (see the top of the file).
void softmax_scalar(float* sc, int32_t n_kv) {
  float mx = -std::numeric_limits<float>::infinity();
  for (int32_t j = 0; j < n_kv; ++j) mx = std::max(mx, sc[j]);
  double s[4] = {};
  const float inv = static_cast<float>(1.0 / exp_and_sum(sc, 0, n_kv, mx, s));
  for (int32_t j = 0; j < n_kv; ++j) sc[j] = fp16_to_f32(f32_to_fp16(sc[j] * inv));
}

void weigh_v_scalar(const float* p, const uint16_t* v, size_t v_stride, int32_t n_kv, int64_t d0, int64_t hdv,
                    float* out) {
  for (int32_t j = 0; j < n_kv; ++j) {
    const uint16_t* vj = v + static_cast<size_t>(j) * v_stride;
    for (int64_t d = d0; d < hdv; ++d) out[d] = std::fma(fp16_to_f32(vj[d]), p[j], out[d]);
  }
}

#if defined(__x86_64__)

#define ONDI_ATTN_TARGET __attribute__((target("avx2,fma,f16c")))

// lane_tree of one vector.
ONDI_ATTN_TARGET inline float hsum_tree(__m256 v) {
  const __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));  // l0+l4 l1+l5 l2+l6 l3+l7
  const __m128 u = _mm_add_ps(s, _mm_movehl_ps(s, s));  // (l0+l4)+(l2+l6), (l1+l5)+(l3+l7)
  return _mm_cvtss_f32(_mm_add_ss(u, _mm_shuffle_ps(u, u, 1)));
}

// When decoding (AttnScratch::prefetch; in a prefill the tokens of a chunk share the rows, which are then in
// cache), pull the row kAhead positions on into L2. Measured while the cache held all KV heads of a position in one
// row (one head's keys a strided stream, 128 of every 1024 bytes for the 1B shape, which the hardware prefetchers
// do not follow): 16 rows into L1 took decode at positions 2048-2112 of 1B Q4_0 from 24.2 to 26.1 tok/s; into L2
// (as the matrix kernels' prefetches: L1's few miss buffers held the stream back) and 32 rows on, one token's
// attention of the 1B shape at 2048 positions took 8.0 instead of 13.3 ms on one thread (build/bin/bench_attention),
// and whole-model decode there went 28.0 -> 33.9 tok/s with the templated head counts below. The cache now keeps
// each head's positions contiguous (runtime/context.h): bench_attention 8.8 -> ~8.1 ms, pp2048 ~166 -> ~185 tok/s.
constexpr int32_t kAhead = 32;
ONDI_ATTN_TARGET inline void prefetch_row(const uint16_t* row, int64_t n) {
  const uintptr_t a = reinterpret_cast<uintptr_t>(row), end = a + static_cast<uintptr_t>(2 * n);
  for (uintptr_t line = a & ~uintptr_t{63}; line < end; line += 64)
    _mm_prefetch(reinterpret_cast<const char*>(line), _MM_HINT_T1);
}

// The G scores of key row kj (position j) from their lane accumulators: the lane tree, then the dims past the last
// multiple of 8 in order, times the scale.
template <int G>
ONDI_ATTN_TARGET inline void finish_scores(const __m256* acc, const float* qf, const uint16_t* kj, int64_t hd,
                                           int64_t hd8, float scale, float* sc, size_t sc_stride, int32_t j) {
  for (int g = 0; g < G; ++g) {
    const float* qg = qf + static_cast<size_t>(g) * static_cast<size_t>(hd);
    float dot = hsum_tree(acc[g]);
    for (int64_t d = hd8; d < hd; ++d) dot = std::fma(fp16_to_f32(kj[d]), qg[d], dot);
    sc[static_cast<size_t>(g) * sc_stride + static_cast<size_t>(j)] = dot * scale;
  }
}

// q.k for the G query heads of one KV head (GQA): each key row is converted once, 8 dims at a time, for all of them.
// qf: the G heads' F16-rounded queries as f32 (G, hd). G is a template parameter so that the accumulators stay in
// registers (a run-time G spilled them, and branched per head), and two positions run side by side: 2G independent
// FMA chains, each still one lane's ascending d (bench_attention at 512 positions, rows of all heads: 2.8 -> 2.05 ms
// with this and the V pass's G as a template parameter).
template <bool kPrefetch, int G>
ONDI_ATTN_TARGET void scores_g(const float* qf, const uint16_t* k, size_t k_stride, int32_t n_kv, int64_t hd,
                               float scale, float* sc, size_t sc_stride) {
  const int64_t hd8 = hd & ~int64_t{7};
  int32_t j = 0;
  for (; j + 2 <= n_kv; j += 2) {
    const uint16_t* k0 = k + static_cast<size_t>(j) * k_stride;
    const uint16_t* k1 = k0 + k_stride;
    if (kPrefetch && j + kAhead + 1 < n_kv) {
      prefetch_row(k0 + static_cast<size_t>(kAhead) * k_stride, hd);
      prefetch_row(k1 + static_cast<size_t>(kAhead) * k_stride, hd);
    }
    __m256 a0[G], a1[G];
    for (int g = 0; g < G; ++g) a0[g] = a1[g] = _mm256_setzero_ps();
    for (int64_t d = 0; d < hd8; d += 8) {
      const __m256 kv0 = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(k0 + d)));
      const __m256 kv1 = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(k1 + d)));
      for (int g = 0; g < G; ++g) {
        const __m256 qv = _mm256_loadu_ps(qf + static_cast<size_t>(g) * static_cast<size_t>(hd) + d);
        a0[g] = _mm256_fmadd_ps(kv0, qv, a0[g]);
        a1[g] = _mm256_fmadd_ps(kv1, qv, a1[g]);
      }
    }
    finish_scores<G>(a0, qf, k0, hd, hd8, scale, sc, sc_stride, j);
    finish_scores<G>(a1, qf, k1, hd, hd8, scale, sc, sc_stride, j + 1);
  }
  for (; j < n_kv; ++j) {
    const uint16_t* kj = k + static_cast<size_t>(j) * k_stride;
    if (kPrefetch && j + kAhead < n_kv) prefetch_row(kj + static_cast<size_t>(kAhead) * k_stride, hd);
    __m256 acc[G];
    for (int g = 0; g < G; ++g) acc[g] = _mm256_setzero_ps();
    for (int64_t d = 0; d < hd8; d += 8) {
      const __m256 kv = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(kj + d)));
      for (int g = 0; g < G; ++g)
        acc[g] =
            _mm256_fmadd_ps(kv, _mm256_loadu_ps(qf + static_cast<size_t>(g) * static_cast<size_t>(hd) + d), acc[g]);
    }
    finish_scores<G>(acc, qf, kj, hd, hd8, scale, sc, sc_stride, j);
  }
}

// f(std::integral_constant<int, G>{}) for a group of G = 1..8 heads (attend_group passes at most 8).
template <class F>
void with_heads(int G, F&& f) {
  switch (G) {
    case 1:
      return f(std::integral_constant<int, 1>{});
    case 2:
      return f(std::integral_constant<int, 2>{});
    case 3:
      return f(std::integral_constant<int, 3>{});
    case 4:
      return f(std::integral_constant<int, 4>{});
    case 5:
      return f(std::integral_constant<int, 5>{});
    case 6:
      return f(std::integral_constant<int, 6>{});
    case 7:
      return f(std::integral_constant<int, 7>{});
    default:
      return f(std::integral_constant<int, 8>{});
  }
}

template <bool kPrefetch>
ONDI_ATTN_TARGET void scores_simd_group(const float* qf, int G, const uint16_t* k, size_t k_stride, int32_t n_kv,
                                        int64_t hd, float scale, float* sc, size_t sc_stride) {
  with_heads(G,
             [&](auto g) { scores_g<kPrefetch, decltype(g)::value>(qf, k, k_stride, n_kv, hd, scale, sc, sc_stride); });
}

// exp_det on 8 lanes, the same operations.
ONDI_ATTN_TARGET inline __m256 exp_det8(__m256 x) {
  const __m256 keep = _mm256_cmp_ps(x, _mm256_set1_ps(-87.0f), _CMP_GE_OQ);
  const __m256 magic = _mm256_set1_ps(12582912.0f);
  const __m256 t = _mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f));
  const __m256 n = _mm256_sub_ps(_mm256_add_ps(t, magic), magic);
  const __m256 r = _mm256_sub_ps(_mm256_sub_ps(x, _mm256_mul_ps(n, _mm256_set1_ps(0.693359375f))),
                                 _mm256_mul_ps(n, _mm256_set1_ps(-2.12194440e-4f)));
  __m256 p = _mm256_set1_ps(1.9875691500e-4f);
  p = _mm256_add_ps(_mm256_mul_ps(p, r), _mm256_set1_ps(1.3981999507e-3f));
  p = _mm256_add_ps(_mm256_mul_ps(p, r), _mm256_set1_ps(8.3334519073e-3f));
  p = _mm256_add_ps(_mm256_mul_ps(p, r), _mm256_set1_ps(4.1665795894e-2f));
  p = _mm256_add_ps(_mm256_mul_ps(p, r), _mm256_set1_ps(1.6666665459e-1f));
  p = _mm256_add_ps(_mm256_mul_ps(p, r), _mm256_set1_ps(5.0000001201e-1f));
  p = _mm256_add_ps(_mm256_add_ps(_mm256_mul_ps(p, _mm256_mul_ps(r, r)), r), _mm256_set1_ps(1.0f));
  const __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
  return _mm256_and_ps(_mm256_mul_ps(p, _mm256_castsi256_ps(e)), keep);
}

ONDI_ATTN_TARGET void softmax_simd(float* sc, int32_t n_kv) {
  const int32_t n8 = n_kv & ~7;
  __m256 m8 = _mm256_set1_ps(-std::numeric_limits<float>::infinity());
  for (int32_t j = 0; j < n8; j += 8) m8 = _mm256_max_ps(m8, _mm256_loadu_ps(sc + j));
  alignas(32) float mv[8];
  _mm256_store_ps(mv, m8);
  float mx = mv[0];
  for (int i = 1; i < 8; ++i) mx = std::max(mx, mv[i]);
  for (int32_t j = n8; j < n_kv; ++j) mx = std::max(mx, sc[j]);
  const __m256 vmx = _mm256_set1_ps(mx);
  __m256d s4 = _mm256_setzero_pd();
  for (int32_t j = 0; j < n8; j += 8) {
    const __m256 e = exp_det8(_mm256_sub_ps(_mm256_loadu_ps(sc + j), vmx));
    _mm256_storeu_ps(sc + j, e);
    s4 = _mm256_add_pd(s4, _mm256_cvtps_pd(_mm256_castps256_ps128(e)));  // positions j..j+3: lanes 0..3
    s4 = _mm256_add_pd(s4, _mm256_cvtps_pd(_mm256_extractf128_ps(e, 1)));
  }
  alignas(32) double s[4];
  _mm256_store_pd(s, s4);
  const float inv = static_cast<float>(1.0 / exp_and_sum(sc, n8, n_kv, mx, s));
  const __m256 vinv = _mm256_set1_ps(inv);
  for (int32_t j = 0; j < n8; j += 8) {
    const __m128i h = _mm256_cvtps_ph(_mm256_mul_ps(_mm256_loadu_ps(sc + j), vinv), _MM_FROUND_TO_NEAREST_INT);
    _mm256_storeu_ps(sc + j, _mm256_cvtph_ps(h));
  }
  for (int32_t j = n8; j < n_kv; ++j) sc[j] = fp16_to_f32(f32_to_fp16(sc[j] * inv));
}

// p.V for G (<= 8) heads' probabilities (p + g * p_stride) against the same V rows, over positions [j0, j1). A
// pass takes DB blocks of 8 dims for every head: with 4 heads or fewer, 2 blocks (8 independent FMA chains per
// position, which the FMA units overlap). G is a template parameter, as in scores_g.
template <bool kPrefetch, int G, int DB>
ONDI_ATTN_TARGET void weigh_v_pass(const float* p, size_t p_stride, const uint16_t* v, size_t v_stride, int32_t j0,
                                   int32_t j1, int32_t n_kv, int64_t hdv, int64_t d, float* out) {
  __m256 acc[G][DB];
  for (int g = 0; g < G; ++g)
    for (int b = 0; b < DB; ++b)
      acc[g][b] = _mm256_loadu_ps(out + static_cast<size_t>(g) * static_cast<size_t>(hdv) + d + 8 * b);
  for (int32_t j = j0; j < j1; ++j) {
    if (kPrefetch && d == 0 && j + kAhead < n_kv) prefetch_row(v + static_cast<size_t>(j + kAhead) * v_stride, hdv);
    const uint16_t* vj = v + static_cast<size_t>(j) * v_stride + d;
    __m256 h[DB];
    for (int b = 0; b < DB; ++b) h[b] = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(vj + 8 * b)));
    for (int g = 0; g < G; ++g) {
      const __m256 pj = _mm256_set1_ps(p[static_cast<size_t>(g) * p_stride + static_cast<size_t>(j)]);
      for (int b = 0; b < DB; ++b) acc[g][b] = _mm256_fmadd_ps(h[b], pj, acc[g][b]);
    }
  }
  for (int g = 0; g < G; ++g)
    for (int b = 0; b < DB; ++b)
      _mm256_storeu_ps(out + static_cast<size_t>(g) * static_cast<size_t>(hdv) + d + 8 * b, acc[g][b]);
}

// Positions in chunks of kVChunk, every pass over a chunk before the next, so that the chunk's V rows are still in
// L1 for the later passes (a whole head's rows are not: 256 KiB at 2048 positions of 64 dims; with rows 1 KiB apart,
// as the cache once had them, 32 rows also stayed within L1's ways). out[d] stays one chain, j ascending, through
// the chunks (stored and reloaded exactly between them).
constexpr int32_t kVChunk = 32;

template <bool kPrefetch, int G>
ONDI_ATTN_TARGET void weigh_v_g(const float* p, size_t p_stride, const uint16_t* v, size_t v_stride, int32_t n_kv,
                                int64_t hdv, float* out) {
  const int64_t hdv8 = hdv & ~int64_t{7};
  for (int32_t j0 = 0; j0 < n_kv; j0 += kVChunk) {
    const int32_t j1 = std::min(n_kv, j0 + kVChunk);
    int64_t d = 0;
    if constexpr (G <= 4)
      for (; d + 16 <= hdv8; d += 16)
        weigh_v_pass<kPrefetch, G, 2>(p, p_stride, v, v_stride, j0, j1, n_kv, hdv, d, out);
    for (; d < hdv8; d += 8) weigh_v_pass<kPrefetch, G, 1>(p, p_stride, v, v_stride, j0, j1, n_kv, hdv, d, out);
  }
  if (hdv8 < hdv)
    for (int g = 0; g < G; ++g)
      weigh_v_scalar(p + static_cast<size_t>(g) * p_stride, v, v_stride, n_kv, hdv8, hdv,
                     out + static_cast<size_t>(g) * static_cast<size_t>(hdv));
}

template <bool kPrefetch>
ONDI_ATTN_TARGET void weigh_v_simd_group(const float* p, size_t p_stride, int G, const uint16_t* v, size_t v_stride,
                                         int32_t n_kv, int64_t hdv, float* out) {
  with_heads(G, [&](auto g) { weigh_v_g<kPrefetch, decltype(g)::value>(p, p_stride, v, v_stride, n_kv, hdv, out); });
}

bool use_simd() {
  // Not __builtin_cpu_supports: clang 14 (the fuzz build) does not know "f16c".
  static const bool simd = std::string_view(kernel_isa()) != "scalar" && x86::detect_cpu_features().avx2 &&
                           x86::detect_cpu_features().f16c && x86::detect_cpu_features().fma;
  return simd;
}

#else

bool use_simd() { return false; }
template <bool kPrefetch>
void scores_simd_group(const float*, int, const uint16_t*, size_t, int32_t, int64_t, float, float*, size_t) {}
void softmax_simd(float*, int32_t) {}
template <bool kPrefetch>
void weigh_v_simd_group(const float*, size_t, int, const uint16_t*, size_t, int32_t, int64_t, float*) {}

#endif

}  // namespace

float softmax_exp(float x) { return exp_det(x); }

void attend_reference(const float* q, const uint16_t* k, size_t k_stride, const uint16_t* v, size_t v_stride,
                      int32_t n_kv, int64_t hd, int64_t hdv, float scale, AttnScratch& scratch, float* out) {
  if (scratch.scores.size() < static_cast<size_t>(n_kv)) scratch.scores.resize(static_cast<size_t>(n_kv));
  if (scratch.q16.size() < static_cast<size_t>(hd)) scratch.q16.resize(static_cast<size_t>(hd));
  float* sc = scratch.scores.data();
  uint16_t* q16 = scratch.q16.data();
  for (int64_t d = 0; d < hd; ++d) q16[d] = f32_to_fp16(q[d]);
  scores_scalar(q16, k, k_stride, n_kv, hd, scale, sc);
  softmax_scalar(sc, n_kv);
  std::fill(out, out + hdv, 0.0f);
  weigh_v_scalar(sc, v, v_stride, n_kv, 0, hdv, out);
}

void attend_group(const float* q, int64_t group, const uint16_t* k, size_t k_stride, const uint16_t* v, size_t v_stride,
                  int32_t n_kv, int64_t hd, int64_t hdv, float scale, AttnScratch& scratch, float* out) {
  if (!use_simd()) {
    for (int64_t g = 0; g < group; ++g)
      attend_reference(q + g * hd, k, k_stride, v, v_stride, n_kv, hd, hdv, scale, scratch, out + g * hdv);
    return;
  }
  // At most 8 heads at a time (their accumulators stay in registers).
  for (int64_t g0 = 0; g0 < group; g0 += 8) {
    const int G = static_cast<int>(std::min<int64_t>(8, group - g0));
    const float* qg = q + g0 * hd;
    float* og = out + g0 * hdv;
    const size_t stride = static_cast<size_t>(n_kv);
    if (scratch.scores.size() < stride * static_cast<size_t>(G)) scratch.scores.resize(stride * static_cast<size_t>(G));
    if (scratch.qf.size() < static_cast<size_t>(G * hd)) scratch.qf.resize(static_cast<size_t>(G * hd));
    float* sc = scratch.scores.data();
    float* qf = scratch.qf.data();
    for (int64_t i = 0; i < G * hd; ++i) qf[i] = fp16_to_f32(f32_to_fp16(qg[i]));
    if (scratch.prefetch)
      scores_simd_group<true>(qf, G, k, k_stride, n_kv, hd, scale, sc, stride);
    else
      scores_simd_group<false>(qf, G, k, k_stride, n_kv, hd, scale, sc, stride);
    for (int g = 0; g < G; ++g) softmax_simd(sc + static_cast<size_t>(g) * stride, n_kv);
    std::fill(og, og + G * hdv, 0.0f);
    if (scratch.prefetch)
      weigh_v_simd_group<true>(sc, stride, G, v, v_stride, n_kv, hdv, og);
    else
      weigh_v_simd_group<false>(sc, stride, G, v, v_stride, n_kv, hdv, og);
  }
}

}  // namespace ondi
