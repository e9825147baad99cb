// Sampler and Rng tests. Expected values come from published reference outputs (splitmix64, xoshiro256**),
// from hand derivations written next to them, or from an independent evaluation of the definitions in
// sampler.h (softmax / sort / prefix computed here in plain double code) - never from the sampler's own output.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <map>
#include <numeric>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "runtime/exp_f64.h"
#include "runtime/sampler.h"

namespace ondi {
namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();
constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

// Temperature 1 and no truncation: the draw follows the plain softmax.
SamplerParams untruncated(float temperature = 1.0f) {
  SamplerParams p;
  p.temperature = temperature;
  p.top_k = 0;
  p.top_p = 1.0f;
  p.min_p = 0.0f;
  return p;
}

Sampler make(const SamplerParams& p, int32_t n_vocab) {
  auto r = Sampler::create(p, n_vocab);
  if (!r.ok()) {
    ADD_FAILURE() << r.status().message();
    std::abort();  // the caller cannot continue without a sampler
  }
  return std::move(r).value();
}

// Reference softmax in double (independent of the sampler's code path): p_i = exp(l_i/T) / sum_j exp(l_j/T).
std::vector<double> softmax(const std::vector<float>& logits, double temperature = 1.0) {
  double mx = -std::numeric_limits<double>::infinity();
  for (float l : logits) mx = std::max(mx, l / temperature);
  std::vector<double> p(logits.size());
  double z = 0;
  for (size_t i = 0; i < logits.size(); ++i) z += (p[i] = std::exp(logits[i] / temperature - mx));
  for (double& x : p) x /= z;
  return p;
}

// Ids by descending logit, ties to the lower id: a full sort, the obvious definition.
std::vector<int32_t> ranked(const std::vector<float>& logits) {
  std::vector<int32_t> ids(logits.size());
  std::iota(ids.begin(), ids.end(), 0);
  std::stable_sort(ids.begin(), ids.end(), [&](int32_t a, int32_t b) { return logits[a] > logits[b]; });
  return ids;
}

std::vector<int32_t> cand_ids(const Sampler& s) {
  std::vector<int32_t> ids;
  for (const auto& c : s.candidates()) ids.push_back(c.second);
  return ids;
}

// Random logits from a generator unrelated to the draw being tested (its own seed).
std::vector<float> random_logits(size_t n, uint64_t seed, double scale) {
  Rng r(seed);
  std::vector<float> l(n);
  for (float& x : l) x = static_cast<float>((r.next_double() * 2.0 - 1.0) * scale);
  return l;
}

// --- Rng --------------------------------------------------------------------------------------------------

TEST(Rng, SplitMix64MatchesPublishedOutputs) {
  // Rosetta Code "Pseudo-random numbers/Splitmix64": first five outputs for seed 1234567.
  uint64_t state = 1234567;
  EXPECT_EQ(Rng::splitmix64(state), 6457827717110365317ULL);
  EXPECT_EQ(Rng::splitmix64(state), 3203168211198807973ULL);
  EXPECT_EQ(Rng::splitmix64(state), 9817491932198370423ULL);
  EXPECT_EQ(Rng::splitmix64(state), 4593380528125082431ULL);
  EXPECT_EQ(Rng::splitmix64(state), 16408922859458223821ULL);
}

TEST(Rng, Xoshiro256StarStarMatchesReferenceOutputs) {
  // Outputs of the reference xoshiro256starstar.c (prng.di.unimi.it) from state {1, 2, 3, 4}, as used by
  // independent ports' test suites (e.g. a C++ port's and Rust rand_xoshiro's).
  const uint64_t expected[] = {11520ULL,
                               0ULL,
                               1509978240ULL,
                               1215971899390074240ULL,
                               1216172134540287360ULL,
                               607988272756665600ULL,
                               16172922978634559625ULL,
                               8476171486693032832ULL,
                               10595114339597558777ULL,
                               2904607092377533576ULL};
  Rng r = Rng::from_state(1, 2, 3, 4);
  for (uint64_t e : expected) EXPECT_EQ(r.next_u64(), e);
}

TEST(Rng, SeedingIsFourSplitMix64Outputs) {
  for (uint64_t seed : {0ULL, 42ULL, ~0ULL}) {
    uint64_t x = seed;
    const uint64_t s0 = Rng::splitmix64(x), s1 = Rng::splitmix64(x), s2 = Rng::splitmix64(x), s3 = Rng::splitmix64(x);
    Rng a(seed);
    Rng b = Rng::from_state(s0, s1, s2, s3);
    for (int i = 0; i < 100; ++i) ASSERT_EQ(a.next_u64(), b.next_u64()) << "seed " << seed << " step " << i;
  }
}

TEST(Rng, NextDoubleIsTop53BitsScaled) {
  // From the published outputs above: 11520 >> 11 = 5, 0 >> 11 = 0, 1509978240 >> 11 = 737294.
  Rng r = Rng::from_state(1, 2, 3, 4);
  EXPECT_EQ(r.next_double(), 5.0 * std::ldexp(1.0, -53));
  EXPECT_EQ(r.next_double(), 0.0);
  EXPECT_EQ(r.next_double(), 737294.0 * std::ldexp(1.0, -53));
}

TEST(Rng, NextDoubleStatistics) {
  Rng r(12345);
  const int n = 1000000;
  double sum = 0;
  uint64_t all_or = 0, all_and = ~0ULL;
  for (int i = 0; i < n; ++i) {
    const double u = r.next_double();
    ASSERT_GE(u, 0.0);
    ASSERT_LT(u, 1.0);
    sum += u;
    const uint64_t bits = static_cast<uint64_t>(std::ldexp(u, 53));  // exact: u is a multiple of 2^-53
    all_or |= bits;
    all_and &= bits;
  }
  // Uniform [0,1): mean 1/2, sd of the mean sqrt(1/12/n) = 2.9e-4; 5 sd = 1.45e-3.
  EXPECT_NEAR(sum / n, 0.5, 1.45e-3);
  // Every one of the 53 bits is sometimes 1 and sometimes 0.
  EXPECT_EQ(all_or, (1ULL << 53) - 1);
  EXPECT_EQ(all_and, 0ULL);
}

// --- validation -----------------------------------------------------------------------------------------

// --- the weights' exponential ----------------------------------------------------------------------------

int64_t ordered_bits(double x) {
  int64_t b;
  std::memcpy(&b, &x, sizeof b);
  return b;
}

// Against libm's exp over the sampler's domain [-708, 0]: the Taylor series to r^13 leaves a truncation error
// under 2^-57 and Horner's rounding a few half-ulps, so 2 ulp bounds it.
TEST(ExpF64, WithinTwoUlpOfLibm) {
  std::mt19937_64 rng(5);
  std::uniform_real_distribution<double> wide(-708.0, 0.0), narrow(-1.0, 0.0);
  int64_t worst = 0;
  for (int i = 0; i < 400000; ++i) {
    const double x = i % 2 ? wide(rng) : narrow(rng);
    const int64_t d = std::llabs(ordered_bits(exp_f64(x)) - ordered_bits(std::exp(x)));
    worst = std::max(worst, d);
    ASSERT_LE(d, 2) << "x = " << x;
  }
  EXPECT_EQ(exp_f64(0.0), 1.0);
  EXPECT_EQ(exp_f64(-709.0), 0.0);
  EXPECT_EQ(exp_f64(-std::numeric_limits<double>::infinity()), 0.0);
  EXPECT_EQ(exp_f64(std::numeric_limits<double>::quiet_NaN()), 0.0);
  RecordProperty("worst_ulp", static_cast<int>(worst));
}

// The bulk version (4 lanes where the CPU has AVX2) gives the scalar function's bits at every length and offset.
TEST(ExpF64, BulkEqualsScalarBitwise) {
  std::mt19937_64 rng(6);
  std::uniform_real_distribution<double> u(-720.0, 0.0);
  for (int64_t n : {1, 3, 4, 5, 17, 1000}) {
    for (int off = 0; off < 2; ++off) {
      std::vector<double> x(static_cast<size_t>(n + off));
      for (auto& v : x) v = u(rng);
      x[static_cast<size_t>(off)] = -0.0;
      std::vector<double> y = x;
      exp_f64_n(y.data() + off, n);
      for (int64_t i = 0; i < n; ++i) {
        const double want = exp_f64(x[static_cast<size_t>(i + off)]);
        ASSERT_EQ(ordered_bits(y[static_cast<size_t>(i + off)]), ordered_bits(want)) << "n " << n << " i " << i;
      }
    }
  }
}

TEST(Sampler, InvalidParamsAreRejectedNamingTheField) {
  struct Case {
    const char* field;
    void (*edit)(SamplerParams&);
  };
  const Case cases[] = {
      {"temperature", [](SamplerParams& p) { p.temperature = kNaN; }},
      {"temperature", [](SamplerParams& p) { p.temperature = kInf; }},
      {"top_p", [](SamplerParams& p) { p.top_p = 0.0f; }},
      {"top_p", [](SamplerParams& p) { p.top_p = 1.5f; }},
      {"top_p", [](SamplerParams& p) { p.top_p = kNaN; }},
      {"min_p", [](SamplerParams& p) { p.min_p = -0.1f; }},
      {"min_p", [](SamplerParams& p) { p.min_p = 1.01f; }},
      {"min_p", [](SamplerParams& p) { p.min_p = kNaN; }},
      {"repeat_penalty", [](SamplerParams& p) { p.repeat_penalty = 0.0f; }},
      {"repeat_penalty", [](SamplerParams& p) { p.repeat_penalty = -1.0f; }},
      {"repeat_penalty", [](SamplerParams& p) { p.repeat_penalty = kInf; }},
      {"frequency_penalty", [](SamplerParams& p) { p.frequency_penalty = kNaN; }},
      {"presence_penalty", [](SamplerParams& p) { p.presence_penalty = -kInf; }},
      {"penalty_last_n", [](SamplerParams& p) { p.penalty_last_n = -2; }},
      {"logit_bias",
       [](SamplerParams& p) {
         p.logit_bias = {{10, 1.0f}};
       }},
      {"logit_bias",
       [](SamplerParams& p) {
         p.logit_bias = {{-1, 1.0f}};
       }},
      {"logit_bias",
       [](SamplerParams& p) {
         p.logit_bias = {{3, kNaN}};
       }},
      {"logit_bias",
       [](SamplerParams& p) {
         p.logit_bias = {{3, kInf}};
       }},
  };
  for (const Case& c : cases) {
    SamplerParams p;
    c.edit(p);
    auto r = Sampler::create(p, 10);
    ASSERT_FALSE(r.ok()) << c.field;
    EXPECT_EQ(r.status().code(), Errc::invalid_argument) << c.field;
    EXPECT_NE(r.status().message().find(c.field), std::string::npos) << r.status().message();
  }
  EXPECT_FALSE(Sampler::create(SamplerParams{}, 0).ok());
  // The edges of the valid ranges are accepted.
  SamplerParams edge;
  edge.top_p = 1.0f;
  edge.min_p = 1.0f;
  edge.penalty_last_n = -1;
  edge.temperature = -3.0f;
  edge.logit_bias = {{0, -kInf}, {9, -5.0f}};
  EXPECT_TRUE(Sampler::create(edge, 10).ok());
}

// --- greedy, bias, non-finite logits -----------------------------------------------------------------------

TEST(Sampler, GreedyIsArgmaxWithTiesToLowestId) {
  Sampler s = make(untruncated(0.0f), 5);
  const float l[] = {0.1f, 2.5f, -1.0f, 2.5f, 2.4f};  // max 2.5 at ids 1 and 3 -> 1
  EXPECT_EQ(s.sample(l), 1);
  const float neg[] = {-kInf, -kInf, -kInf, -kInf, -kInf};  // nothing allowed: still a valid id (the lowest)
  EXPECT_EQ(s.sample(neg), 0);
  const float nan[] = {kNaN, -3.0f, kNaN, -4.0f, kNaN};  // NaN counts as -inf, so -3 at id 1 wins
  EXPECT_EQ(s.sample(nan), 1);
  const float all_nan[] = {kNaN, kNaN, kNaN, kNaN, kNaN};
  const int32_t t = s.sample(all_nan);
  EXPECT_TRUE(t >= 0 && t < 5);
  // A negative temperature is greedy too.
  Sampler neg_t = make(untruncated(-1.0f), 5);
  EXPECT_EQ(neg_t.sample(l), 1);
}

TEST(Sampler, LogitBiasBansAndForces) {
  const float l[] = {5.0f, 1.0f, 0.0f, kInf};
  SamplerParams p = untruncated(0.0f);
  p.logit_bias = {{0, -kInf}, {3, -kInf}};  // bans the two best (one of them +inf: must not become NaN)
  Sampler g = make(p, 4);
  EXPECT_EQ(g.sample(l), 1);

  p.temperature = 1.0f;
  Sampler d = make(p, 4);
  for (int i = 0; i < 5000; ++i) {
    const int32_t t = d.sample(l);
    ASSERT_TRUE(t == 1 || t == 2) << t;
  }

  // A huge bias forces token 2: every other weight is exp(-1e4 + O(1)), which is 0 in double.
  const float finite[] = {5.0f, 1.0f, 0.0f, 3.0f};
  SamplerParams f = untruncated(1.0f);
  f.logit_bias = {{2, 1.0e4f}};
  Sampler forced = make(f, 4);
  for (int i = 0; i < 5000; ++i) ASSERT_EQ(forced.sample(finite), 2);
  f.temperature = 0.0f;
  Sampler forced_g = make(f, 4);
  EXPECT_EQ(forced_g.sample(finite), 2);
}

TEST(Sampler, NonFiniteLogitsInSamplingMode) {
  Sampler s = make(untruncated(1.0f), 4);
  const float nan[] = {kNaN, 0.0f, kNaN, 0.0f};
  std::set<int32_t> seen;
  for (int i = 0; i < 2000; ++i) seen.insert(s.sample(nan));
  EXPECT_EQ(seen, (std::set<int32_t>{1, 3}));  // NaN never chosen; both equal tokens appear

  const float pinf[] = {kInf, 0.0f, kInf, 100.0f};  // the +inf tokens share all the mass
  seen.clear();
  for (int i = 0; i < 2000; ++i) seen.insert(s.sample(pinf));
  EXPECT_EQ(seen, (std::set<int32_t>{0, 2}));

  const float neg[] = {-kInf, -kInf, -kInf, -kInf};
  for (int i = 0; i < 100; ++i) {
    const int32_t t = s.sample(neg);
    ASSERT_TRUE(t >= 0 && t < 4);
  }
}

// --- reproducibility ----------------------------------------------------------------------------------------

std::vector<int32_t> draws(Sampler& s, const std::vector<float>& l, int n) {
  std::vector<int32_t> out;
  for (int i = 0; i < n; ++i) out.push_back(s.sample(l.data()));
  return out;
}

TEST(Sampler, SeedDeterminesTheSequence) {
  const std::vector<float> l = random_logits(50, 7, 1.0);
  SamplerParams p = untruncated(1.0f);
  p.seed = 99;
  Sampler a = make(p, 50), b = make(p, 50);
  const auto da = draws(a, l, 1000);
  EXPECT_EQ(da, draws(b, l, 1000));

  p.seed = 100;
  Sampler c = make(p, 50);
  const auto dc = draws(c, l, 1000);
  // 50 near-uniform tokens: two independent sequences agree at ~1/50 of positions; never at most of them.
  int same = 0;
  for (size_t i = 0; i < da.size(); ++i) same += da[i] == dc[i];
  EXPECT_LT(same, 200);

  // reset() re-seeds: the same sequence again.
  a.reset();
  EXPECT_EQ(draws(a, l, 1000), da);
}

// Without truncation the draw is the documented walk (sampler.h): weights e^(s - max s) by ondi's exp, their sum
// in id order, target = u * sum, the first token whose running sum exceeds the target. Written out here plainly and
// compared draw by draw, over a vocabulary of many 64-token blocks plus a remainder (the sampler starts its walk at
// a block whose start it recorded while summing), with dominant tokens spread over it.
TEST(Sampler, DrawIsTheDocumentedWalk) {
  const int32_t n = 64 * 70 + 37;
  std::vector<float> l = random_logits(n, 11, 2.0);
  for (int32_t i = 5; i < n; i += 613) l[static_cast<size_t>(i)] += 6.0f;
  for (float temp : {1.0f, 0.7f}) {
    SamplerParams p = untruncated(temp);
    p.seed = 1234;
    Sampler s = make(p, n);
    const double t = static_cast<double>(temp);
    const double smax = static_cast<double>(*std::max_element(l.begin(), l.end())) / t;
    std::vector<double> w(static_cast<size_t>(n));
    double z = 0.0;
    for (size_t i = 0; i < w.size(); ++i) {
      w[i] = exp_f64(static_cast<double>(l[i]) / t - smax);
      z += w[i];
    }
    Rng rng(p.seed);
    for (int d = 0; d < 500; ++d) {
      const double target = rng.next_double() * z;
      size_t want = w.size() - 1;
      double cum = 0.0;
      for (size_t i = 0; i < w.size(); ++i) {
        cum += w[i];
        if (target < cum) {
          want = i;
          break;
        }
      }
      ASSERT_EQ(s.sample(l.data()), static_cast<int32_t>(want)) << "temperature " << temp << ", draw " << d;
    }
  }
}

TEST(Sampler, ResetForgetsPenaltyHistory) {
  const std::vector<float> l = {1.0f, 2.0f, 0.5f};
  SamplerParams p = untruncated(0.0f);
  p.repeat_penalty = 10.0f;
  Sampler s = make(p, 3);
  s.accept(1);
  EXPECT_EQ(s.sample(l.data()), 0);  // 2/10 < 1
  s.reset();
  EXPECT_EQ(s.sample(l.data()), 1);
}

// --- the distribution -----------------------------------------------------------------------------------------

// Pearson chi-square of `n` draws against probabilities `p` (all cells have expected counts in the thousands).
double chi_square(Sampler& s, const std::vector<float>& l, const std::vector<double>& p, int n) {
  std::vector<int> count(l.size(), 0);
  for (int i = 0; i < n; ++i) ++count[static_cast<size_t>(s.sample(l.data()))];
  double x2 = 0;
  for (size_t i = 0; i < p.size(); ++i) {
    const double e = p[i] * n;
    x2 += (count[i] - e) * (count[i] - e) / e;
  }
  return x2;
}

TEST(Sampler, EmpiricalDistributionMatchesSoftmax) {
  // 6 tokens, smallest probability ~0.8%, so 200k draws give >= 1500 expected per cell.
  const std::vector<float> l = {1.0f, 0.0f, -0.5f, 2.0f, 0.3f, -2.0f};
  // Chi-square with 5 degrees of freedom: P(X2 > 35.89) = 1e-6, so a correct sampler fails this bound with
  // probability 1e-6 per seed; a wrong distribution (e.g. a shifted or unnormalized walk) exceeds it by far.
  const double bound = 35.89;
  for (float temp : {1.0f, 0.7f}) {
    SamplerParams p = untruncated(temp);
    p.seed = 2024;
    Sampler s = make(p, 6);
    const std::vector<double> ref = softmax(l, temp);
    EXPECT_LT(chi_square(s, l, ref, 200000), bound) << "temperature " << temp;
    // The reported candidates are the softmax itself (float precision), sorted by descending probability.
    ASSERT_EQ(s.candidates().size(), 6u);
    EXPECT_EQ(cand_ids(s), ranked(l));
    for (const auto& [prob, id] : s.candidates()) EXPECT_NEAR(prob, ref[static_cast<size_t>(id)], 1e-6);
  }
}

TEST(Sampler, TopK1EqualsGreedy) {
  SamplerParams pk = untruncated(1.0f);
  pk.top_k = 1;
  Sampler k1 = make(pk, 1000);
  Sampler g = make(untruncated(0.0f), 1000);
  for (uint64_t trial = 0; trial < 200; ++trial) {
    std::vector<float> l = random_logits(1000, trial, 5.0);
    for (float& x : l) x = std::round(x);  // many exact ties, to exercise the lowest-id rule
    ASSERT_EQ(k1.sample(l.data()), g.sample(l.data())) << "trial " << trial;
  }
}

TEST(Sampler, TopKKeepsTheKBestWithTiesToLowerId) {
  const std::vector<float> l = {1.0f, 3.0f, 3.0f, 2.0f, 3.0f, 0.0f};
  SamplerParams p = untruncated(1.0f);
  p.top_k = 2;  // three tokens share 3.0 (ids 1, 2, 4): the lower ids 1 and 2 win
  Sampler s = make(p, 6);
  s.sample(l.data());
  EXPECT_EQ(cand_ids(s), (std::vector<int32_t>{1, 2}));
  for (const auto& c : s.candidates()) EXPECT_FLOAT_EQ(c.first, 0.5f);  // equal logits: half each

  p.top_k = 4;
  Sampler s4 = make(p, 6);
  s4.sample(l.data());
  EXPECT_EQ(cand_ids(s4), (std::vector<int32_t>{1, 2, 4, 3}));
}

TEST(Sampler, TopKOnALargeVocabularyMatchesFullSort) {
  const size_t n = 152064;
  std::vector<float> l = random_logits(n, 5, 10.0);
  // ~1570 exact ties at 9.997, just below the ~23 values above it in (9.997, 10]: the cut at 40 falls inside
  // the tie block, which the lower ids must win.
  for (size_t i = 0; i < n; i += 97) l[i] = 9.997f;
  SamplerParams p = untruncated(0.8f);
  p.top_k = 40;
  Sampler s = make(p, static_cast<int32_t>(n));
  s.sample(l.data());
  const std::vector<int32_t> all = ranked(l);
  EXPECT_EQ(cand_ids(s), std::vector<int32_t>(all.begin(), all.begin() + 40));
  // Probabilities: the softmax of those 40 logits at temperature 0.8.
  std::vector<float> top;
  for (int i = 0; i < 40; ++i) top.push_back(l[static_cast<size_t>(all[static_cast<size_t>(i)])]);
  const std::vector<double> ref = softmax(top, 0.8);
  for (size_t i = 0; i < 40; ++i) EXPECT_NEAR(s.candidates()[i].first, ref[i], 1e-6);
}

// Probabilities 0.1, 0.5, 0.15, 0.25 for ids 0..3 (logits = log p, so softmax gives them back exactly up to
// rounding). Sorted: id1 0.5, id3 0.25, id2 0.15, id0 0.1; cumulative 0.5, 0.75, 0.9, 1.0.
const std::vector<float> kFour = {std::log(0.1f), std::log(0.5f), std::log(0.15f), std::log(0.25f)};

std::vector<int32_t> kept(float top_p, float min_p) {
  SamplerParams p = untruncated(1.0f);
  p.top_p = top_p;
  p.min_p = min_p;
  Sampler s = make(p, 4);
  s.sample(kFour.data());
  return cand_ids(s);
}

TEST(Sampler, TopPKeepsTheSmallestPrefixReachingP) {
  EXPECT_EQ(kept(0.45f, 0.0f), (std::vector<int32_t>{1}));           // 0.5 >= 0.45
  EXPECT_EQ(kept(0.6f, 0.0f), (std::vector<int32_t>{1, 3}));         // 0.5 < 0.6 <= 0.75
  EXPECT_EQ(kept(0.8f, 0.0f), (std::vector<int32_t>{1, 3, 2}));      // 0.75 < 0.8 <= 0.9
  EXPECT_EQ(kept(0.95f, 0.0f), (std::vector<int32_t>{1, 3, 2, 0}));  // 0.9 < 0.95
  EXPECT_EQ(kept(0.01f, 0.0f), (std::vector<int32_t>{1}));           // at least one token

  // Renormalized over the kept set: 0.5/0.9, 0.25/0.9, 0.15/0.9.
  SamplerParams p = untruncated(1.0f);
  p.top_p = 0.8f;
  Sampler s = make(p, 4);
  s.sample(kFour.data());
  ASSERT_EQ(s.candidates().size(), 3u);
  EXPECT_NEAR(s.candidates()[0].first, 0.5 / 0.9, 1e-6);
  EXPECT_NEAR(s.candidates()[1].first, 0.25 / 0.9, 1e-6);
  EXPECT_NEAR(s.candidates()[2].first, 0.15 / 0.9, 1e-6);
  // And the draws follow it: id 0 (outside the nucleus) never appears.
  for (int i = 0; i < 2000; ++i) ASSERT_NE(s.sample(kFour.data()), 0);
}

TEST(Sampler, MinPDropsTokensBelowAFractionOfTheMax) {
  // p_max = 0.5.
  EXPECT_EQ(kept(1.0f, 0.25f), (std::vector<int32_t>{1, 3, 2}));     // threshold 0.125 drops 0.1
  EXPECT_EQ(kept(1.0f, 0.4f), (std::vector<int32_t>{1, 3}));         // threshold 0.2 drops 0.15 too
  EXPECT_EQ(kept(1.0f, 0.19f), (std::vector<int32_t>{1, 3, 2, 0}));  // threshold 0.095 drops nothing
  EXPECT_EQ(kept(1.0f, 1.0f), (std::vector<int32_t>{1}));            // only the max itself
  // Together: the intersection of both sets.
  EXPECT_EQ(kept(0.6f, 0.25f), (std::vector<int32_t>{1, 3}));
  EXPECT_EQ(kept(0.95f, 0.4f), (std::vector<int32_t>{1, 3}));
  EXPECT_EQ(kept(0.45f, 0.19f), (std::vector<int32_t>{1}));
}

TEST(Sampler, TopPAndMinPOnALargeVocabularyMatchTheDefinition) {
  // Near-uniform logits, so the nucleus holds tens of thousands of tokens (the sampler has to grow its
  // partially sorted prefix many times) and min-p keeps an unsorted subset.
  const size_t n = 152064;
  const std::vector<float> l = random_logits(n, 11, 2.0);
  const std::vector<double> prob = softmax(l);
  const std::vector<int32_t> order = ranked(l);
  const double pmax = prob[static_cast<size_t>(order[0])];
  for (float top_p : {0.3f, 0.9f, 1.0f}) {
    for (float min_p : {0.0f, 0.2f}) {
      // The definition: shortest prefix with cumulative probability >= top_p, then drop p < min_p * p_max.
      std::vector<int32_t> expect;
      double cum = 0;
      for (int32_t id : order) {
        const double pi = prob[static_cast<size_t>(id)];
        if (pi >= min_p * pmax) expect.push_back(id);
        cum += pi;
        if (top_p < 1.0f && cum >= top_p) break;
      }
      SamplerParams p = untruncated(1.0f);
      p.top_p = top_p;
      p.min_p = min_p;
      Sampler s = make(p, static_cast<int32_t>(n));
      const int32_t t = s.sample(l.data());
      EXPECT_EQ(cand_ids(s), expect) << "top_p " << top_p << " min_p " << min_p;
      EXPECT_NE(std::find(expect.begin(), expect.end(), t), expect.end());
      double total = 0;
      for (const auto& c : s.candidates()) total += c.first;
      EXPECT_NEAR(total, 1.0, 1e-3);
    }
  }
}

// --- penalties --------------------------------------------------------------------------------------------

// Checks that the sampler's distribution (temperature 1, no truncation) is the softmax of `adjusted`.
void expect_distribution(Sampler& s, const std::vector<float>& raw, const std::vector<float>& adjusted) {
  s.sample(raw.data());
  const std::vector<double> ref = softmax(adjusted);
  ASSERT_EQ(s.candidates().size(), raw.size());
  for (const auto& [prob, id] : s.candidates()) EXPECT_NEAR(prob, ref[static_cast<size_t>(id)], 1e-6) << "id " << id;
}

TEST(Sampler, PenaltiesFollowTheFormula) {
  const std::vector<float> l = {2.0f, -1.0f, 0.5f, 3.0f, -0.2f, 1.0f};
  SamplerParams p = untruncated(1.0f);
  p.repeat_penalty = 1.3f;
  p.frequency_penalty = 0.2f;
  p.presence_penalty = 0.4f;
  p.penalty_last_n = -1;
  Sampler s = make(p, 6);
  for (int32_t t : {0, 0, 1, 3, 0}) s.accept(t);
  // counts: id0 3, id1 1, id3 1. Positive logits are divided by 1.3, negative multiplied, once per token;
  // then - count * 0.2 - 0.4.
  std::vector<float> want = l;
  want[0] = 2.0f / 1.3f - 3 * 0.2f - 0.4f;
  want[1] = -1.0f * 1.3f - 1 * 0.2f - 0.4f;
  want[3] = 3.0f / 1.3f - 1 * 0.2f - 0.4f;
  expect_distribution(s, l, want);
}

TEST(Sampler, PenaltyWindowCoversOnlyTheLastNTokens) {
  const std::vector<float> l = {2.0f, -1.0f, 0.5f, 3.0f, -0.2f, 1.0f};
  SamplerParams p = untruncated(1.0f);
  p.repeat_penalty = 2.0f;
  p.frequency_penalty = 0.5f;
  p.penalty_last_n = 3;
  Sampler s = make(p, 6);
  for (int32_t t : {0, 0, 1, 2, 3}) s.accept(t);  // window: 1, 2, 3 - token 0 has left it
  std::vector<float> want = l;
  want[1] = -1.0f * 2.0f - 0.5f;
  want[2] = 0.5f / 2.0f - 0.5f;
  want[3] = 3.0f / 2.0f - 0.5f;
  expect_distribution(s, l, want);

  s.accept(3);  // window: 2, 3, 3 - token 1 leaves, token 3 counted twice (repetition still applied once)
  want = l;
  want[2] = 0.5f / 2.0f - 0.5f;
  want[3] = 3.0f / 2.0f - 2 * 0.5f;
  expect_distribution(s, l, want);
}

TEST(Sampler, RepetitionPenaltyAppliesOncePerDistinctToken) {
  const std::vector<float> l = {1.0f, 2.0f, -1.0f, 3.0f};
  SamplerParams p = untruncated(1.0f);
  p.repeat_penalty = 2.0f;
  Sampler s = make(p, 4);
  for (int32_t t : {3, 3, 3, 2, 2}) s.accept(t);
  expect_distribution(s, l, {1.0f, 2.0f, -2.0f, 1.5f});  // 3/2 (not 3/8), -1*2 (not -1*4)
}

TEST(Sampler, PenaltiesOffWhenWindowIsZero) {
  const std::vector<float> l = {1.0f, 2.0f, -1.0f, 3.0f};
  SamplerParams p = untruncated(1.0f);
  p.repeat_penalty = 2.0f;
  p.presence_penalty = 1.0f;
  p.penalty_last_n = 0;
  Sampler s = make(p, 4);
  for (int32_t t : {3, 1, 2}) s.accept(t);
  s.accept(-5);  // out of range: ignored
  s.accept(4);
  expect_distribution(s, l, l);
}

TEST(Sampler, PenaltiesApplyBeforeGreedy) {
  const std::vector<float> l = {2.0f, 1.9f};
  SamplerParams p = untruncated(0.0f);
  p.repeat_penalty = 1.5f;
  Sampler s = make(p, 2);
  EXPECT_EQ(s.sample(l.data()), 0);
  s.accept(0);  // 2.0 / 1.5 = 1.33 < 1.9
  EXPECT_EQ(s.sample(l.data()), 1);
}

// --- efficiency -------------------------------------------------------------------------------------------

TEST(Sampler, ScratchIsReusedAcrossCalls) {
  // The candidate buffer is allocated once (at creation): its storage must not move between calls, whether
  // a call truncates to a few tokens or keeps the whole vocabulary.
  const size_t n = 50000;
  const std::vector<float> l = random_logits(n, 3, 4.0);
  SamplerParams p;  // defaults: top-k 40, top-p 0.95, min-p 0.05
  Sampler s = make(p, static_cast<int32_t>(n));
  s.sample(l.data());
  const auto* data = s.candidates().data();
  for (int i = 0; i < 20; ++i) {
    s.sample(l.data());
    ASSERT_EQ(s.candidates().data(), data);
  }
}

}  // namespace
}  // namespace ondi
