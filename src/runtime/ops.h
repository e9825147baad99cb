// The forward pass's building blocks over f32 activations. Each output element is computed by one task in
// a fixed order, so results do not depend on thread count or on which other tokens share the batch.
#pragma once

#include <cstdint>
#include <vector>

#include "core/thread_pool.h"
#include "model/model.h"

namespace ondi {

// Per-thread and per-call scratch reused across calls so that decoding does not allocate.
struct OpScratch {
  std::vector<uint8_t> act;  // activations converted to the weight's vec_dot_type
};

// y: (n_tok, w.n_out) = x: (n_tok, w.n_in) . W^T
void matmul(const Weight& w, const float* x, int64_t n_tok, float* y, ThreadPool& pool, OpScratch& scratch);

// y = x / sqrt(mean(x^2) + eps) * weight, per row of n (sum of squares in double, as the reference does).
void rms_norm(const float* x, const float* weight, float* y, int64_t n, float eps);

// Rotates pairs of one head's first n_rot dims in place. cos_sin: (n_rot/2) pairs for this position.
void rope_apply(float* x, const float* cos_sin, int64_t n_rot, bool neox);
// Fills cos_sin (n_rot/2 pairs) for position pos the way the reference engine does: theta starts at
// pos * freq_scale and is multiplied by base^(-2/n_rot) for each pair, divided by the pair's freq factor.
void rope_cache(float* cos_sin, int64_t pos, int64_t n_rot, float base, float freq_scale, const float* freq_factors);

inline float silu(float x) { return x / (1.0f + __builtin_expf(-x)); }

}  // namespace ondi
