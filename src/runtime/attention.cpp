// attend_group(): the scalar loops are the spec; on x86-64 with AVX2/F16C (unless ONDI_KERNELS=scalar) the two
// O(n_kv * head_dim) loops run in SIMD with the same IEEE operations in the same order per output, so both paths
// give identical bits:
//  - q.k: 8 keys at a time, one f32 lane per key. An 8x8 block of F16 keys is transposed so that lane j of
//    vector d holds k[j][d]; each lane then runs the scalar sequence dot = dot + k[j][d] * q[d], d ascending
//    (for every query head of the group from the same transposed block).
//  - p.V: 8 output dims per vector, out[d] = out[d] + v[j][d] * p[j], j ascending, as the scalar loop.
// No FMA contraction (a separate multiply and add per step), no reordering: the result stays independent of the
// instruction set, of the thread that runs it, and of how many keys are processed together.
#include "runtime/attention.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <string_view>

#include "core/fp16.h"
#include "kernels/kernels.h"

#if defined(__x86_64__)
#include <immintrin.h>

#include "kernels/x86/cpu_features.h"
#endif

namespace ondi {
namespace {

void scores_scalar(const uint16_t* q16, const uint16_t* k, size_t k_stride, int32_t n_kv, int64_t hd, float scale,
                   float* sc) {
  for (int32_t j = 0; j < n_kv; ++j) {
    const uint16_t* kj = k + static_cast<size_t>(j) * k_stride;
    float dot = 0.0f;
    for (int64_t d = 0; d < hd; ++d) dot += fp16_to_f32(kj[d]) * fp16_to_f32(q16[d]);
    sc[j] = dot * scale;
  }
}

void weigh_v_scalar(const float* p, const uint16_t* v, size_t v_stride, int32_t n_kv, int64_t d0, int64_t hdv,
                    float* out) {
  for (int32_t j = 0; j < n_kv; ++j) {
    const uint16_t* vj = v + static_cast<size_t>(j) * v_stride;
    for (int64_t d = d0; d < hdv; ++d) out[d] += fp16_to_f32(vj[d]) * p[j];
  }
}

#if defined(__x86_64__)

#define ONDI_ATTN_TARGET __attribute__((target("avx2,f16c")))

// q.k for the G (<= 8) query heads of one KV head (GQA): each 8x8 block of keys is loaded, transposed and converted
// once for all of them; the last, partial block of keys takes the same path with missing keys as zeros (their lanes
// are not stored).
ONDI_ATTN_TARGET void scores_simd_group(const uint16_t* q16, int G, const uint16_t* k, size_t k_stride, int32_t n_kv,
                                        int64_t hd, float scale, float* sc, size_t sc_stride) {
  const int64_t hd8 = hd & ~int64_t{7};
  for (int32_t j = 0; j < n_kv; j += 8) {
    const int n = std::min<int32_t>(8, n_kv - j);
    const uint16_t* kj = k + static_cast<size_t>(j) * k_stride;
    __m256 acc[8];
    for (int g = 0; g < G; ++g) acc[g] = _mm256_setzero_ps();
    for (int64_t d = 0; d < hd8; d += 8) {
      __m128i r[8];
      for (int i = 0; i < 8; ++i)
        r[i] = i < n ? _mm_loadu_si128(reinterpret_cast<const __m128i*>(kj + static_cast<size_t>(i) * k_stride + d))
                     : _mm_setzero_si128();
      const __m128i t0 = _mm_unpacklo_epi16(r[0], r[1]), t1 = _mm_unpackhi_epi16(r[0], r[1]);
      const __m128i t2 = _mm_unpacklo_epi16(r[2], r[3]), t3 = _mm_unpackhi_epi16(r[2], r[3]);
      const __m128i t4 = _mm_unpacklo_epi16(r[4], r[5]), t5 = _mm_unpackhi_epi16(r[4], r[5]);
      const __m128i t6 = _mm_unpacklo_epi16(r[6], r[7]), t7 = _mm_unpackhi_epi16(r[6], r[7]);
      const __m128i u0 = _mm_unpacklo_epi32(t0, t2), u1 = _mm_unpackhi_epi32(t0, t2);
      const __m128i u2 = _mm_unpacklo_epi32(t1, t3), u3 = _mm_unpackhi_epi32(t1, t3);
      const __m128i u4 = _mm_unpacklo_epi32(t4, t6), u5 = _mm_unpackhi_epi32(t4, t6);
      const __m128i u6 = _mm_unpacklo_epi32(t5, t7), u7 = _mm_unpackhi_epi32(t5, t7);
      const __m256 c[8] = {_mm256_cvtph_ps(_mm_unpacklo_epi64(u0, u4)), _mm256_cvtph_ps(_mm_unpackhi_epi64(u0, u4)),
                           _mm256_cvtph_ps(_mm_unpacklo_epi64(u1, u5)), _mm256_cvtph_ps(_mm_unpackhi_epi64(u1, u5)),
                           _mm256_cvtph_ps(_mm_unpacklo_epi64(u2, u6)), _mm256_cvtph_ps(_mm_unpackhi_epi64(u2, u6)),
                           _mm256_cvtph_ps(_mm_unpacklo_epi64(u3, u7)), _mm256_cvtph_ps(_mm_unpackhi_epi64(u3, u7))};
      for (int g = 0; g < G; ++g) {
        const uint16_t* qg = q16 + static_cast<size_t>(g) * static_cast<size_t>(hd) + d;
        for (int e = 0; e < 8; ++e)
          acc[g] = _mm256_add_ps(acc[g], _mm256_mul_ps(c[e], _mm256_set1_ps(_cvtsh_ss(qg[e]))));
      }
    }
    for (int g = 0; g < G; ++g) {
      const uint16_t* qg = q16 + static_cast<size_t>(g) * static_cast<size_t>(hd);
      alignas(32) float dots[8];
      _mm256_store_ps(dots, acc[g]);
      for (int i = 0; i < n; ++i) {
        const uint16_t* ki = kj + static_cast<size_t>(i) * k_stride;
        float dot = dots[i];
        for (int64_t d = hd8; d < hd; ++d) dot += fp16_to_f32(ki[d]) * fp16_to_f32(qg[d]);
        sc[static_cast<size_t>(g) * sc_stride + static_cast<size_t>(j + i)] = dot * scale;
      }
    }
  }
}

// p.V for G (<= 8) heads' probabilities (p + g * p_stride) against the same V rows, each row converted once.
ONDI_ATTN_TARGET void weigh_v_simd_group(const float* p, size_t p_stride, int G, const uint16_t* v, size_t v_stride,
                                         int32_t n_kv, int64_t hdv, float* out) {
  const int64_t hdv8 = hdv & ~int64_t{7};
  for (int64_t d = 0; d < hdv8; d += 8) {
    __m256 acc[8];
    for (int g = 0; g < G; ++g) acc[g] = _mm256_loadu_ps(out + static_cast<size_t>(g) * static_cast<size_t>(hdv) + d);
    for (int32_t j = 0; j < n_kv; ++j) {
      const __m256 h =
          _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(v + static_cast<size_t>(j) * v_stride + d)));
      for (int g = 0; g < G; ++g)
        acc[g] = _mm256_add_ps(acc[g], _mm256_mul_ps(h, _mm256_set1_ps(p[static_cast<size_t>(g) * p_stride + j])));
    }
    for (int g = 0; g < G; ++g) _mm256_storeu_ps(out + static_cast<size_t>(g) * static_cast<size_t>(hdv) + d, acc[g]);
  }
  if (hdv8 < hdv)
    for (int g = 0; g < G; ++g)
      weigh_v_scalar(p + static_cast<size_t>(g) * p_stride, v, v_stride, n_kv, hdv8, hdv,
                     out + static_cast<size_t>(g) * static_cast<size_t>(hdv));
}

bool use_simd() {
  // Not __builtin_cpu_supports: clang 14 (the fuzz build) does not know "f16c".
  static const bool simd =
      std::string_view(kernel_isa()) != "scalar" && x86::detect_cpu_features().avx2 && x86::detect_cpu_features().f16c;
  return simd;
}

#else

bool use_simd() { return false; }
void scores_simd_group(const uint16_t*, int, const uint16_t*, size_t, int32_t, int64_t, float, float*, size_t) {}
void weigh_v_simd_group(const float*, size_t, int, const uint16_t*, size_t, int32_t, int64_t, float*) {}

#endif

// Softmax in f32 with the sum in double, probabilities rounded to F16 (the reference engine's numerics).
void softmax_to_f16(float* sc, int32_t n_kv) {
  float mx = -std::numeric_limits<float>::infinity();
  for (int32_t j = 0; j < n_kv; ++j) mx = std::max(mx, sc[j]);
  double sum = 0.0;
  for (int32_t j = 0; j < n_kv; ++j) {
    sc[j] = std::exp(sc[j] - mx);
    sum += sc[j];
  }
  const float inv = static_cast<float>(1.0 / sum);
  for (int32_t j = 0; j < n_kv; ++j) sc[j] = fp16_to_f32(f32_to_fp16(sc[j] * inv));
}

}  // namespace

void attend_reference(const float* q, const uint16_t* k, size_t k_stride, const uint16_t* v, size_t v_stride,
                      int32_t n_kv, int64_t hd, int64_t hdv, float scale, AttnScratch& scratch, float* out) {
  if (scratch.scores.size() < static_cast<size_t>(n_kv)) scratch.scores.resize(static_cast<size_t>(n_kv));
  if (scratch.q16.size() < static_cast<size_t>(hd)) scratch.q16.resize(static_cast<size_t>(hd));
  float* sc = scratch.scores.data();
  uint16_t* q16 = scratch.q16.data();
  for (int64_t d = 0; d < hd; ++d) q16[d] = f32_to_fp16(q[d]);
  scores_scalar(q16, k, k_stride, n_kv, hd, scale, sc);
  softmax_to_f16(sc, n_kv);
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
    if (scratch.q16.size() < static_cast<size_t>(G * hd)) scratch.q16.resize(static_cast<size_t>(G * hd));
    float* sc = scratch.scores.data();
    uint16_t* q16 = scratch.q16.data();
    for (int64_t i = 0; i < G * hd; ++i) q16[i] = f32_to_fp16(qg[i]);
    scores_simd_group(q16, G, k, k_stride, n_kv, hd, scale, sc, stride);
    for (int g = 0; g < G; ++g) softmax_to_f16(sc + static_cast<size_t>(g) * stride, n_kv);
    std::fill(og, og + G * hdv, 0.0f);
    weigh_v_simd_group(sc, stride, G, v, v_stride, n_kv, hdv, og);
  }
}

}  // namespace ondi
