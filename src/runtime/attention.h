// Attention of one query head over a sequence's cached keys and values (F16 cache).
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace ondi {

struct AttnScratch {
  std::vector<float> scores;  // (n_kv)
  std::vector<uint16_t> q16;  // (head_dim)
  std::vector<float> qf;      // (group, head_dim): F16-rounded queries as f32
  std::vector<uint8_t> q8;    // q in Q8_0 blocks (Q8_0 cache)
  std::vector<float> row;     // one dequantized V row (Q8_0 cache)
  bool prefetch = false;      // decoding: prefetch the strided K/V rows ahead (a speed hint; results do not change)
};

// The `group` query heads that share one KV head (GQA; group 1 without GQA): q (group, hd), out (group, hdv), each
// head's out = softmax(scale * K q) V over positions [0, n_kv). k: row j at k + j * k_stride (hd halves), v: row j at
// v + j * v_stride (hdv halves). Mirrors the reference engine's numerics: q rounded to F16 before q.k, softmax in f32
// with its sum in double, probabilities rounded to F16 before weighting V (the exact operation order: attention.cpp).
// Each head's result is attend_reference()'s bit for bit and depends only on its inputs (fixed order over positions),
// never on the thread that runs it or on the group size; the K and V rows are loaded and converted once for the whole
// group.
void attend_group(const float* q, int64_t group, const uint16_t* k, size_t k_stride, const uint16_t* v, size_t v_stride,
                  int32_t n_kv, int64_t hd, int64_t hdv, float scale, AttnScratch& scratch, float* out);

// The softmax's exponential (x <= 0): ondi's own, the same bits on every machine and in SIMD; 0 below -87.
float softmax_exp(float x);

// One head by the scalar loops alone: the spec the SIMD paths reproduce (used where SIMD is off, and by tests).
void attend_reference(const float* q, const uint16_t* k, size_t k_stride, const uint16_t* v, size_t v_stride,
                      int32_t n_kv, int64_t hd, int64_t hdv, float scale, AttnScratch& scratch, float* out);

// One head over a Q8_0 cache: k/v rows are Q8_0 blocks (hd and hdv multiples of 32), strides in bytes. q is
// converted to Q8_0 and dotted with the integer kernel; V rows are decoded to f32 and weighted by the f32
// probabilities. Same fixed order over positions.
void attend_q8_0(const float* q, const uint8_t* k, size_t k_stride, const uint8_t* v, size_t v_stride, int32_t n_kv,
                 int64_t hd, int64_t hdv, float scale, AttnScratch& scratch, float* out);

}  // namespace ondi
