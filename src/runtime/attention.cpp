#include "runtime/attention.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "core/fp16.h"

namespace ondi {

void attend(const float* q, const uint16_t* k, size_t k_stride, const uint16_t* v, size_t v_stride, int32_t n_kv,
            int64_t hd, int64_t hdv, float scale, AttnScratch& scratch, float* out) {
  if (scratch.scores.size() < static_cast<size_t>(n_kv)) scratch.scores.resize(static_cast<size_t>(n_kv));
  if (scratch.q16.size() < static_cast<size_t>(hd)) scratch.q16.resize(static_cast<size_t>(hd));
  float* sc = scratch.scores.data();
  uint16_t* q16 = scratch.q16.data();
  for (int64_t d = 0; d < hd; ++d) q16[d] = f32_to_fp16(q[d]);
  float mx = -std::numeric_limits<float>::infinity();
  for (int32_t j = 0; j < n_kv; ++j) {
    const uint16_t* kj = k + static_cast<size_t>(j) * k_stride;
    float dot = 0.0f;
    for (int64_t d = 0; d < hd; ++d) dot += fp16_to_f32(kj[d]) * fp16_to_f32(q16[d]);
    sc[j] = dot * scale;
    mx = std::max(mx, sc[j]);
  }
  double sum = 0.0;
  for (int32_t j = 0; j < n_kv; ++j) {
    sc[j] = std::exp(sc[j] - mx);
    sum += sc[j];
  }
  const float inv = static_cast<float>(1.0 / sum);
  for (int32_t j = 0; j < n_kv; ++j) sc[j] = fp16_to_f32(f32_to_fp16(sc[j] * inv));
  std::fill(out, out + hdv, 0.0f);
  for (int32_t j = 0; j < n_kv; ++j) {
    const uint16_t* vj = v + static_cast<size_t>(j) * v_stride;
    const float p = sc[j];
    for (int64_t d = 0; d < hdv; ++d) out[d] += fp16_to_f32(vj[d]) * p;
  }
}

}  // namespace ondi
