// Attention over a Q8_0 KV cache: half the memory of F16 at a small, measured cost in accuracy
// (tests/golden/golden_kv_q8_test.cpp reports the KL divergence against the F16 cache on every golden model).
#include <algorithm>
#include <cmath>
#include <limits>

#include "kernels/kernels.h"
#include "runtime/attention.h"
#include "tensor/quants.h"

namespace ondi {

void attend_q8_0(const float* q, const uint8_t* k, size_t k_stride, const uint8_t* v, size_t v_stride, int32_t n_kv,
                 int64_t hd, int64_t hdv, float scale, AttnScratch& scratch, float* out) {
  if (scratch.scores.size() < static_cast<size_t>(n_kv)) scratch.scores.resize(static_cast<size_t>(n_kv));
  // q in Q8_0 blocks (as the K rows), so q.k is the Q8_0 x Q8_0 integer dot product of the kernels.
  const size_t q_bytes = *row_size(GgmlType::Q8_0, hd);
  if (scratch.q8.size() < q_bytes) scratch.q8.resize(q_bytes);
  if (scratch.row.size() < static_cast<size_t>(hdv)) scratch.row.resize(static_cast<size_t>(hdv));
  quantize_activations(GgmlType::Q8_0, q, scratch.q8.data(), hd);
  const VecDotFn dot = vec_dot_fn(GgmlType::Q8_0);
  float* sc = scratch.scores.data();
  float mx = -std::numeric_limits<float>::infinity();
  for (int32_t j = 0; j < n_kv; ++j) {
    sc[j] = dot(hd, k + static_cast<size_t>(j) * k_stride, scratch.q8.data()) * scale;
    mx = std::max(mx, sc[j]);
  }
  double sum = 0.0;
  for (int32_t j = 0; j < n_kv; ++j) {
    sc[j] = std::exp(sc[j] - mx);
    sum += sc[j];
  }
  const float inv = static_cast<float>(1.0 / sum);
  std::fill(out, out + hdv, 0.0f);
  float* row = scratch.row.data();
  for (int32_t j = 0; j < n_kv; ++j) {
    dequantize_row(GgmlType::Q8_0, v + static_cast<size_t>(j) * v_stride, row, hdv);
    const float p = sc[j] * inv;
    for (int64_t d = 0; d < hdv; ++d) out[d] += row[d] * p;
  }
}

}  // namespace ondi
