// Scalar reference activation conversion: the kernel-facing entry point that SIMD variants replace.
#include <climits>
#include <cmath>
#include <cstring>

#include "core/fp16.h"
#include "kernels/kernels.h"
#include "tensor/blocks.h"
#include "tensor/quants.h"

namespace ondi::ref {
namespace {

// nearbyint(v) as an int, with x86's answer (cvtps2dq's "integer indefinite", INT_MIN) for NaN and values out of
// int range: a plain float -> int cast of those is undefined behaviour, and activations turn NaN or huge when a
// hostile file holds non-finite weights.
inline int round_to_int(float v) {
  const float r = std::nearbyint(v);
  return r >= -2147483648.0f && r < 2147483648.0f ? static_cast<int>(r) : INT_MIN;
}

// Activations into Q8_0 / Q8_1 blocks the way the reference engine's x86 (AVX2) build does it, which is the
// build our golden logits came from: the inverse scale is 127/amax (not 1/(amax/127)) and quantized values
// round to nearest, ties to even. Weights keep the format's own reference encoder (tensor/quants.cpp), whose
// output the golden files reproduce byte for byte; for activations, matching the engine people compare us to
// is what counts. (Measured effect on tests/golden: qwen2-math-Q8_0 max_rel 9.2e-3 -> 8.4e-3, the others
// unchanged at 3 digits; the remaining gap is float summation order, see tests/golden.)
template <bool kWithSum>
void quantize_act_q8(const float* x, uint8_t* dst, int64_t n) {
  using Block = std::conditional_t<kWithSum, BlockQ8_1, BlockQ8_0>;
  for (int64_t ib = 0; ib < n / 32; ++ib, x += 32, dst += sizeof(Block)) {
    float amax = 0.0f;
    for (int j = 0; j < 32; ++j) amax = std::fmax(amax, std::fabs(x[j]));
    const float d = amax / 127.0f;
    const float id = amax != 0.0f ? 127.0f / amax : 0.0f;
    Block b;
    uint32_t sum = 0;  // wraps like the SIMD integer adds when the quants are INT_MIN (never for finite input)
    for (int j = 0; j < 32; ++j) {
      const int q = round_to_int(x[j] * id);  // default rounding mode: ties to even
      b.qs[j] = static_cast<int8_t>(q);
      sum += static_cast<uint32_t>(q);
    }
    b.d = f32_to_fp16(d);
    if constexpr (kWithSum) b.s = f32_to_fp16(d * static_cast<float>(static_cast<int32_t>(sum)));
    std::memcpy(dst, &b, sizeof(Block));
  }
}

}  // namespace

void quantize_activations(GgmlType act_type, const float* x, void* out, int64_t n) {
  switch (act_type) {
    case GgmlType::F32:
      std::memcpy(out, x, static_cast<size_t>(n) * sizeof(float));
      return;
    case GgmlType::Q8_0:
      return quantize_act_q8<false>(x, static_cast<uint8_t*>(out), n);
    case GgmlType::Q8_1:
      return quantize_act_q8<true>(x, static_cast<uint8_t*>(out), n);
    case GgmlType::F16:   // round to nearest even, as the reference's FP32_TO_FP16
    case GgmlType::BF16:  // round to nearest even, as the reference's FP32_TO_BF16
    case GgmlType::Q8_K:  // quantize_row_q8_K_ref: absmax -> -127, round-half-even, f32 d, bsums
      quantize_row(act_type, x, out, n);
      return;
    default:
      return;  // not an activation format (vec_dot_type never returns one)
  }
}

}  // namespace ondi::ref
