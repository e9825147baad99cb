// The generation loop of one sequence: prefill in chunks, then sample/decode until an end-of-generation
// token, the token budget, a stop string, cancellation, or a full context.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "runtime/context.h"
#include "runtime/sampler.h"
#include "tokenizer/tokenizer.h"

namespace ondi {

// Finds the earliest stop string in streamed text. Text that could still become a stop string is held
// back, so a caller never shows the beginning of a stop string that then completes.
class StopMatcher {
 public:
  explicit StopMatcher(std::vector<std::string> stops) : stops_(std::move(stops)) {}
  // Appends text; returns what is safe to emit now. Sets `stopped` when a stop string completed (the
  // returned text then ends just before it, and the stop string and anything after are dropped).
  std::string push(std::string_view text, bool& stopped);
  std::string flush();  // the held-back tail at the end of generation

 private:
  std::vector<std::string> stops_;
  std::string pending_;
};

enum class StopReason { eog = 0, max_tokens = 1, stop_string = 2, cancelled = 3, context_full = 4, callback = 5 };

struct GenerateParams {
  int32_t max_tokens = 256;       // generated tokens at most (< 0: until the context is full)
  std::vector<std::string> stop;  // stop strings
  bool ignore_eog = false;
  bool special = false;  // render control tokens' text in the output
};

struct GenerateResult {
  int32_t n_prompt = 0;
  int32_t n_generated = 0;
  StopReason stop_reason = StopReason::eog;
  double prefill_ms = 0, decode_ms = 0;
  std::vector<int32_t> tokens;  // generated ids
};

// Streams text pieces (always whole UTF-8 characters). Return false to stop.
using OnPiece = std::function<bool(std::string_view text, int32_t token)>;

// Appends `prompt` to sequence `seq` (prefill in chunks of the context's n_batch), then generates. An empty
// prompt continues from the sequence's last logits, which `last_logits` must then hold (n_vocab floats).
Result<GenerateResult> generate(Context& ctx, int32_t seq, const Tokenizer& tok, Sampler& sampler,
                                const std::vector<int32_t>& prompt, const GenerateParams& params,
                                const OnPiece& on_piece, const std::atomic<bool>* cancel,
                                std::vector<float>& last_logits);

// Evaluates `ids` appended to sequence `seq` in chunks of n_batch; copies the logits of the last `n_last`
// of them into `out` (n_last * n_vocab floats, oldest first).
Status evaluate(Context& ctx, int32_t seq, const std::vector<int32_t>& ids, size_t n_last, float* out,
                const std::atomic<bool>* cancel = nullptr);

}  // namespace ondi
