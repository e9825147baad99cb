#include "runtime/ops.h"

#include <algorithm>
#include <cmath>

#include "kernels/kernels.h"

namespace ondi {

namespace {

// Where the input's converted copies go in scratch.act: one per distinct vec_dot_type among the present weights
// of ws, one after another (which[i]: weight i's copy).
struct ActLayout {
  GgmlType types[kMaxMatmulGroup];
  size_t offset[kMaxMatmulGroup], row[kMaxMatmulGroup];
  int which[kMaxMatmulGroup];
  int n_types = 0;
  size_t bytes = 0;
};

ActLayout act_layout(const Weight* const* ws, int n, int64_t n_tok) {
  ActLayout l;
  for (int i = 0; i < n; ++i) {
    if (!ws[i]->present()) continue;
    const GgmlType t = vec_dot_type(ws[i]->type);
    int k = 0;
    while (k < l.n_types && l.types[k] != t) ++k;
    if (k == l.n_types) {
      l.types[k] = t;
      l.row[k] = *row_size(t, ws[i]->n_in);
      l.offset[k] = l.bytes;
      l.bytes += l.row[k] * static_cast<size_t>(n_tok);
      ++l.n_types;
    }
    l.which[i] = k;
  }
  return l;
}

// The input converted once per copy of act_layout, in one job over (type, token) pairs (act[i], act_row[i]: weight
// i's copy and its row stride).
void convert_input(const Weight* const* ws, int n, const float* x, int64_t n_tok, ThreadPool& pool, OpScratch& scratch,
                   const uint8_t** act, size_t* act_row) {
  const ActLayout l = act_layout(ws, n, n_tok);
  if (scratch.act.size() < l.bytes) scratch.act.resize(l.bytes);
  uint8_t* base = scratch.act.data();
  const int64_t n_in = ws[0]->n_in;
  pool.parallel_for(l.n_types * n_tok, 1, [&](int64_t j0, int64_t j1, int) {
    for (int64_t j = j0; j < j1; ++j) {
      const int64_t k = j / n_tok, t = j % n_tok;
      quantize_activations(l.types[k], x + t * n_in, base + l.offset[k] + static_cast<size_t>(t) * l.row[k], n_in);
    }
  });
  for (int i = 0; i < n; ++i) {
    act[i] = base + l.offset[l.which[i]];
    act_row[i] = l.row[l.which[i]];
  }
}

// Rows per task: a few tasks per thread balance uneven progress without making tasks too small (16 rows: whole
// kernel tiles, and a whole number of interleaved tiles).
static_assert(16 % kInterleaveRows == 0);
int64_t task_rows(int64_t total_rows, int n_threads) {
  const int64_t target = (total_rows + n_threads * 4 - 1) / (n_threads * 4);
  return std::max<int64_t>(1, (target + 15) / 16) * 16;
}

// y[t * ldy + r - r0] for rows [r0, r1) of w (r0 a multiple of the interleaved tile).
// Rows of w its interleaved copy holds (0: none), read once per product.
int64_t copied_rows(const Weight& w) { return w.copy ? w.copy->rows.load(std::memory_order_acquire) : 0; }

// y[t * ldy + r - r0] for rows [r0, r1) of w (r0 a multiple of the interleaved tile): the rows below `copied` from
// the interleaved copy, the others from the file (each output is one kernel's, and both give the same bits).
void gemm_rows(const Weight& w, int64_t copied, int64_t r0, int64_t r1, const uint8_t* act, size_t act_row,
               int64_t n_tok, float* y, size_t ldy) {
  const int64_t split = std::clamp(copied, r0, r1);
  if (split > r0)
    interleaved_gemm_fn(w.type)(w.n_in, w.copy->tiles + static_cast<size_t>(r0 / kInterleaveRows) * w.copy->tile_bytes,
                                split - r0, act, act_row, n_tok, y, ldy);
  if (r1 > split)
    gemm_fn(w.type)(w.n_in, w.row(split), w.row_bytes, r1 - split, act, act_row, n_tok, y + (split - r0), ldy);
}

}  // namespace

size_t matmul_group_act_bytes(const Weight* const* ws, int n, int64_t n_tok) { return act_layout(ws, n, n_tok).bytes; }

void matmul_group(const MatmulOut* outs, int n, const float* x, int64_t n_tok, ThreadPool& pool, OpScratch& scratch) {
  const Weight* ws[kMaxMatmulGroup];
  const uint8_t* act[kMaxMatmulGroup];
  size_t act_row[kMaxMatmulGroup];
  int64_t total = 0;
  for (int i = 0; i < n; ++i) {
    ws[i] = outs[i].w;
    total += ws[i]->n_out;
  }
  convert_input(ws, n, x, n_tok, pool, scratch, act, act_row);
  // One job for all the matrices: their row ranges in tasks of `rows`, matrix by matrix. Tasks own disjoint row
  // ranges and every output element is one dot product in a fixed order, so neither the split, the grouping nor
  // the number of tokens changes a single bit of the result.
  const int64_t rows = task_rows(total, pool.size());
  int64_t first[kMaxMatmulGroup + 1] = {0};
  for (int i = 0; i < n; ++i) first[i + 1] = first[i] + (ws[i]->n_out + rows - 1) / rows;
  int64_t copied[kMaxMatmulGroup];
  for (int i = 0; i < n; ++i) copied[i] = copied_rows(*ws[i]);
  pool.run(first[n], [&](int64_t task, int) {
    int i = 0;
    while (task >= first[i + 1]) ++i;
    const Weight& w = *ws[i];
    const int64_t r0 = (task - first[i]) * rows, r1 = std::min(w.n_out, r0 + rows);
    gemm_rows(w, copied[i], r0, r1, act[i], act_row[i], n_tok, outs[i].y + r0, static_cast<size_t>(w.n_out));
  });
}

void matmul(const Weight& w, const float* x, int64_t n_tok, float* y, ThreadPool& pool, OpScratch& scratch) {
  const MatmulOut out{&w, y};
  matmul_group(&out, 1, x, n_tok, pool, scratch);
}

void matmul_swiglu(const Weight& gate, const Weight& up, const float* x, int64_t n_tok, float* g, float* u,
                   ThreadPool& pool, OpScratch& scratch) {
  const Weight* ws[2] = {&gate, &up};
  const uint8_t* act[2];
  size_t act_row[2];
  convert_input(ws, 2, x, n_tok, pool, scratch, act, act_row);
  const int64_t n_ff = gate.n_out, rows = task_rows(n_ff, pool.size());
  const int64_t cg = copied_rows(gate), cu = copied_rows(up);
  // Each task takes the same rows of both matrices and gates them at once: no pass of its own over (n_tok, n_ff)
  // on one thread, and one barrier instead of three.
  pool.run((n_ff + rows - 1) / rows, [&](int64_t task, int) {
    const int64_t r0 = task * rows, r1 = std::min(n_ff, r0 + rows);
    const size_t ld = static_cast<size_t>(n_ff);
    gemm_rows(gate, cg, r0, r1, act[0], act_row[0], n_tok, g + r0, ld);
    gemm_rows(up, cu, r0, r1, act[1], act_row[1], n_tok, u + r0, ld);
    for (int64_t t = 0; t < n_tok; ++t)
      for (int64_t r = r0; r < r1; ++r) {
        const size_t i = static_cast<size_t>(t) * ld + static_cast<size_t>(r);
        g[i] = silu(g[i]) * u[i];
      }
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
