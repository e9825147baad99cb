// Kernel dispatch. Today every entry point resolves to the scalar reference; SIMD variants (chosen from the
// CPU's features at run time) plug in here and must keep the reference's per-output reduction order.
#include "kernels/kernels.h"

namespace ondi {

GgmlType vec_dot_type(GgmlType weight) {
  switch (weight) {
    case GgmlType::F32:
    case GgmlType::F16:
    case GgmlType::BF16:
      return weight;  // no conversion beyond rounding activations to the weight's float format
    case GgmlType::Q4_0:
    case GgmlType::Q5_0:
    case GgmlType::Q8_0:
    case GgmlType::IQ4_NL:
      return GgmlType::Q8_0;  // symmetric weights: a symmetric 8-bit activation block of the same size
    case GgmlType::Q4_1:
    case GgmlType::Q5_1:
      return GgmlType::Q8_1;  // weights with a min need sum(activations), which Q8_1 carries
    case GgmlType::Q2_K:
    case GgmlType::Q3_K:
    case GgmlType::Q4_K:
    case GgmlType::Q5_K:
    case GgmlType::Q6_K:
      return GgmlType::Q8_K;  // 256-element super-blocks with per-16 sums for the mins
    case GgmlType::Q8_1:
    case GgmlType::Q8_K:
      return weight;  // activation-only formats: not a weight (vec_dot_fn returns nullptr)
  }
  return weight;
}

void quantize_activations(GgmlType act_type, const float* x, void* out, int64_t n) {
  ref::quantize_activations(act_type, x, out, n);
}

VecDotFn vec_dot_fn(GgmlType weight) { return ref::vec_dot_fn(weight); }

}  // namespace ondi
