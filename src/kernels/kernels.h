// Dot-product kernels, dispatched on the CPU's features at run time. Every kernel has a scalar reference
// (kernels/ref) that is the spec; SIMD variants must match its reduction order per output element so that
// results do not depend on how work is split across threads or batches.
#pragma once

#include <cstddef>
#include <cstdint>

#include "tensor/types.h"

namespace ondi {

// The format activations are converted to before a dot product with a weight row of type `weight`: what the
// reference GGUF engine does, so that quantized models give its numbers.
// F32 -> F32, F16 -> F16, BF16 -> BF16, Q4_0/Q5_0/Q8_0/IQ4_NL -> Q8_0, Q4_1/Q5_1 -> Q8_1, k-quants -> Q8_K.
GgmlType vec_dot_type(GgmlType weight);

// Converts n activations (n a multiple of the block size of `act_type`) into `act_type` blocks at `out`
// (row_size(act_type, n) bytes).
void quantize_activations(GgmlType act_type, const float* x, void* out, int64_t n);

// Dot product of one weight row (type `weight`, n elements) with an activation row already converted to
// vec_dot_type(weight). Fixed reduction order: blocks in ascending order.
using VecDotFn = float (*)(int64_t n, const void* w, const void* act);
VecDotFn vec_dot_fn(GgmlType weight);  // nullptr for a type that is not a weight type

// A tile of dot products: y[t * ldy + r] = dot(weight row r, activation row t) for r < n_rows, t < n_tok.
// Rows are w_stride bytes apart, activation rows act_stride bytes apart. Every element must be bit-identical
// to vec_dot_fn(weight) on that pair (this is what makes prefill batch-invariant: a token's logits do not depend
// on how many tokens share its forward pass); a SIMD GEMM reuses unpacked weights across tokens, not a
// different summation order.
using GemmFn = void (*)(int64_t n, const void* w, size_t w_stride, int64_t n_rows, const void* act, size_t act_stride,
                        int64_t n_tok, float* y, size_t ldy);
GemmFn gemm_fn(GgmlType weight);  // nullptr for a type that is not a weight type

// ---- Interleaved weights -----------------------------------------------------------------------------------
// A kernel set may multiply some types faster from a layout of its own than from the file's: x86 interleaves Q4_0,
// Q4_1, IQ4_NL, Q4_K and Q6_K matrices 8 rows at a time, block by block (the rows' scales as one vector, then the
// packed values as 4-byte groups, lane j = row j), so that a token's block dots need no horizontal sums and no scale
// gathers, and a tile is one sequential stream. The model copies such matrices (interleaved_bytes() > 0) during its
// first forward passes (Model::interleave_step) and multiplies the rows copied so far through interleaved_gemm_fn;
// every output stays bit-identical to vec_dot_fn on the file's rows (the layout moves bytes; the arithmetic per output
// is the same), so results do not depend on whether a matrix was interleaved.
constexpr int64_t kInterleaveRows = 8;  // rows per tile; tile i (rows 8i..8i+7) starts at i * tile bytes
// Bytes of the interleaved copy of n_rows rows of n elements; 0 when the dispatched set has no layout for `weight`.
// One tile's bytes: interleaved_bytes(weight, n, kInterleaveRows).
size_t interleaved_bytes(GgmlType weight, int64_t n, int64_t n_rows);
// Writes tiles [tile0, tile1) of the copy of n_rows rows (w: row 0, rows w_stride bytes apart) into out (the whole
// copy's start); rows past n_rows in the last tile repeat row n_rows - 1.
void interleave(GgmlType weight, int64_t n, const void* w, size_t w_stride, int64_t n_rows, int64_t tile0,
                int64_t tile1, void* out);
// As GemmFn over the copy: tiles points at the tile of the first row (a multiple of kInterleaveRows).
using InterleavedGemmFn = void (*)(int64_t n, const void* tiles, int64_t n_rows, const void* act, size_t act_stride,
                                   int64_t n_tok, float* y, size_t ldy);
InterleavedGemmFn interleaved_gemm_fn(GgmlType weight);  // nullptr when interleaved_bytes() is 0

// Which kernel set dispatch chose ("scalar", "avx2", "neon", ...). The environment variable ONDI_KERNELS=scalar
// forces the scalar reference (for tests and for comparing instruction sets).
const char* kernel_isa();

// Scalar references, exposed for the kernel tests.
namespace ref {
void quantize_activations(GgmlType act_type, const float* x, void* out, int64_t n);
VecDotFn vec_dot_fn(GgmlType weight);
GemmFn gemm_fn(GgmlType weight);
}  // namespace ref

// An instruction-set-specific kernel set: each entry may be nullptr, meaning "use the scalar reference".
struct KernelSet {
  const char* name;
  bool (*supported)();  // true when this CPU runs it
  VecDotFn (*vec_dot)(GgmlType weight);
  GemmFn (*gemm)(GgmlType weight);
  // Returns false when it has no SIMD conversion into act_type (then the reference is used).
  bool (*quantize_activations)(GgmlType act_type, const float* x, void* out, int64_t n);
  // Interleaved weights (see above); nullptr or 0 bytes: none.
  size_t (*interleaved_bytes)(GgmlType weight, int64_t n, int64_t n_rows);
  void (*interleave)(GgmlType weight, int64_t n, const void* w, size_t w_stride, int64_t n_rows, int64_t tile0,
                     int64_t tile1, void* out);
  InterleavedGemmFn (*interleaved_gemm)(GgmlType weight);
};
const KernelSet* x86_avx2_kernels();  // kernels/x86; nullptr when not built for x86-64
const KernelSet* arm_neon_kernels();  // kernels/arm; nullptr when not built for aarch64

}  // namespace ondi
