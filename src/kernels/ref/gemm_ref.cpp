// Scalar reference GEMM tile: one vec_dot per element, so it is bit-identical to vec_dot by construction.
#include "kernels/kernels.h"

namespace ondi::ref {
namespace {

template <GgmlType kType>
void gemm_ref(int64_t n, const void* w, size_t w_stride, int64_t n_rows, const void* act, size_t act_stride,
              int64_t n_tok, float* y, size_t ldy) {
  static const VecDotFn dot = ref::vec_dot_fn(kType);
  const auto* wb = static_cast<const uint8_t*>(w);
  const auto* ab = static_cast<const uint8_t*>(act);
  for (int64_t r = 0; r < n_rows; ++r)
    for (int64_t t = 0; t < n_tok; ++t)
      y[static_cast<size_t>(t) * ldy + static_cast<size_t>(r)] = dot(n, wb + static_cast<size_t>(r) * w_stride,
                                                                      ab + static_cast<size_t>(t) * act_stride);
}

}  // namespace

GemmFn gemm_fn(GgmlType weight) {
  switch (weight) {
#define ONDI_GEMM_CASE(T) \
  case GgmlType::T:       \
    return &gemm_ref<GgmlType::T>;
    ONDI_GEMM_CASE(F32)
    ONDI_GEMM_CASE(F16)
    ONDI_GEMM_CASE(BF16)
    ONDI_GEMM_CASE(Q4_0)
    ONDI_GEMM_CASE(Q4_1)
    ONDI_GEMM_CASE(Q5_0)
    ONDI_GEMM_CASE(Q5_1)
    ONDI_GEMM_CASE(Q8_0)
    ONDI_GEMM_CASE(Q2_K)
    ONDI_GEMM_CASE(Q3_K)
    ONDI_GEMM_CASE(Q4_K)
    ONDI_GEMM_CASE(Q5_K)
    ONDI_GEMM_CASE(Q6_K)
    ONDI_GEMM_CASE(IQ4_NL)
#undef ONDI_GEMM_CASE
    default:
      return nullptr;
  }
}

}  // namespace ondi::ref
