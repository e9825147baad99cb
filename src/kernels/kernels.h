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

// Scalar references, exposed for the kernel tests.
namespace ref {
void quantize_activations(GgmlType act_type, const float* x, void* out, int64_t n);
VecDotFn vec_dot_fn(GgmlType weight);
}  // namespace ref

}  // namespace ondi
