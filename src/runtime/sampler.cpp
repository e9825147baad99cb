// Sampler: the exact step order is the reproducibility contract documented in sampler.h; keep the two in sync.
#include "runtime/sampler.h"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>
#include <string>

#include "runtime/exp_f64.h"

namespace ondi {

namespace {

constexpr float kNegInf = -std::numeric_limits<float>::infinity();
constexpr float kPosInf = std::numeric_limits<float>::infinity();

uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

using Cand = std::pair<float, int32_t>;

// The total order of the chain: higher logit first, then lower id. Ids are unique and NaN never gets here, so
// any correct sort / nth_element yields the same sequence whatever its stability or standard library. A
// function object (not a function pointer) so that the sorts inline it.
struct Better {
  bool operator()(const Cand& a, const Cand& b) const {
    return a.first > b.first || (a.first == b.first && a.second < b.second);
  }
};
constexpr Better better{};

// Puts the (mid - first) best of [first, last) in order at the front. For a short head, partial_sort's heap
// rejects almost every element with one predictable comparison (~3x faster than nth_element on a 152k
// vocabulary); for a long one, nth_element + sort is O(n + k log k).
void select_sorted(std::vector<Cand>::iterator first, std::vector<Cand>::iterator mid,
                   std::vector<Cand>::iterator last) {
  if (mid - first <= 512) {
    std::partial_sort(first, mid, last, better);
  } else {
    std::nth_element(first, mid, last, better);
    std::sort(first, mid, better);
  }
}

Status bad(const std::string& what) { return Status(Errc::invalid_argument, "sampler: " + what); }

}  // namespace

// --- Rng ------------------------------------------------------------------------------------------------

uint64_t Rng::splitmix64(uint64_t& state) {
  uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

Rng::Rng(uint64_t seed) {
  // splitmix64's output function is a bijection of its counter, so four consecutive outputs are distinct and
  // cannot all be zero (the one state xoshiro never leaves).
  uint64_t x = seed;
  for (uint64_t& s : s_) s = splitmix64(x);
}

Rng Rng::from_state(uint64_t s0, uint64_t s1, uint64_t s2, uint64_t s3) {
  Rng r;
  r.s_[0] = s0;
  r.s_[1] = s1;
  r.s_[2] = s2;
  r.s_[3] = s3;
  return r;
}

uint64_t Rng::next_u64() {
  // xoshiro256** 1.0 (Blackman & Vigna), step for step as the reference xoshiro256starstar.c.
  const uint64_t result = rotl(s_[1] * 5, 7) * 9;
  const uint64_t t = s_[1] << 17;
  s_[2] ^= s_[0];
  s_[3] ^= s_[1];
  s_[1] ^= s_[2];
  s_[0] ^= s_[3];
  s_[2] ^= t;
  s_[3] = rotl(s_[3], 45);
  return result;
}

double Rng::next_double() {
  // The high 53 bits (the best ones of xoshiro) scaled exactly into [0, 1): every value is a multiple of 2^-53.
  return static_cast<double>(next_u64() >> 11) * 0x1.0p-53;
}

// --- Sampler ----------------------------------------------------------------------------------------------

Result<Sampler> Sampler::create(const SamplerParams& p, int32_t n_vocab) {
  if (n_vocab <= 0) return bad("n_vocab must be positive, got " + std::to_string(n_vocab));
  if (!std::isfinite(p.temperature)) return bad("temperature must be finite");
  // Written as !(in range) so that NaN fails too.
  if (!(p.top_p > 0.0f && p.top_p <= 1.0f)) return bad("top_p must be in (0, 1], got " + std::to_string(p.top_p));
  if (!(p.min_p >= 0.0f && p.min_p <= 1.0f)) return bad("min_p must be in [0, 1], got " + std::to_string(p.min_p));
  if (!std::isfinite(p.repeat_penalty) || !(p.repeat_penalty > 0.0f)) {
    return bad("repeat_penalty must be finite and > 0, got " + std::to_string(p.repeat_penalty));
  }
  if (!std::isfinite(p.frequency_penalty)) return bad("frequency_penalty must be finite");
  if (!std::isfinite(p.presence_penalty)) return bad("presence_penalty must be finite");
  if (p.penalty_last_n < -1) {
    return bad("penalty_last_n must be >= -1, got " + std::to_string(p.penalty_last_n));
  }
  for (const auto& [id, b] : p.logit_bias) {
    if (id < 0 || id >= n_vocab) {
      return bad("logit_bias id " + std::to_string(id) + " outside [0, " + std::to_string(n_vocab) + ")");
    }
    // +inf would make the token certain and turn other +inf arithmetic into NaN; -inf is the documented ban.
    if (std::isnan(b) || b == kPosInf)
      return bad("logit_bias value for id " + std::to_string(id) + " must be finite or -inf");
  }
  return Sampler(p, n_vocab);
}

Sampler::Sampler(const SamplerParams& p, int32_t n_vocab) : p_(p), n_vocab_(n_vocab), rng_(p.seed) {
  penalize_ = p_.penalty_last_n != 0 &&
              (p_.repeat_penalty != 1.0f || p_.frequency_penalty != 0.0f || p_.presence_penalty != 0.0f);
  if (penalize_) {
    counts_.assign(static_cast<size_t>(n_vocab), 0);
    const size_t window = p_.penalty_last_n > 0 ? static_cast<size_t>(p_.penalty_last_n) : 0;
    seen_.reserve(std::min(window > 0 ? window : 256, static_cast<size_t>(n_vocab)));
  }
  // All per-call scratch is sized here: sample() only resizes within this capacity, so it never allocates.
  cand_.reserve(static_cast<size_t>(n_vocab));
  w_.assign(static_cast<size_t>(n_vocab), 0.0);
  ex_.reserve(static_cast<size_t>(n_vocab));
}

void Sampler::accept(int32_t token) {
  // Nothing to remember when no penalty reads the history; ignoring bad ids keeps counts_ indexing safe.
  if (!penalize_ || token < 0 || token >= n_vocab_) return;
  if (counts_[static_cast<size_t>(token)]++ == 0) seen_.push_back(token);
  if (p_.penalty_last_n < 0) return;  // -1: the whole past counts, counts_ alone is the bounded summary
  history_.push_back(token);
  if (history_.size() > static_cast<size_t>(p_.penalty_last_n)) {
    const int32_t old = history_.front();
    history_.pop_front();
    if (--counts_[static_cast<size_t>(old)] == 0) {
      // seen_ holds at most penalty_last_n ids, so the linear search is cheap; its order does not matter
      // because each token's penalty depends only on its own count.
      auto it = std::find(seen_.begin(), seen_.end(), old);
      *it = seen_.back();
      seen_.pop_back();
    }
  }
}

void Sampler::reset() {
  history_.clear();
  for (int32_t t : seen_) counts_[static_cast<size_t>(t)] = 0;
  seen_.clear();
  rng_ = Rng(p_.seed);
}

void Sampler::apply_penalties() {
  if (!penalize_) return;
  const float rp = p_.repeat_penalty;
  const float fp = p_.frequency_penalty;
  const float pp = p_.presence_penalty;
  // cand_ is still in id order here, so cand_[t] is token t. seen_ lists each distinct token once, which is
  // what makes the repetition penalty apply once per token rather than once per occurrence.
  for (int32_t t : seen_) {
    const int32_t c = counts_[static_cast<size_t>(t)];
    float l = cand_[static_cast<size_t>(t)].first;
    if (rp != 1.0f) l = l > 0.0f ? l / rp : l * rp;
    l = l - static_cast<float>(c) * fp;
    l = l - pp;
    // Only inf - inf (an infinite logit with an overflowing count * f) can produce NaN; keep it never-chosen.
    if (std::isnan(l)) l = kNegInf;
    cand_[static_cast<size_t>(t)].first = l;
  }
}

int32_t Sampler::sample(const float* logits) {
  const size_t n = static_cast<size_t>(n_vocab_);
  probs_pending_ = false;
  cand_.resize(n);  // within the reserved capacity
  for (size_t i = 0; i < n; ++i) {
    const float v = logits[i];
    cand_[i] = {std::isnan(v) ? kNegInf : v, static_cast<int32_t>(i)};
  }
  for (const auto& [id, b] : p_.logit_bias) {
    float& l = cand_[static_cast<size_t>(id)].first;
    // Assign rather than add for a ban: +inf + -inf would be NaN.
    l = b == kNegInf ? kNegInf : l + b;
  }
  apply_penalties();
  return p_.temperature <= 0.0f ? sample_greedy() : sample_dist();
}

const std::vector<std::pair<float, int32_t>>& Sampler::candidates() const {
  if (probs_pending_) {
    for (auto& c : cand_) c.first = static_cast<float>(w_[static_cast<size_t>(c.second)] / probs_z_);
    probs_pending_ = false;
  }
  if (!cand_sorted_) {
    // The draw's weights (double, monotone in the logits) give the chain's order; float probabilities could tie.
    std::sort(cand_.begin(), cand_.end(), [this](const Cand& a, const Cand& b) {
      const double wa = w_[static_cast<size_t>(a.second)], wb = w_[static_cast<size_t>(b.second)];
      return wa > wb || (wa == wb && a.second < b.second);
    });
    cand_sorted_ = true;
  }
  return cand_;
}

int32_t Sampler::sample_greedy() {
  // Strict > keeps the first (lowest id) of equal maxima; all -inf leaves id 0.
  size_t best = 0;
  for (size_t i = 1; i < cand_.size(); ++i) {
    if (cand_[i].first > cand_[best].first) best = i;
  }
  const int32_t id = cand_[best].second;
  cand_sorted_ = true;
  probs_pending_ = false;
  cand_.resize(1);
  cand_[0] = {1.0f, id};
  return id;
}

int32_t Sampler::sample_dist() {
  auto b = cand_.begin();
  size_t m = cand_.size();
  // Invariant: cand_[0, sorted) is in `better` order and better than every element of cand_[sorted, m).
  size_t sorted = 0;

  // Top-k: select and sort only the k survivors instead of a full O(n log n) sort.
  if (p_.top_k > 0 && static_cast<size_t>(p_.top_k) < m) {
    const size_t k = static_cast<size_t>(p_.top_k);
    select_sorted(b, b + static_cast<ptrdiff_t>(k), b + static_cast<ptrdiff_t>(m));
    m = k;
    cand_.resize(m);
    sorted = m;
  }

  // Softmax at temperature. s is monotone in the logit, so max s is s of the max logit.
  const double temp = static_cast<double>(p_.temperature);
  // Four running maxima (one chain waited on each compare); any order gives the same maximum, up to the sign of
  // a zero, which changes no weight below (s - (+0) and s - (-0) are equal but for s = -0, and exp(-0) = exp(+0)).
  float mx4[4] = {kNegInf, kNegInf, kNegInf, kNegInf};
  size_t i4 = 0;
  for (; i4 + 4 <= m; i4 += 4)
    for (size_t k = 0; k < 4; ++k) mx4[k] = std::max(mx4[k], cand_[i4 + k].first);
  for (; i4 < m; ++i4) mx4[0] = std::max(mx4[0], cand_[i4].first);
  const float lmax = std::max(std::max(mx4[0], mx4[1]), std::max(mx4[2], mx4[3]));
  const double smax = static_cast<double>(lmax) / temp;
  enum class Mode { normal, pos_inf, all_neg_inf };
  const Mode mode = smax == std::numeric_limits<double>::infinity()    ? Mode::pos_inf
                    : smax == -std::numeric_limits<double>::infinity() ? Mode::all_neg_inf
                                                                       : Mode::normal;
  // Z in the current order: sorted after a truncating top-k, id order otherwise; both are canonical.
  // Each weight is computed once (exp dominates the cost without top-k) and kept in w_, indexed by token id so
  // that it follows its token through the partitions and sorts below.
  double z = 0.0;
  if (mode == Mode::normal) {
    // e^(s - smax) by ondi's own exponential, 4 at a time (runtime/exp_f64.h): with libm's exp this pass was ~5% of
    // a server step of 8 sequences. The same weights on every machine.
    ex_.resize(m);
    if (temp == 1.0)  // s / 1 is s: the same exponents without a division each (the API's default temperature)
      for (size_t i = 0; i < m; ++i) ex_[i] = static_cast<double>(cand_[i].first) - smax;
    else
      for (size_t i = 0; i < m; ++i) ex_[i] = static_cast<double>(cand_[i].first) / temp - smax;
    exp_f64_n(ex_.data(), static_cast<int64_t>(m));
    // The running sum at every kPrefix-th candidate, for the draw below.
    zpre_.resize(m / kPrefix + 1);
    for (size_t i = 0; i < m; ++i) {
      if (i % kPrefix == 0) zpre_[i / kPrefix] = z;
      w_[static_cast<size_t>(cand_[i].second)] = ex_[i];
      z += ex_[i];
    }
  } else {
    zpre_.clear();
    // max s = +inf: the +inf candidates share the draw; all -inf (everything banned): still return some valid
    // token, uniformly among the candidates.
    for (size_t i = 0; i < m; ++i) {
      const double w = mode == Mode::all_neg_inf ||
                               static_cast<double>(cand_[i].first) / temp == std::numeric_limits<double>::infinity()
                           ? 1.0
                           : 0.0;
      w_[static_cast<size_t>(cand_[i].second)] = w;
      z += w;
    }
  }
  auto w_of = [&](const Cand& c) { return w_[static_cast<size_t>(c.second)]; };
  // z is the sum over cand_[0, m) in the current order: the renormalization below reuses it while the filters
  // neither drop nor reorder candidates (the same additions in the same order).
  const size_t m_z = m;
  bool reordered = false;

  // Min-p before top-p: both keep a prefix of the sorted order, so the result is the same as the documented
  // order, and min-p is a linear filter that shrinks what top-p has to sort. remove_if is stable, so a sorted
  // range stays sorted; the best candidate (w = 1 >= min_p) always survives.
  if (p_.min_p > 0.0f) {
    const double min_p = static_cast<double>(p_.min_p);
    auto end = std::remove_if(b, b + static_cast<ptrdiff_t>(m), [&](const Cand& c) { return w_of(c) < min_p; });
    const bool was_sorted = sorted == m;
    m = static_cast<size_t>(end - b);
    sorted = was_sorted ? m : 0;
  }

  // Top-p: sort only as much of the list as the cumulative sum needs, growing the sorted prefix geometrically
  // (select and sort the next chunk) so a cut near the top never sorts the whole vocabulary.
  if (p_.top_p < 1.0f) {
    const double top_p = static_cast<double>(p_.top_p);
    double cum = 0.0;
    size_t keep = m;
    for (size_t i = 0; i < m; ++i) {
      if (i == sorted) {
        const size_t end = std::min(m, std::max<size_t>(sorted * 4, 256));
        select_sorted(b + static_cast<ptrdiff_t>(sorted), b + static_cast<ptrdiff_t>(end),
                      b + static_cast<ptrdiff_t>(m));
        sorted = end;
        reordered = true;
      }
      cum += w_of(cand_[i]);
      if (cum / z >= top_p) {
        keep = i + 1;
        break;
      }
    }
    m = keep;
  }
  // Nothing truncated by rank (no top-k, top-p, or a top-p whose cut the rounding never reached): the draw walks
  // the survivors in id order instead of sorting the whole vocabulary (a full sort of 128k candidates was a
  // quarter of a batched server step). Any fixed order draws from the same distribution; this one is canonical too.
  cand_sorted_ = sorted >= m;
  if (sorted > 0 && sorted < m) {
    std::sort(b + static_cast<ptrdiff_t>(sorted), b + static_cast<ptrdiff_t>(m), better);
    cand_sorted_ = true;
    reordered = true;
  }
  cand_.resize(m);

  // Renormalize over the kept tokens and draw, both walking the order above.
  const bool z_order = m == m_z && !reordered;  // the candidates are still those z summed, in its order
  double zk = 0.0;
  if (z_order)
    zk = z;
  else
    for (size_t i = 0; i < m; ++i) zk += w_of(cand_[i]);
  const double target = rng_.next_double() * zk;
  size_t pick = m;
  // The first candidate whose running sum exceeds the target. While the order is z's, the running sums at the
  // block starts are z's own (the same additions), so the walk starts at the block where the sum passes the target
  // (the sums never decrease: every weight is >= 0) and gives the bits of a walk from the first candidate.
  size_t from = 0;
  double cum = 0.0;
  if (z_order && !zpre_.empty()) {
    const size_t nb = (m + kPrefix - 1) / kPrefix;
    size_t blk = 0;
    while (blk < nb && !(target < (blk + 1 < nb ? zpre_[blk + 1] : z))) ++blk;
    from = blk < nb ? blk * kPrefix : m;
    cum = blk < nb ? zpre_[blk] : z;
  }
  for (size_t i = from; i < m; ++i) {
    cum += w_of(cand_[i]);
    if (target < cum) {
      pick = i;
      break;
    }
  }
  if (pick == m) {
    // u * zk rounded up to the full sum: take the last token that has any mass (cand_[0] has w = 1).
    pick = m - 1;
    while (pick > 0 && w_of(cand_[pick]) == 0.0) --pick;
  }
  probs_z_ = zk;
  probs_pending_ = true;
  return cand_[pick].second;
}

}  // namespace ondi
