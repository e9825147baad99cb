// e^x in double for the sampler's softmax weights, ondi's own so that the weights are the same bits on every machine
// and 4 lanes at a time where the CPU has AVX2 (libm's exp was ~5% of a server step of 8 sequences).
#pragma once

#include <cstdint>

namespace ondi {

// e^x for x <= 0 (0 below -708, where e^x leaves the normal range), within ~1 ulp: n = round(x / ln 2), r = x - n ln 2
// in two parts (Cody-Waite), e^r by its Taylor series to r^13 (|r| <= ln 2 / 2: the next term is below 2^-57), times
// 2^n from its bits. Separate multiplies and adds (the build does not contract), so the SIMD path gives these bits.
double exp_f64(double x);

// x[i] = exp_f64(x[i]) for i < n.
void exp_f64_n(double* x, int64_t n);

}  // namespace ondi
