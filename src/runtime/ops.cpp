#include "runtime/ops.h"

#include <algorithm>
#include <cmath>

#include "kernels/kernels.h"

namespace ondi {

void matmul(const Weight& w, const float* x, int64_t n_tok, float* y, ThreadPool& pool, OpScratch& scratch) {
  const GgmlType act_type = vec_dot_type(w.type);
  const size_t act_row = *row_size(act_type, w.n_in);
  const size_t need = act_row * static_cast<size_t>(n_tok);
  if (scratch.act.size() < need) scratch.act.resize(need);
  uint8_t* act = scratch.act.data();
  pool.parallel_for(n_tok, 1, [&](int64_t t0, int64_t t1, int) {
    for (int64_t t = t0; t < t1; ++t) quantize_activations(act_type, x + t * w.n_in, act + t * act_row, w.n_in);
  });
  const GemmFn gemm = gemm_fn(w.type);
  const int64_t n_out = w.n_out;
  // Tasks own disjoint row ranges and every output element is one dot product in a fixed order, so neither the
  // split nor the number of tokens changes a single bit of the result.
  pool.parallel_for(n_out, 16, [&](int64_t r0, int64_t r1, int) {
    gemm(w.n_in, w.row(r0), w.row_bytes, r1 - r0, act, act_row, n_tok, y + r0, static_cast<size_t>(n_out));
  });
}

void rms_norm(const float* x, const float* weight, float* y, int64_t n, float eps) {
  double sum = 0.0;
  for (int64_t i = 0; i < n; ++i) sum += static_cast<double>(x[i] * x[i]);
  const float mean = static_cast<float>(sum / static_cast<double>(n));
  const float scale = 1.0f / std::sqrt(mean + eps);
  for (int64_t i = 0; i < n; ++i) y[i] = (x[i] * scale) * weight[i];
}

void rope_cache(float* cos_sin, int64_t pos, int64_t n_rot, float base, float freq_scale, const float* freq_factors) {
  const float theta_scale = std::pow(base, -2.0f / static_cast<float>(n_rot));
  float theta = static_cast<float>(pos);
  for (int64_t i = 0; i < n_rot / 2; ++i) {
    const float ff = freq_factors ? freq_factors[i] : 1.0f;
    const float t = freq_scale * (theta / ff);
    cos_sin[2 * i] = std::cos(t);
    cos_sin[2 * i + 1] = std::sin(t);
    theta *= theta_scale;
  }
}

void rope_apply(float* x, const float* cos_sin, int64_t n_rot, bool neox) {
  const int64_t half = n_rot / 2;
  for (int64_t i = 0; i < half; ++i) {
    const float c = cos_sin[2 * i], s = cos_sin[2 * i + 1];
    const int64_t a = neox ? i : 2 * i;
    const int64_t b = neox ? i + half : 2 * i + 1;
    const float x0 = x[a], x1 = x[b];
    x[a] = x0 * c - x1 * s;
    x[b] = x0 * s + x1 * c;
  }
}

}  // namespace ondi
