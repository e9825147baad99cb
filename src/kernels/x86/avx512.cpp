// x86-64 set for CPUs with AVX-512 VNNI (+VL/BW): the quantized kernels of quant_kernels.inc with vpdpbusd
// forming the u8 x s8 dot products (one instruction instead of maddubs + madd). Block integer sums are exact either
// way, so this set gives the same bits as the AVX2 set and as the scalar reference; its float kernels and activation
// converters are the AVX2 set's. Mostly 256-bit vectors (Zen 4 issues 512-bit operations as two halves, and the 32
// registers of AVX-512VL relieve the tiles' pressure); the small-batch tiles of 4-bit formats use 512-bit ones,
// measured faster (packed_tiles.inc).

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <type_traits>
#include <vector>

#include "core/fp16.h"
#include "kernels/kernels.h"
#include "kernels/x86/cpu_features.h"
#include "kernels/x86/x86_sets.h"
#include "tensor/blocks.h"
#include "tensor/quant_util.h"

#if defined(__x86_64__)
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ < 13
// g++ 12's 512-bit insert/shuffle intrinsics pass an _mm512_undefined_* operand that -Wmaybe-uninitialized flags
// once inlined (GCC bug 105593, fixed in 13).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <immintrin.h>

#if defined(__clang__)  // clang ignores GCC's target pragma
#pragma clang attribute push(__attribute__((target("avx2,fma,f16c,avx512f,avx512vl,avx512bw,avx512vnni"))), \
                             apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("avx2,fma,f16c,avx512f,avx512vl,avx512bw,avx512vnni")
#endif

namespace ondi::x86 {
namespace {

#define ONDI_X86_VNNI 1
#define ONDI_X86_TOKENS 16
#include "kernels/x86/quant_kernels.inc"
#undef ONDI_X86_VNNI

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

bool avx512_supported() {
  const CpuFeatures& f = cpu_features();
  return avx2_set()->supported() && f.avx512f && f.avx512vl && f.avx512bw && f.avx512vnni;
}

const KernelSet kAvx512{"avx512vnni", &avx512_supported, &set_vec_dot, &set_gemm, &avx2_quantize_activations,
                        &il_bytes,    &il_pack_any,      &il_gemm_fn};

}  // namespace

const KernelSet* avx512_set() { return &kAvx512; }

}  // namespace ondi::x86

#else

namespace ondi::x86 {
const KernelSet* avx512_set() { return nullptr; }
}  // namespace ondi::x86

#endif
