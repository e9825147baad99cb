// x86-64 AVX2 + FMA + F16C kernel set: quantized dots (quant_kernels.inc), F16/BF16 dots, and activation
// converters that write the scalar reference's bytes.
//
// Everything ISA-specific is compiled under `#pragma GCC target` after the includes, inside an anonymous
// namespace, so no inline function from a header is emitted with AVX2 code that baseline callers could link to.
// The project builds with -ffp-contract=off (CMakeLists.txt): the quantized kernels reproduce the reference's
// float operations one for one, which a contracted FMA would break.

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <string_view>
#include <type_traits>
#include <vector>

#include "core/fp16.h"
#include "kernels/kernels.h"
#include "kernels/x86/cpu_features.h"
#include "kernels/x86/x86_sets.h"
#include "tensor/blocks.h"
#include "tensor/quant_util.h"

#if defined(__x86_64__)
#include <immintrin.h>

#if defined(__clang__)  // clang ignores GCC's target pragma
#pragma clang attribute push(__attribute__((target("avx2,fma,f16c"))), apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("avx2,fma,f16c")
#endif

namespace ondi::x86 {
namespace {

#define ONDI_X86_VNNI 0
#define ONDI_X86_TOKENS 8
#include "kernels/x86/quant_kernels.inc"
#undef ONDI_X86_VNNI

// ---- F16 / BF16 ---------------------------------------------------------------------------------------------
// F32 weights keep the reference kernel: its serial f32 sum is the spec (tests require it bitwise), and F32
// matmuls only occur in tiny test models.
#include "kernels/x86/half_gemm.inc"

// ---- activation converters (byte-identical to kernels/ref/quantize_ref.cpp) --------------------------------

inline bool any_nan(__m256 v) { return _mm256_movemask_ps(_mm256_cmp_ps(v, v, _CMP_UNORD_Q)) != 0; }

inline float hmax(__m256 v) {
  __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  m = _mm_max_ps(m, _mm_movehl_ps(m, m));
  return _mm_cvtss_f32(_mm_max_ss(m, _mm_movehdup_ps(m)));
}

inline int hsum_i32(__m256i v) {
  __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4e));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xb1));
  return _mm_cvtsi128_si32(s);
}

// The int8 the reference's static_cast<int8_t>(int) stores: the low byte, sign-extended (only matters when an
// all-but-zero block makes the inverse scale overflow to inf and the conversions yield out-of-range integers).
inline __m256i low_byte(__m256i q) { return _mm256_srai_epi32(_mm256_slli_epi32(q, 24), 24); }

// quant::nearest_int on 8 lanes, bit for bit (also for the out-of-range inputs where it is not rounding).
inline __m256i nearest_int8(__m256 v) {
  const __m256i b = _mm256_castps_si256(_mm256_add_ps(v, _mm256_set1_ps(12582912.0f)));
  return _mm256_sub_epi32(_mm256_and_si256(b, _mm256_set1_epi32(0x007fffff)), _mm256_set1_epi32(0x00400000));
}

// 4 x 8 int32 in [-128, 127] (elements 0..31 in order) -> 32 int8 in element order.
inline __m256i pack32(__m256i q0, __m256i q1, __m256i q2, __m256i q3) {
  const __m256i p = _mm256_packs_epi16(_mm256_packs_epi32(q0, q1), _mm256_packs_epi32(q2, q3));
  return _mm256_permutevar8x32_epi32(p, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
}

inline __m256 abs_mask() { return _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff)); }

// Q8_0 / Q8_1: d = amax / 127, quants nearbyint(x * (127 / amax)) (ties to even: cvtps2dq's default rounding;
// NaN or overflow gives INT_MIN in both, whose low byte is stored and whose value is summed).
template <bool kWithSum>
void quantize_q8(const float* x, uint8_t* dst, int64_t n) {
  using Block = std::conditional_t<kWithSum, BlockQ8_1, BlockQ8_0>;
  const GgmlType type = kWithSum ? GgmlType::Q8_1 : GgmlType::Q8_0;
  for (int64_t ib = 0; ib < n / 32; ++ib, x += 32, dst += sizeof(Block)) {
    __m256 v[4];
    for (int k = 0; k < 4; ++k) v[k] = _mm256_loadu_ps(x + 8 * k);
    if (any_nan(v[0]) || any_nan(v[1]) || any_nan(v[2]) || any_nan(v[3])) {
      ref::quantize_activations(type, x, dst, 32);  // the reference's NaN handling, whatever it is
      continue;
    }
    const __m256 m = _mm256_max_ps(_mm256_max_ps(_mm256_and_ps(v[0], abs_mask()), _mm256_and_ps(v[1], abs_mask())),
                                   _mm256_max_ps(_mm256_and_ps(v[2], abs_mask()), _mm256_and_ps(v[3], abs_mask())));
    const float amax = hmax(m);
    const float d = amax / 127.0f;
    const float id = amax != 0.0f ? 127.0f / amax : 0.0f;
    const __m256 vid = _mm256_set1_ps(id);
    __m256i q[4];
    for (int k = 0; k < 4; ++k) q[k] = _mm256_cvtps_epi32(_mm256_mul_ps(v[k], vid));
    Block b;
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(b.qs),
                        pack32(low_byte(q[0]), low_byte(q[1]), low_byte(q[2]), low_byte(q[3])));
    b.d = f32_to_fp16(d);
    if constexpr (kWithSum) {
      const int sum = hsum_i32(_mm256_add_epi32(_mm256_add_epi32(q[0], q[1]), _mm256_add_epi32(q[2], q[3])));
      b.s = f32_to_fp16(d * static_cast<float>(sum));
    }
    std::memcpy(dst, &b, sizeof(Block));
  }
}

// Q8_K: the first element of largest magnitude (signed) maps to -127, quants min(127, round-half-even(x * iscale)),
// d = 1 / iscale, bsums per 16.
void quantize_q8_k(const float* x, uint8_t* dst, int64_t n) {
  for (int64_t ib = 0; ib < n / 256; ++ib, x += 256, dst += sizeof(BlockQ8_K)) {
    __m256 m = _mm256_setzero_ps();
    bool nan = false;
    for (int k = 0; k < 32; ++k) {
      const __m256 v = _mm256_loadu_ps(x + 8 * k);
      nan |= any_nan(v);
      m = _mm256_max_ps(m, _mm256_and_ps(v, abs_mask()));
    }
    if (nan) {
      ref::quantize_activations(GgmlType::Q8_K, x, dst, 256);
      continue;
    }
    const float amax = hmax(m);
    BlockQ8_K b;
    if (amax == 0.0f) {
      std::memset(dst, 0, sizeof(BlockQ8_K));
      continue;
    }
    int first = 0;
    const __m256 va = _mm256_set1_ps(amax);
    for (int k = 0; k < 32; ++k) {
      const int mask =
          _mm256_movemask_ps(_mm256_cmp_ps(_mm256_and_ps(_mm256_loadu_ps(x + 8 * k), abs_mask()), va, _CMP_EQ_OQ));
      if (mask) {
        first = 8 * k + __builtin_ctz(static_cast<unsigned>(mask));
        break;
      }
    }
    const float iscale = -127.f / x[first];
    const __m256 vs = _mm256_set1_ps(iscale);
    const __m256i hi = _mm256_set1_epi32(127);
    for (int k = 0; k < 8; ++k) {
      __m256i q[4];
      for (int j = 0; j < 4; ++j)
        q[j] = low_byte(_mm256_min_epi32(nearest_int8(_mm256_mul_ps(_mm256_loadu_ps(x + 32 * k + 8 * j), vs)), hi));
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(b.qs + 32 * k), pack32(q[0], q[1], q[2], q[3]));
      b.bsums[2 * k] = static_cast<int16_t>(hsum_i32(_mm256_add_epi32(q[0], q[1])));
      b.bsums[2 * k + 1] = static_cast<int16_t>(hsum_i32(_mm256_add_epi32(q[2], q[3])));
    }
    b.d = 1 / iscale;
    std::memcpy(dst, &b, sizeof(BlockQ8_K));
  }
}

// Activation buffers carry no alignment guarantee (callers may pass any byte address), so scalar halves are
// stored bytewise.
inline void store_half(uint16_t* out, int64_t i, uint16_t h) { std::memcpy(out + i, &h, sizeof h); }

// F16: vcvtps2ph with round-to-nearest-even is IEEE narrowing, as f32_to_fp16; only NaN payloads may differ,
// so groups holding a NaN take the scalar path.
void quantize_f16(const float* x, uint16_t* out, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 v = _mm256_loadu_ps(x + i);
    if (any_nan(v)) {
      for (int k = 0; k < 8; ++k) store_half(out, i + k, f32_to_fp16(x[i + k]));
      continue;
    }
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out + i), _mm256_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT));
  }
  for (; i < n; ++i) store_half(out, i, f32_to_fp16(x[i]));
}

// BF16: (u + 0x7fff + ((u >> 16) & 1)) >> 16, NaN -> quiet NaN (u >> 16) | 64, as f32_to_bf16.
inline __m256i bf16_of(__m256 v) {
  const __m256i u = _mm256_castps_si256(v);
  const __m256i odd = _mm256_and_si256(_mm256_srli_epi32(u, 16), _mm256_set1_epi32(1));
  const __m256i r = _mm256_srli_epi32(_mm256_add_epi32(_mm256_add_epi32(u, _mm256_set1_epi32(0x7fff)), odd), 16);
  const __m256i nan = _mm256_or_si256(_mm256_srli_epi32(u, 16), _mm256_set1_epi32(64));
  return _mm256_blendv_epi8(r, nan, _mm256_castps_si256(_mm256_cmp_ps(v, v, _CMP_UNORD_Q)));
}

void quantize_bf16(const float* x, uint16_t* out, int64_t n) {
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m256i p = _mm256_packus_epi32(bf16_of(_mm256_loadu_ps(x + i)), bf16_of(_mm256_loadu_ps(x + i + 8)));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + i), _mm256_permute4x64_epi64(p, 0xd8));
  }
  for (; i < n; ++i) store_half(out, i, f32_to_bf16(x[i]));
}

}  // namespace

VecDotFn avx2_float_vec_dot(GgmlType t) {
  switch (t) {
    case GgmlType::F16:
      return &dot_half<false>;
    case GgmlType::BF16:
      return &dot_half<true>;
    default:
      return nullptr;
  }
}

GemmFn avx2_float_gemm(GgmlType t) {
  switch (t) {
    case GgmlType::F16:
      return &gemm_half<false>;
    case GgmlType::BF16:
      return &gemm_half<true>;
    default:
      return nullptr;
  }
}

bool avx2_quantize_activations(GgmlType act_type, const float* x, void* out, int64_t n) {
  switch (act_type) {
    case GgmlType::Q8_0:
      quantize_q8<false>(x, static_cast<uint8_t*>(out), n);
      return true;
    case GgmlType::Q8_1:
      quantize_q8<true>(x, static_cast<uint8_t*>(out), n);
      return true;
    case GgmlType::Q8_K:
      quantize_q8_k(x, static_cast<uint8_t*>(out), n);
      return true;
    case GgmlType::F16:
      quantize_f16(x, static_cast<uint16_t*>(out), n);
      return true;
    case GgmlType::BF16:
      quantize_bf16(x, static_cast<uint16_t*>(out), n);
      return true;
    default:
      return false;  // F32: a copy, the reference's memcpy is as fast
  }
}

namespace {

VecDotFn set_vec_dot(GgmlType t) {
  VecDotFn f = quant_vec_dot(t);
  return f ? f : avx2_float_vec_dot(t);
}
GemmFn set_gemm(GgmlType t) {
  GemmFn f = quant_gemm(t);
  return f ? f : avx2_float_gemm(t);
}

}  // namespace
}  // namespace ondi::x86

#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif

namespace ondi::x86 {
namespace {

bool avx2_supported() {
  const CpuFeatures& f = cpu_features();
  return f.avx2 && f.fma && f.f16c;
}

const KernelSet kAvx2{"avx2",    &avx2_supported, &set_vec_dot, &set_gemm, &avx2_quantize_activations,
                      &il_bytes, &il_pack_any,    &il_gemm_fn};

}  // namespace

const KernelSet* avx2_set() { return &kAvx2; }

}  // namespace ondi::x86

namespace ondi {

// The best x86 set this CPU runs; ONDI_KERNELS=avx2 keeps AVX-512 machines on the AVX2 set (to compare the two;
// ONDI_KERNELS=scalar is handled by dispatch).
const KernelSet* x86_avx2_kernels() {
  const char* force = std::getenv("ONDI_KERNELS");
  const bool avx2_only = force && std::string_view(force) == "avx2";
  const KernelSet* wide = x86::avx512_set();
  if (!avx2_only && wide && wide->supported()) return wide;
  return x86::avx2_set();
}

}  // namespace ondi

#else  // not x86-64

namespace ondi {
namespace x86 {
const KernelSet* avx2_set() { return nullptr; }
VecDotFn avx2_float_vec_dot(GgmlType) { return nullptr; }
GemmFn avx2_float_gemm(GgmlType) { return nullptr; }
bool avx2_quantize_activations(GgmlType, const float*, void*, int64_t) { return false; }
}  // namespace x86
const KernelSet* x86_avx2_kernels() { return nullptr; }
}  // namespace ondi

#endif
