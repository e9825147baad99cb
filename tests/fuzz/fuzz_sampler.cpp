// libFuzzer target: the sampler with arbitrary logits (NaN, infinities, denormals) and parameters. Checks: create()
// refuses bad parameters with an error; a created sampler always returns an id in [0, n_vocab); its candidate
// probabilities are finite and in [0, 1]; and a second sampler with the same seed and inputs returns the same
// tokens (the reproducibility contract).
#include <fuzzer/FuzzedDataProvider.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "runtime/sampler.h"

namespace {

[[noreturn]] void bug(const char* what) {
  std::fprintf(stderr, "fuzz_sampler: %s\n", what);
  std::abort();
}

// Either any float bit pattern or a value in [lo, hi] (valid parameters get explored too).
float param(FuzzedDataProvider& in, float lo, float hi) {
  if (in.ConsumeBool()) {
    const uint32_t bits = in.ConsumeIntegral<uint32_t>();
    float f;
    std::memcpy(&f, &bits, 4);
    return f;
  }
  return in.ConsumeFloatingPointInRange(lo, hi);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider in(data, size);
  const int32_t n_vocab =
      in.ConsumeBool() ? in.ConsumeIntegralInRange<int32_t>(-2, 8) : in.ConsumeIntegralInRange<int32_t>(1, 5000);
  ondi::SamplerParams p;
  p.temperature = param(in, -1.0f, 4.0f);
  p.top_k = in.ConsumeBool() ? in.ConsumeIntegral<int32_t>() : in.ConsumeIntegralInRange<int32_t>(-1, 64);
  p.top_p = param(in, 0.0f, 1.0f);
  p.min_p = param(in, 0.0f, 1.0f);
  p.repeat_penalty = param(in, 0.0f, 3.0f);
  p.frequency_penalty = param(in, -2.0f, 2.0f);
  p.presence_penalty = param(in, -2.0f, 2.0f);
  p.penalty_last_n = in.ConsumeBool() ? in.ConsumeIntegral<int32_t>() : in.ConsumeIntegralInRange<int32_t>(-1, 70);
  p.seed = in.ConsumeIntegral<uint64_t>();
  const int n_bias = in.ConsumeIntegralInRange<int>(0, 8);
  for (int i = 0; i < n_bias; ++i) {
    const int32_t id = in.ConsumeBool() ? in.ConsumeIntegral<int32_t>()
                                        : in.ConsumeIntegralInRange<int32_t>(0, n_vocab > 0 ? n_vocab - 1 : 0);
    p.logit_bias.emplace_back(id, in.ConsumeBool() ? -INFINITY : param(in, -100.0f, 100.0f));
  }
  const int n_steps = in.ConsumeIntegralInRange<int>(1, 8);
  std::vector<int32_t> history(in.ConsumeIntegralInRange<size_t>(0, 100));
  for (int32_t& t : history) t = in.ConsumeIntegralInRange<int32_t>(-2, n_vocab + 1);

  auto s1 = ondi::Sampler::create(p, n_vocab);
  auto s2 = ondi::Sampler::create(p, n_vocab);
  if (s1.ok() != s2.ok()) bug("create() is not deterministic");
  if (!s1.ok()) {
    if (s1.status().message().empty()) bug("error without a message");
    return 0;
  }

  // Logits: the rest of the input as raw float bits, repeated to fill the vocabulary.
  std::vector<uint8_t> raw = in.ConsumeRemainingBytes<uint8_t>();
  std::vector<float> logits(static_cast<size_t>(n_vocab), 0.0f);
  if (raw.size() >= 4) {
    const size_t n_raw = raw.size() / 4;
    for (size_t i = 0; i < logits.size(); ++i) std::memcpy(&logits[i], &raw[(i % n_raw) * 4], 4);
  }
  for (int32_t t : history) {
    s1->accept(t);
    s2->accept(t);
  }
  for (int step = 0; step < n_steps; ++step) {
    const int32_t a = s1->sample(logits.data());
    const int32_t b = s2->sample(logits.data());
    if (a < 0 || a >= n_vocab) bug("sample() returned an id outside [0, n_vocab)");
    if (a != b) bug("two samplers with the same seed and inputs disagree");
    for (const auto& [prob, id] : s1->candidates()) {
      if (!(prob >= 0.0f && prob <= 1.0f)) bug("candidate probability outside [0, 1]");
      if (id < 0 || id >= n_vocab) bug("candidate id outside [0, n_vocab)");
    }
    s1->accept(a);
    s2->accept(b);
    logits[static_cast<size_t>(a)] -= 1.0f;  // vary the next step a little
  }
  return 0;
}
