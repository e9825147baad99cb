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

// Several matrices over the same input (q, k and v): outs[i].y = x . outs[i].w^T, in one parallel job, the input
// converted once per activation type. Decoding one token runs ~8 jobs per layer; each is a barrier where the faster
// thread waits for the slower one's last task, and fewer jobs wait less.
struct MatmulOut {
  const Weight* w;
  float* y;
};
constexpr int kMaxMatmulGroup = 3;
void matmul_group(const MatmulOut* outs, int n, const float* x, int64_t n_tok, ThreadPool& pool, OpScratch& scratch);
// scratch.act bytes that matmul_group takes for these weights and tokens (the memory plan's figure).
size_t matmul_group_act_bytes(const Weight* const* ws, int n, int64_t n_tok);

// g: (n_tok, n_ff) = silu(x . gate^T) * (x . up^T), u: (n_tok, n_ff) scratch for the up projection; one job.
void matmul_swiglu(const Weight& gate, const Weight& up, const float* x, int64_t n_tok, float* g, float* u,
                   ThreadPool& pool, OpScratch& scratch);

// y = x / sqrt(mean(x^2) + eps) * weight, per row of n (sum of squares in double, as the reference does).
void rms_norm(const float* x, const float* weight, float* y, int64_t n, float eps);

// Rotates pairs of one head's first n_rot dims in place. cos_sin: (n_rot/2) pairs for this position.
void rope_apply(float* x, const float* cos_sin, int64_t n_rot, bool neox);
// Fills cos_sin (n_rot/2 pairs) for position pos the way the reference engine does: theta starts at
// pos * freq_scale and is multiplied by base^(-2/n_rot) for each pair, divided by the pair's freq factor.
void rope_cache(float* cos_sin, int64_t pos, int64_t n_rot, float base, float freq_scale, const float* freq_factors);

inline float silu(float x) { return x / (1.0f + __builtin_expf(-x)); }

}  // namespace ondi
