// Sampler chain: logit bias -> penalties -> (greedy | top-k -> softmax at temperature -> top-p -> min-p ->
// renormalize -> draw). The draw uses ondi's own PRNG (not std:: distributions, whose output differs between
// standard libraries), so a seed gives the same tokens on every platform.
//
// Reproducibility contract: Sampler::sample runs exactly these steps, in this order.
//  1. Copy the n_vocab logits. A NaN logit becomes -inf (it is never chosen, unless every candidate is -inf).
//  2. Logit bias: each (id, b) entry adds b to logit[id], in list order; b = -inf sets logit[id] = -inf (so a
//     +inf logit cannot turn into NaN).
//  3. Penalties, over the tokens of the last `penalty_last_n` accept() calls (-1: all of them, 0: none). For
//     each distinct token t seen c > 0 times in that window, once (in float):
//       l = l > 0 ? l / repeat_penalty : l * repeat_penalty;   l = l - float(c) * frequency_penalty;
//       l = l - presence_penalty;   (a NaN result becomes -inf)
//  4. temperature <= 0: return the argmax (lowest id on ties; if every logit is -inf that is id 0). No draw.
//  5. top_k > 0 and < n_vocab: keep the k best under the total order "higher logit first, then lower id"
//     (so the result does not depend on sort stability or the standard library). The candidates are then in
//     that order; without truncation they stay in id order.
//  6. Softmax at temperature, in double: s_i = double(l_i) / double(temperature); w_i = exp_f64(s_i - max_j s_j)
//     (ondi's own exp, runtime/exp_f64.h: the same bits on every machine, within 2 ulp of e^x);
//     Z = sum of w_i in the current candidate order (step 5). Special cases: if max s is +inf, w_i = (s_i ==
//     +inf); if every s_i is -inf, w_i = 1. p_i = w_i / Z. The best candidate always has w = 1.
//  7. top_p < 1: in the order of step 5's total order, keep the shortest prefix whose cumulative probability
//     (sum of w in that order, divided by Z) is >= top_p; at least one token.
//  8. min_p > 0: drop tokens with p_i < min_p * p_max, evaluated as w_i < min_p (the same quantity without
//     the common 1/Z factor). Both keep a prefix of the sorted order (w rises with the logit, up to exp_f64's last
//     bit), so 7 and 8 commute.
//  9. Renormalize: Zk = sum of w_i over the kept tokens in sorted order (double).
// 10. Draw u = rng.next_double() (exactly one draw per sample() call when temperature > 0); walk the kept
//     tokens in sorted order accumulating w_i and return the first whose running sum exceeds u * Zk (a token
//     with w = 0 is never returned; if rounding leaves u * Zk >= the final sum, the last token with w > 0).
// The weights do not depend on the C library (libm's exp is not required to be correctly rounded, so two libraries
// could differ in the last bit of a weight) nor on the instruction set (exp_f64's SIMD path gives its scalar bits).
#pragma once

#include <cstdint>
#include <deque>
#include <utility>
#include <vector>

#include "core/status.h"

namespace ondi {

struct SamplerParams {
  float temperature = 0.8f;        // <= 0: greedy (argmax, lowest id on ties)
  int32_t top_k = 40;              // <= 0: off
  float top_p = 0.95f;             // in (0, 1]; 1: off
  float min_p = 0.05f;             // in [0, 1]; 0: off
  float repeat_penalty = 1.0f;     // > 0; 1: off (divides positive logits, multiplies negative ones)
  float frequency_penalty = 0.0f;  // subtract count * f
  float presence_penalty = 0.0f;   // subtract p if seen
  int32_t penalty_last_n = 64;     // window of recent tokens the penalties look at (-1: all, 0: off)
  uint64_t seed = 0;
  std::vector<std::pair<int32_t, float>> logit_bias;  // added to the logit; -inf bans the token
};

// Deterministic 64-bit PRNG (xoshiro256**, seeded through splitmix64).
class Rng {
 public:
  // The state is four consecutive outputs of splitmix64 started at `seed` (the authors' recommended seeding;
  // it never yields the all-zero state).
  explicit Rng(uint64_t seed = 0);
  // Exact state, for checking against the reference implementation's published outputs. Must not be all zero.
  static Rng from_state(uint64_t s0, uint64_t s1, uint64_t s2, uint64_t s3);
  // One step of splitmix64 (advances `state`, returns the output), as in prng.di.unimi.it/splitmix64.c.
  static uint64_t splitmix64(uint64_t& state);

  uint64_t next_u64();
  double next_double();  // uniform in [0, 1), 53 bits: (next_u64() >> 11) * 2^-53

 private:
  uint64_t s_[4];
};

class Sampler {
 public:
  // Errc::invalid_argument for out-of-range parameters or logit_bias ids outside [0, n_vocab).
  static Result<Sampler> create(const SamplerParams& p, int32_t n_vocab);

  // Picks a token from raw logits (n_vocab floats). Does not modify `logits`.
  int32_t sample(const float* logits);
  // Records a token (prompt or generated) for the penalties. Ids outside [0, n_vocab) are ignored. Memory is
  // bounded: the last penalty_last_n tokens, or per-token counts when penalty_last_n is -1.
  void accept(int32_t token);
  void reset();  // forget history, re-seed
  const SamplerParams& params() const { return p_; }

  // Diagnostics and tests: after sample(), the tokens that survived truncation as (probability after
  // renormalization, id), most probable first (ties: lower id first); after a greedy sample, the single (1, id).
  // Valid until the next sample() call. Sorts on first use when the draw did not need the order.
  const std::vector<std::pair<float, int32_t>>& candidates() const;

 private:
  Sampler(const SamplerParams& p, int32_t n_vocab);
  void apply_penalties();
  int32_t sample_greedy();
  int32_t sample_dist();

  SamplerParams p_;
  int32_t n_vocab_;
  Rng rng_;
  bool penalize_ = false;        // penalties active (some penalty set and penalty_last_n != 0)
  std::deque<int32_t> history_;  // last penalty_last_n accepted tokens (unused when penalty_last_n == -1)
  std::vector<int32_t> counts_;  // per-token count within the window (n_vocab entries when penalize_)
  std::vector<int32_t> seen_;    // distinct tokens with counts_ > 0, in no particular order
  // scratch: (logit, id), then (probability, id); mutable because candidates() may sort it on first use
  mutable std::vector<std::pair<float, int32_t>> cand_;
  std::vector<double> w_;     // scratch: softmax weight w of each candidate, indexed by token id (n_vocab)
  std::vector<double> ex_;    // scratch: the exponents, then e^them, in candidate order
  std::vector<double> zpre_;  // scratch: the softmax sum's running value at every kPrefix-th candidate
  static constexpr size_t kPrefix = 64;
  mutable bool cand_sorted_ = true;  // cand_ is in the chain's order (else id order: candidates() sorts it)
  // After a draw, cand_'s probabilities are w / probs_z_, filled in by candidates() (a pass of divisions over the
  // whole vocabulary that a plain generation never reads).
  mutable bool probs_pending_ = false;
  double probs_z_ = 0.0;
};

}  // namespace ondi
