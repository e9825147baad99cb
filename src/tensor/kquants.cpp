// Row codecs of the 256-element k-quants (Q2_K..Q6_K, Q8_K) and of IQ4_NL.
//
// Decoders follow the format definitions in blocks.h, with the float operations in the reference
// engine's order (d * sc first, then times q, then minus the min term) so decoded values match it exactly.
//
// Encoders: Q8_K is the activation format and reproduces the reference quantizer bit for bit (it decides
// what the dot products see). For the weight k-quants we follow the reference's imatrix-free search
// (fit each sub-block's scale/min by trying a fan of scales and solving weighted least squares for the
// best level assignment, then quantize the sub-block scales to 4/6/8 bits and re-pick the levels with the
// scales actually stored), written so that the float operations happen in the same order: files from
// our generator then behave like files from the reference tools. IQ4_NL uses its own, simpler search.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "tensor/blocks.h"
#include "tensor/quant_util.h"

namespace ondi::quant {
namespace {

constexpr float kGroupEps = 1e-15f;  // below this a group is treated as all zero

inline int clampi(int v, int lo, int hi) { return v < lo ? lo : (v > hi ? hi : v); }

// Signed value of largest magnitude (first on ties).
inline float signed_absmax(const float* x, int n, float* amax_out) {
  float amax = 0.0f, max = 0.0f;
  for (int i = 0; i < n; ++i) {
    const float ax = std::fabs(x[i]);
    if (ax > amax) {
      amax = ax;
      max = x[i];
    }
  }
  *amax_out = amax;
  return max;
}

// Fits x[i] ~ scale * L[i] - neg_min with L in [0, nmax], min <= 0 (the k-quants with a min: Q2_K, Q4_K,
// Q5_K). Starts from the min/max grid, then tries nstep+1 grids whose step is (max - min) / (nmax + rmin
// + rdelta * is); for each the levels are fixed and (scale, min) solve the weighted 2x2 least-squares
// problem. Keeps the assignment with the lowest weighted error (|e| if use_mad, else e^2).
float fit_scale_min(int n, int nmax, const float* x, const float* w, uint8_t* L, float* neg_min, float rmin,
                    float rdelta, int nstep, bool use_mad) {
  float min = x[0], max = x[0];
  float sum_w = w[0];
  float sum_x = sum_w * x[0];
  for (int i = 1; i < n; ++i) {
    if (x[i] < min) min = x[i];
    if (x[i] > max) max = x[i];
    sum_w += w[i];
    sum_x += w[i] * x[i];
  }
  if (min > 0) min = 0;  // the format subtracts a non-negative "min": it can only shift values down
  if (max == min) {
    for (int i = 0; i < n; ++i) L[i] = 0;
    *neg_min = -min;
    return 0.0f;
  }
  float iscale = static_cast<float>(nmax) / (max - min);
  float scale = 1 / iscale;
  float best_error = 0;
  for (int i = 0; i < n; ++i) {
    const int l = clampi(nearest_int(iscale * (x[i] - min)), 0, nmax);
    L[i] = static_cast<uint8_t>(l);
    float diff = scale * static_cast<float>(l) + min - x[i];
    diff = use_mad ? std::fabs(diff) : diff * diff;
    best_error += w[i] * diff;
  }
  if (nstep < 1) {
    *neg_min = -min;
    return scale;
  }
  uint8_t Laux[32];
  for (int is = 0; is <= nstep; ++is) {
    iscale = (rmin + rdelta * static_cast<float>(is) + static_cast<float>(nmax)) / (max - min);
    float sum_l = 0, sum_l2 = 0, sum_xl = 0;
    for (int i = 0; i < n; ++i) {
      const int l = clampi(nearest_int(iscale * (x[i] - min)), 0, nmax);
      Laux[i] = static_cast<uint8_t>(l);
      const float fl = static_cast<float>(l);
      sum_l += w[i] * fl;
      sum_l2 += w[i] * fl * fl;
      sum_xl += w[i] * fl * x[i];
    }
    const float D = sum_w * sum_l2 - sum_l * sum_l;
    if (D > 0) {
      float this_scale = (sum_w * sum_xl - sum_x * sum_l) / D;
      float this_min = (sum_l2 * sum_x - sum_l * sum_xl) / D;
      if (this_min > 0) {  // a positive min is not representable: refit the scale alone
        this_min = 0;
        this_scale = sum_xl / sum_l2;
      }
      float cur_error = 0;
      for (int i = 0; i < n; ++i) {
        float diff = this_scale * static_cast<float>(Laux[i]) + this_min - x[i];
        diff = use_mad ? std::fabs(diff) : diff * diff;
        cur_error += w[i] * diff;
      }
      if (cur_error < best_error) {
        std::memcpy(L, Laux, static_cast<size_t>(n));
        best_error = cur_error;
        scale = this_scale;
        min = this_min;
      }
    }
  }
  *neg_min = -min;
  return scale;
}

// Fits x[i] ~ scale * l[i], l in [-nmax, nmax - 1], weights x^2 (Q6_K). The signed absmax is mapped to
// -nmax (the level without a positive twin), then 18 nearby grids are tried; each is scored by the
// least-squares optimum sumlx^2 / suml2. Writes L[i] = l[i] + nmax.
float fit_scale_symmetric(int n, int nmax, const float* x, int8_t* L) {
  float amax;
  const float max = signed_absmax(x, n, &amax);
  if (amax < kGroupEps) {
    for (int i = 0; i < n; ++i) L[i] = 0;
    return 0.0f;
  }
  auto score = [&](float iscale, float& sumlx, float& suml2) {
    sumlx = suml2 = 0;
    for (int i = 0; i < n; ++i) {
      const float l = static_cast<float>(clampi(nearest_int(iscale * x[i]), -nmax, nmax - 1));
      const float w = x[i] * x[i];
      sumlx += w * x[i] * l;
      suml2 += w * l * l;
    }
  };
  auto assign = [&](float iscale) {
    for (int i = 0; i < n; ++i) L[i] = static_cast<int8_t>(nmax + clampi(nearest_int(iscale * x[i]), -nmax, nmax - 1));
  };
  float iscale = static_cast<float>(-nmax) / max;
  float sumlx, suml2;
  score(iscale, sumlx, suml2);
  assign(iscale);
  float scale = suml2 != 0 ? sumlx / suml2 : 0.0f;
  float best = scale * sumlx;
  for (int is = -9; is <= 9; ++is) {
    if (is == 0) continue;
    iscale = -(static_cast<float>(nmax) + 0.1f * static_cast<float>(is)) / max;
    score(iscale, sumlx, suml2);
    if (suml2 > 0 && sumlx * sumlx > best * suml2) {
      assign(iscale);
      scale = sumlx / suml2;
      best = scale * sumlx;
    }
  }
  return scale;
}

// Q3_K's fit: symmetric levels [-nmax, nmax - 1] with weights x^2, refined by coordinate descent: each
// level is moved to its least-squares optimum given the others while that improves sumlx^2 / suml2.
// Writes L[i] = l[i] + nmax.
float fit_scale_q3(int n, int nmax, const float* x, int8_t* L) {
  float amax;
  const float max = signed_absmax(x, n, &amax);
  if (amax < kGroupEps) {
    for (int i = 0; i < n; ++i) L[i] = 0;
    return 0.0f;
  }
  const float iscale = static_cast<float>(-nmax) / max;
  float sumlx = 0, suml2 = 0;
  for (int i = 0; i < n; ++i) {
    const int l = clampi(nearest_int(iscale * x[i]), -nmax, nmax - 1);
    L[i] = static_cast<int8_t>(l);
    const float w = x[i] * x[i];
    sumlx += w * x[i] * static_cast<float>(l);
    suml2 += w * static_cast<float>(l) * static_cast<float>(l);
  }
  for (int itry = 0; itry < 5; ++itry) {
    int n_changed = 0;
    for (int i = 0; i < n; ++i) {
      const float w = x[i] * x[i];
      const float li = static_cast<float>(L[i]);
      float slx = sumlx - w * x[i] * li;
      if (slx > 0) {
        float sl2 = suml2 - w * li * li;
        const int new_l = clampi(nearest_int(x[i] * sl2 / slx), -nmax, nmax - 1);
        if (new_l != L[i]) {
          const float fl = static_cast<float>(new_l);
          slx += w * x[i] * fl;
          sl2 += w * fl * fl;
          if (sl2 > 0 && slx * slx * suml2 > sumlx * sumlx * sl2) {
            L[i] = static_cast<int8_t>(new_l);
            sumlx = slx;
            suml2 = sl2;
            ++n_changed;
          }
        }
      }
    }
    if (n_changed == 0) break;
  }
  for (int i = 0; i < n; ++i) L[i] = static_cast<int8_t>(L[i] + nmax);
  return suml2 > 0.0f ? sumlx / suml2 : 0.0f;
}

// 2-bit plane packing (Q2_K quants, Q3_K low bits): see blocks.h.
inline void pack_2bit_planes(const uint8_t* L, uint8_t* qs) {
  for (int h = 0; h < 2; ++h) {
    const uint8_t* l = L + 128 * h;
    for (int i = 0; i < 32; ++i)
      qs[32 * h + i] = static_cast<uint8_t>(l[i] | l[i + 32] << 2 | l[i + 64] << 4 | l[i + 96] << 6);
  }
}

// Q4_K/Q5_K scale encoding (blocks.h), from 8 6-bit scales and mins.
inline void pack_k4_scales(const uint8_t* ls, const uint8_t* lm, uint8_t* s) {
  for (int j = 0; j < 8; ++j) {
    if (j < 4) {
      s[j] = ls[j];
      s[j + 4] = lm[j];
    } else {
      s[j + 4] = static_cast<uint8_t>((ls[j] & 15) | (lm[j] & 15) << 4);
      s[j - 4] |= static_cast<uint8_t>((ls[j] >> 4) << 6);
      s[j] |= static_cast<uint8_t>((lm[j] >> 4) << 6);
    }
  }
}

// Shared by Q4_K (nmax 15) and Q5_K (nmax 31): fit each 32-value sub-block, quantize the 8 scales and
// 8 mins to 6 bits against their maxima, then re-pick levels with the stored (rounded) scales.
template <int kNmax>
void quantize_k4_like(const float* x, float rmin, int nstep, uint8_t* L, uint16_t& d_out, uint16_t& dmin_out,
                      uint8_t* scales) {
  float sc[8], mn[8], w[32];
  float max_scale = 0, max_min = 0;
  for (int j = 0; j < 8; ++j) {
    const float* xs = x + 32 * j;
    float sum_x2 = 0;
    for (int l = 0; l < 32; ++l) sum_x2 += xs[l] * xs[l];
    const float av_x = std::sqrt(sum_x2 / 32);
    // weight: typical magnitude plus own magnitude, so large values (which dominate dot products) count
    // more without letting tiny ones be ignored
    for (int l = 0; l < 32; ++l) w[l] = av_x + std::fabs(xs[l]);
    sc[j] = fit_scale_min(32, kNmax, xs, w, L + 32 * j, &mn[j], rmin, 0.1f, nstep, false);
    if (sc[j] > max_scale) max_scale = sc[j];
    if (mn[j] > max_min) max_min = mn[j];
  }
  const float inv_scale = max_scale > 0 ? 63.f / max_scale : 0.f;
  const float inv_min = max_min > 0 ? 63.f / max_min : 0.f;
  uint8_t ls[8], lm[8];
  for (int j = 0; j < 8; ++j) {
    ls[j] = static_cast<uint8_t>(std::min(63, nearest_int(inv_scale * sc[j])));
    lm[j] = static_cast<uint8_t>(std::min(63, nearest_int(inv_min * mn[j])));
  }
  std::memset(scales, 0, kKScaleSize);
  pack_k4_scales(ls, lm, scales);
  d_out = f2h(max_scale / 63.f);
  dmin_out = f2h(max_min / 63.f);
  const float d_all = h2f(d_out), dmin_all = h2f(dmin_out);
  for (int j = 0; j < 8; ++j) {
    int s, m;
    k4_scale_min(scales, j, s, m);
    const float d = d_all * static_cast<float>(s);
    if (d == 0.0f) continue;  // keep the fit's levels: they decode to -dm whatever they are
    const float dm = dmin_all * static_cast<float>(m);
    for (int i = 0; i < 32; ++i)
      L[32 * j + i] = static_cast<uint8_t>(clampi(nearest_int((x[32 * j + i] + dm) / d), 0, kNmax));
  }
}

}  // namespace

// ---- Q2_K --------------------------------------------------------------------------------------------

void dequantize_q2_k(const uint8_t* src, float* y, int64_t n) {
  const auto* b = reinterpret_cast<const BlockQ2_K*>(src);
  for (int64_t ib = 0; ib < n / 256; ++ib, ++b) {
    const float d = h2f(b->d), dmin = h2f(b->dmin);
    for (int h = 0; h < 2; ++h) {
      const uint8_t* q = b->qs + 32 * h;
      for (int s = 0; s < 4; ++s) {
        const int shift = 2 * s;
        for (int half = 0; half < 2; ++half) {  // two 16-value sub-blocks per plane of a half
          const uint8_t sc = b->scales[8 * h + 2 * s + half];
          const float dl = d * static_cast<float>(sc & 15), ml = dmin * static_cast<float>(sc >> 4);
          for (int l = 16 * half; l < 16 * half + 16; ++l) *y++ = dl * static_cast<float>((q[l] >> shift) & 3) - ml;
        }
      }
    }
  }
}

void quantize_q2_k(const float* x, uint8_t* dst, int64_t n) {
  auto* b = reinterpret_cast<BlockQ2_K*>(dst);
  for (int64_t ib = 0; ib < n / 256; ++ib, ++b, x += 256) {
    uint8_t L[256];
    float sc[16], mn[16], w[16];
    float max_scale = 0, max_min = 0;
    for (int j = 0; j < 16; ++j) {
      for (int l = 0; l < 16; ++l) w[l] = std::fabs(x[16 * j + l]);
      sc[j] = fit_scale_min(16, 3, x + 16 * j, w, L + 16 * j, &mn[j], -0.5f, 0.1f, 15, true);
      if (sc[j] > max_scale) max_scale = sc[j];
      if (mn[j] > max_min) max_min = mn[j];
    }
    // 4-bit scales and mins against their maxima
    if (max_scale > 0) {
      const float iscale = 15.f / max_scale;
      for (int j = 0; j < 16; ++j) b->scales[j] = static_cast<uint8_t>(nearest_int(iscale * sc[j]));
      b->d = f2h(max_scale / 15.f);
    } else {
      std::memset(b->scales, 0, 16);
      b->d = f2h(0.f);
    }
    if (max_min > 0) {
      const float iscale = 15.f / max_min;
      for (int j = 0; j < 16; ++j) b->scales[j] |= static_cast<uint8_t>(nearest_int(iscale * mn[j]) << 4);
      b->dmin = f2h(max_min / 15.f);
    } else {
      b->dmin = f2h(0.f);
    }
    const float d_all = h2f(b->d), dmin_all = h2f(b->dmin);
    for (int j = 0; j < 16; ++j) {
      const float d = d_all * static_cast<float>(b->scales[j] & 15);
      if (d == 0.0f) continue;
      const float dm = dmin_all * static_cast<float>(b->scales[j] >> 4);
      for (int i = 0; i < 16; ++i)
        L[16 * j + i] = static_cast<uint8_t>(clampi(nearest_int((x[16 * j + i] + dm) / d), 0, 3));
    }
    pack_2bit_planes(L, b->qs);
  }
}

// ---- Q3_K --------------------------------------------------------------------------------------------

void dequantize_q3_k(const uint8_t* src, float* y, int64_t n) {
  const auto* b = reinterpret_cast<const BlockQ3_K*>(src);
  for (int64_t ib = 0; ib < n / 256; ++ib, ++b) {
    const float d_all = h2f(b->d);
    int8_t sc[16];
    q3k_scales(b->scales, sc);
    for (int h = 0; h < 2; ++h) {
      const uint8_t* q = b->qs + 32 * h;
      for (int s = 0; s < 4; ++s) {
        const int shift = 2 * s;
        const uint8_t mask = static_cast<uint8_t>(1u << (4 * h + s));
        for (int half = 0; half < 2; ++half) {
          const float dl = d_all * static_cast<float>(sc[8 * h + 2 * s + half]);
          for (int l = 16 * half; l < 16 * half + 16; ++l) {
            const int v = ((q[l] >> shift) & 3) - ((b->hmask[l] & mask) ? 0 : 4);
            *y++ = dl * static_cast<float>(v);
          }
        }
      }
    }
  }
}

void quantize_q3_k(const float* x, uint8_t* dst, int64_t n) {
  auto* b = reinterpret_cast<BlockQ3_K*>(dst);
  for (int64_t ib = 0; ib < n / 256; ++ib, ++b, x += 256) {
    int8_t L[256];
    float sc[16];
    float max_scale = 0, amax = 0;
    for (int j = 0; j < 16; ++j) {
      sc[j] = fit_scale_q3(16, 4, x + 16 * j, L + 16 * j);
      if (std::fabs(sc[j]) > amax) {
        amax = std::fabs(sc[j]);
        max_scale = sc[j];
      }
    }
    // 6-bit signed sub-scales, the largest mapped to -32 (as with the values themselves)
    std::memset(b->scales, 0, 12);
    if (max_scale != 0) {
      const float iscale = -32.f / max_scale;
      for (int j = 0; j < 16; ++j) {
        const int l = clampi(static_cast<int8_t>(nearest_int(iscale * sc[j])), -32, 31) + 32;
        if (j < 8)
          b->scales[j] = static_cast<uint8_t>(l & 15);
        else
          b->scales[j - 8] |= static_cast<uint8_t>((l & 15) << 4);
        b->scales[8 + j % 4] |= static_cast<uint8_t>((l >> 4) << (2 * (j / 4)));
      }
      b->d = f2h(1 / iscale);
    } else {
      b->d = f2h(0.f);
    }
    int8_t scs[16];
    q3k_scales(b->scales, scs);
    const float d_all = h2f(b->d);
    for (int j = 0; j < 16; ++j) {
      const float d = d_all * static_cast<float>(scs[j]);
      if (d == 0.0f) continue;
      for (int i = 0; i < 16; ++i)
        L[16 * j + i] = static_cast<int8_t>(clampi(nearest_int(x[16 * j + i] / d), -4, 3) + 4);
    }
    // bit 2 -> hmask (value v: byte v % 32, bit v / 32), low 2 bits -> planes
    uint8_t low[256];
    std::memset(b->hmask, 0, 32);
    for (int v = 0; v < 256; ++v) {
      int l = L[v];
      if (l > 3) {
        b->hmask[v % 32] |= static_cast<uint8_t>(1u << (v / 32));
        l -= 4;
      }
      low[v] = static_cast<uint8_t>(l);
    }
    pack_2bit_planes(low, b->qs);
  }
}

// ---- Q4_K / Q5_K -------------------------------------------------------------------------------------

void dequantize_q4_k(const uint8_t* src, float* y, int64_t n) {
  const auto* b = reinterpret_cast<const BlockQ4_K*>(src);
  for (int64_t ib = 0; ib < n / 256; ++ib, ++b) {
    const float d = h2f(b->d), dmin = h2f(b->dmin);
    for (int c = 0; c < 4; ++c) {
      const uint8_t* q = b->qs + 32 * c;
      int s0, m0, s1, m1;
      k4_scale_min(b->scales, 2 * c, s0, m0);
      k4_scale_min(b->scales, 2 * c + 1, s1, m1);
      const float d0 = d * static_cast<float>(s0), mm0 = dmin * static_cast<float>(m0);
      const float d1 = d * static_cast<float>(s1), mm1 = dmin * static_cast<float>(m1);
      for (int l = 0; l < 32; ++l) *y++ = d0 * static_cast<float>(q[l] & 15) - mm0;
      for (int l = 0; l < 32; ++l) *y++ = d1 * static_cast<float>(q[l] >> 4) - mm1;
    }
  }
}

void quantize_q4_k(const float* x, uint8_t* dst, int64_t n) {
  auto* b = reinterpret_cast<BlockQ4_K*>(dst);
  for (int64_t ib = 0; ib < n / 256; ++ib, ++b, x += 256) {
    uint8_t L[256];
    uint16_t d, dmin;
    quantize_k4_like<15>(x, -1.f, 20, L, d, dmin, b->scales);
    b->d = d;
    b->dmin = dmin;
    for (int c = 0; c < 4; ++c)
      for (int l = 0; l < 32; ++l) b->qs[32 * c + l] = static_cast<uint8_t>(L[64 * c + l] | L[64 * c + 32 + l] << 4);
  }
}

void dequantize_q5_k(const uint8_t* src, float* y, int64_t n) {
  const auto* b = reinterpret_cast<const BlockQ5_K*>(src);
  for (int64_t ib = 0; ib < n / 256; ++ib, ++b) {
    const float d = h2f(b->d), dmin = h2f(b->dmin);
    for (int c = 0; c < 4; ++c) {
      const uint8_t* q = b->qs + 32 * c;
      const uint8_t u0 = static_cast<uint8_t>(1u << (2 * c)), u1 = static_cast<uint8_t>(2u << (2 * c));
      int s0, m0, s1, m1;
      k4_scale_min(b->scales, 2 * c, s0, m0);
      k4_scale_min(b->scales, 2 * c + 1, s1, m1);
      const float d0 = d * static_cast<float>(s0), mm0 = dmin * static_cast<float>(m0);
      const float d1 = d * static_cast<float>(s1), mm1 = dmin * static_cast<float>(m1);
      for (int l = 0; l < 32; ++l) *y++ = d0 * static_cast<float>((q[l] & 15) + ((b->qh[l] & u0) ? 16 : 0)) - mm0;
      for (int l = 0; l < 32; ++l) *y++ = d1 * static_cast<float>((q[l] >> 4) + ((b->qh[l] & u1) ? 16 : 0)) - mm1;
    }
  }
}

void quantize_q5_k(const float* x, uint8_t* dst, int64_t n) {
  auto* b = reinterpret_cast<BlockQ5_K*>(dst);
  for (int64_t ib = 0; ib < n / 256; ++ib, ++b, x += 256) {
    uint8_t L[256];
    uint16_t d, dmin;
    quantize_k4_like<31>(x, -0.5f, 15, L, d, dmin, b->scales);
    b->d = d;
    b->dmin = dmin;
    std::memset(b->qh, 0, 32);
    for (int c = 0; c < 4; ++c) {
      for (int l = 0; l < 32; ++l) {
        const int l0 = L[64 * c + l], l1 = L[64 * c + 32 + l];
        b->qs[32 * c + l] = static_cast<uint8_t>((l0 & 15) | (l1 & 15) << 4);
        b->qh[l] |= static_cast<uint8_t>((l0 >> 4) << (2 * c) | (l1 >> 4) << (2 * c + 1));
      }
    }
  }
}

// ---- Q6_K --------------------------------------------------------------------------------------------

void dequantize_q6_k(const uint8_t* src, float* y, int64_t n) {
  const auto* b = reinterpret_cast<const BlockQ6_K*>(src);
  for (int64_t ib = 0; ib < n / 256; ++ib, ++b) {
    const float d = h2f(b->d);
    for (int h = 0; h < 2; ++h, y += 128) {
      const uint8_t* ql = b->ql + 64 * h;
      const uint8_t* qh = b->qh + 32 * h;
      const int8_t* sc = b->scales + 8 * h;
      for (int l = 0; l < 32; ++l) {
        const int is = l / 16;
        const int q0 = ((ql[l] & 15) | ((qh[l] >> 0) & 3) << 4) - 32;
        const int q1 = ((ql[l + 32] & 15) | ((qh[l] >> 2) & 3) << 4) - 32;
        const int q2 = ((ql[l] >> 4) | ((qh[l] >> 4) & 3) << 4) - 32;
        const int q3 = ((ql[l + 32] >> 4) | ((qh[l] >> 6) & 3) << 4) - 32;
        y[l] = d * static_cast<float>(sc[is]) * static_cast<float>(q0);
        y[l + 32] = d * static_cast<float>(sc[is + 2]) * static_cast<float>(q1);
        y[l + 64] = d * static_cast<float>(sc[is + 4]) * static_cast<float>(q2);
        y[l + 96] = d * static_cast<float>(sc[is + 6]) * static_cast<float>(q3);
      }
    }
  }
}

void quantize_q6_k(const float* x, uint8_t* dst, int64_t n) {
  auto* b = reinterpret_cast<BlockQ6_K*>(dst);
  for (int64_t ib = 0; ib < n / 256; ++ib, ++b, x += 256) {
    int8_t L[256];
    float sc[16];
    float max_scale = 0, max_abs_scale = 0;
    for (int j = 0; j < 16; ++j) {
      sc[j] = fit_scale_symmetric(16, 32, x + 16 * j, L + 16 * j);
      if (std::fabs(sc[j]) > max_abs_scale) {
        max_abs_scale = std::fabs(sc[j]);
        max_scale = sc[j];
      }
    }
    if (max_abs_scale < kGroupEps) {
      std::memset(b, 0, sizeof(BlockQ6_K));
      continue;
    }
    // 8-bit signed sub-scales, the largest mapped to -128
    const float iscale = -128.f / max_scale;
    b->d = f2h(1 / iscale);
    for (int j = 0; j < 16; ++j) b->scales[j] = static_cast<int8_t>(std::min(127, nearest_int(iscale * sc[j])));
    const float d_all = h2f(b->d);
    for (int j = 0; j < 16; ++j) {
      const float d = d_all * static_cast<float>(b->scales[j]);
      if (d == 0.0f) continue;
      for (int i = 0; i < 16; ++i)
        L[16 * j + i] = static_cast<int8_t>(clampi(nearest_int(x[16 * j + i] / d), -32, 31) + 32);
    }
    for (int h = 0; h < 2; ++h) {
      const int8_t* l = L + 128 * h;
      uint8_t* ql = b->ql + 64 * h;
      uint8_t* qh = b->qh + 32 * h;
      for (int i = 0; i < 32; ++i) {
        ql[i] = static_cast<uint8_t>((l[i] & 15) | (l[i + 64] & 15) << 4);
        ql[i + 32] = static_cast<uint8_t>((l[i + 32] & 15) | (l[i + 96] & 15) << 4);
        qh[i] =
            static_cast<uint8_t>((l[i] >> 4) | (l[i + 32] >> 4) << 2 | (l[i + 64] >> 4) << 4 | (l[i + 96] >> 4) << 6);
      }
    }
  }
}

// ---- Q8_K (activations) ------------------------------------------------------------------------------

void dequantize_q8_k(const uint8_t* src, float* y, int64_t n) {
  const auto* b = reinterpret_cast<const BlockQ8_K*>(src);
  for (int64_t ib = 0; ib < n / 256; ++ib, ++b, y += 256) {
    const float d = b->d;
    for (int i = 0; i < 256; ++i) y[i] = d * static_cast<float>(b->qs[i]);
  }
}

// The reference's Q8_K: the signed absmax maps to -127 (so q in [-127, 127]; the clamp at 127 guards
// rounding), round-half-even, d = 1 / iscale kept in f32, bsums over 16-value groups.
void quantize_q8_k(const float* x, uint8_t* dst, int64_t n) {
  auto* b = reinterpret_cast<BlockQ8_K*>(dst);
  for (int64_t ib = 0; ib < n / 256; ++ib, ++b, x += 256) {
    float amax;
    const float max = signed_absmax(x, 256, &amax);
    if (amax == 0.0f) {
      std::memset(b, 0, sizeof(BlockQ8_K));  // also zeroes bsums, which the reference leaves stale
      continue;
    }
    const float iscale = -127.f / max;
    for (int i = 0; i < 256; ++i) b->qs[i] = static_cast<int8_t>(std::min(127, nearest_int(iscale * x[i])));
    for (int g = 0; g < 16; ++g) {
      int sum = 0;
      for (int i = 0; i < 16; ++i) sum += b->qs[16 * g + i];
      b->bsums[g] = static_cast<int16_t>(sum);
    }
    b->d = 1 / iscale;
  }
}

// ---- IQ4_NL ------------------------------------------------------------------------------------------

namespace {

// Index of the level of kIq4nlValues nearest to t (levels are sorted): a 4-step branch-free binary search
// over the 15 midpoints (kept doubled, so they are exact integers).
inline int iq4nl_nearest(float t) {
  const float t2 = t + t;
  int idx = 0;
  for (int step = 8; step > 0; step >>= 1) {
    const int j = idx + step;
    idx = t2 >= static_cast<float>(kIq4nlValues[j - 1] + kIq4nlValues[j]) ? j : idx;
  }
  return idx;
}

}  // namespace

void dequantize_iq4_nl(const uint8_t* src, float* y, int64_t n) {
  const auto* b = reinterpret_cast<const BlockIQ4_NL*>(src);
  for (int64_t ib = 0; ib < n / 32; ++ib, ++b, y += 32) {
    const float d = h2f(b->d);
    for (int j = 0; j < 16; ++j) {
      y[j] = d * static_cast<float>(kIq4nlValues[b->qs[j] & 15]);
      y[j + 16] = d * static_cast<float>(kIq4nlValues[b->qs[j] >> 4]);
    }
  }
}

// Our own IQ4_NL search (not bit-compatible with the reference's, which is fine: any valid block decodes
// the same everywhere). Map the signed absmax onto -127 (the level of largest magnitude) scaled by 15 nearby
// factors; for each, assign nearest levels and take the least-squares scale sum(x*v) / sum(v^2); keep the
// best by squared error. Then store d in fp16 and re-pick the levels for the rounded d.
void quantize_iq4_nl(const float* x, uint8_t* dst, int64_t n) {
  auto* b = reinterpret_cast<BlockIQ4_NL*>(dst);
  for (int64_t ib = 0; ib < n / 32; ++ib, ++b, x += 32) {
    float amax;
    const float max = signed_absmax(x, 32, &amax);
    if (amax < kGroupEps) {
      b->d = 0;
      std::memset(b->qs, 0, 16);
      continue;
    }
    float best_d = max / static_cast<float>(kIq4nlValues[0]);
    double best_score = -1;  // sumxv^2 / sumv2: larger is better (error = sum x^2 - score)
    for (int itry = -7; itry <= 7; ++itry) {
      const float id = (static_cast<float>(kIq4nlValues[0]) + static_cast<float>(itry)) / max;
      double sumxv = 0, sumv2 = 0;
      for (int i = 0; i < 32; ++i) {
        const double v = kIq4nlValues[iq4nl_nearest(x[i] * id)];
        sumxv += x[i] * v;
        sumv2 += v * v;
      }
      if (sumv2 > 0 && sumxv * sumxv / sumv2 > best_score) {
        best_score = sumxv * sumxv / sumv2;
        best_d = static_cast<float>(sumxv / sumv2);
      }
    }
    b->d = f2h(best_d);
    const float d = h2f(b->d);
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    for (int j = 0; j < 16; ++j) {
      const int q0 = iq4nl_nearest(x[j] * id), q1 = iq4nl_nearest(x[j + 16] * id);
      b->qs[j] = static_cast<uint8_t>(q0 | q1 << 4);
    }
  }
}

}  // namespace ondi::quant
