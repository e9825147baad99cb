// aarch64 NEON kernel sets. One source (neon_impl.h) is compiled at three instruction levels: base ARMv8.0
// NEON, +dotprod (SDOT) and +i8mm (SMMLA); neon.cpp picks the best one this CPU runs (getauxval hwcaps).
//
// Every quantized kernel is bit-identical to the scalar reference (kernels/ref): the integer part of a block
// is exact whatever the instruction, and the per-block float formula is the reference's, operation for
// operation, evaluated lane-wise (AArch64 vector float arithmetic is IEEE like the scalar one), with blocks
// accumulated in ascending order. F16/BF16 accumulate exact products in f64 lanes, in an order that differs
// from the reference's sequential one (bounded in tests/unit/kernels_arm_neon_test.cpp) but is the same for
// vec_dot and every GEMM tile shape. F32 (rare as a matmul weight) is left to the reference.
#pragma once

#include <cstdint>

#include "kernels/kernels.h"

namespace ondi::neon {

enum class Level { kBase, kDotprod, kI8mm };

// The kernel set of `level`; nullptr when not built for aarch64 or when this CPU lacks the level's
// instructions. For tests that exercise every level the CPU has, not only the one dispatch picks.
const KernelSet* kernel_set(Level level);

#if defined(__aarch64__)
// Per-level tables, defined in neon_<level>.cpp; nullptr for a type without a NEON kernel.
namespace base {
VecDotFn vec_dot(GgmlType weight);
GemmFn gemm(GgmlType weight);
}  // namespace base
namespace dotprod {
VecDotFn vec_dot(GgmlType weight);
GemmFn gemm(GgmlType weight);
}  // namespace dotprod
namespace i8mm {
VecDotFn vec_dot(GgmlType weight);
GemmFn gemm(GgmlType weight);
}  // namespace i8mm

// Q8_0 / Q8_1 / Q8_K activation blocks, byte-identical to ref::quantize_activations (neon_act.cpp).
bool quantize_act(GgmlType act_type, const float* x, void* out, int64_t n);
#endif

}  // namespace ondi::neon
