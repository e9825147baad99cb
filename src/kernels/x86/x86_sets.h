// The x86-64 kernel sets, exposed to dispatch (through x86_avx2_kernels()) and to the kernel tests, which run
// every set the CPU supports against the scalar reference.
#pragma once

#include "kernels/kernels.h"

namespace ondi::x86 {

const KernelSet* avx2_set();    // AVX2 + FMA + F16C; nullptr when not built for x86-64
const KernelSet* avx512_set();  // the same kernels with AVX-512 VNNI/VL/BW integer dot products; nullptr likewise

// Pieces the AVX-512 set shares with the AVX2 one (same numerics: its float kernels and converters are used as
// they are). Only called once avx2_set()->supported() is true.
VecDotFn avx2_float_vec_dot(GgmlType weight);
GemmFn avx2_float_gemm(GgmlType weight);
bool avx2_quantize_activations(GgmlType act_type, const float* x, void* out, int64_t n);

}  // namespace ondi::x86
