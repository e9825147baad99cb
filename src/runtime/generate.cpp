#include "runtime/generate.h"

#include <algorithm>
#include <chrono>
#include <cstring>

namespace ondi {

std::string StopMatcher::push(std::string_view text, bool& stopped) {
  stopped = false;
  pending_.append(text);
  size_t first = std::string::npos;
  for (const auto& s : stops_) {
    if (s.empty()) continue;
    const size_t at = pending_.find(s);
    if (at != std::string::npos) first = std::min(first, at);
  }
  if (first != std::string::npos) {
    stopped = true;
    std::string out = pending_.substr(0, first);
    pending_.clear();
    return out;
  }
  // Hold back the longest tail that is a proper prefix of some stop string.
  size_t hold = 0;
  for (const auto& s : stops_) {
    for (size_t n = std::min(s.size() - (s.empty() ? 0 : 1), pending_.size()); n > hold; --n) {
      if (pending_.compare(pending_.size() - n, n, s, 0, n) == 0) {
        hold = n;
        break;
      }
    }
  }
  std::string out = pending_.substr(0, pending_.size() - hold);
  pending_.erase(0, pending_.size() - hold);
  return out;
}

std::string StopMatcher::flush() {
  std::string out;
  out.swap(pending_);
  return out;
}

namespace {
double ms_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}
bool cancelled(const std::atomic<bool>* c) { return c && c->load(std::memory_order_relaxed); }
}  // namespace

Status evaluate(Context& ctx, int32_t seq, const std::vector<int32_t>& ids, size_t n_last, float* out,
                const std::atomic<bool>* cancel) {
  if (seq < 0 || seq >= ctx.params().n_seq) return Status(Errc::invalid_argument, "sequence id out of range");
  if (n_last > ids.size()) return Status(Errc::invalid_argument, "asked for more logits than tokens");
  if (static_cast<int64_t>(ctx.seq_len(seq)) + static_cast<int64_t>(ids.size()) > ctx.params().n_ctx)
    return Status(Errc::out_of_range, "prompt of " + std::to_string(ids.size()) + " tokens does not fit the context (" +
                                          std::to_string(ctx.params().n_ctx - ctx.seq_len(seq)) + " positions left)");
  const size_t n_vocab = static_cast<size_t>(ctx.n_vocab());
  const size_t chunk = static_cast<size_t>(ctx.params().n_batch);
  const size_t first_kept = ids.size() - n_last;
  // Chunks never ask for more logit rows than the context holds (n_outputs); the results do not depend on
  // where the chunks fall.
  const size_t kept_chunk = std::min(chunk, static_cast<size_t>(ctx.params().n_outputs));
  Batch b;
  for (size_t i0 = 0, i1 = 0; i0 < ids.size(); i0 = i1) {
    if (cancelled(cancel)) return Status(Errc::cancelled, "cancelled");
    i1 = std::min(ids.size(), i0 + chunk);
    if (i1 > first_kept && i1 - std::max(i0, first_kept) > kept_chunk) i1 = std::max(i0, first_kept) + kept_chunk;
    b.clear();
    const int32_t base = ctx.seq_len(seq);
    for (size_t i = i0; i < i1; ++i) b.add(ids[i], base + static_cast<int32_t>(i - i0), seq, i >= first_kept);
    ONDI_RETURN_IF_ERROR(ctx.decode(b));
    for (size_t i = std::max(i0, first_kept); i < i1; ++i)
      std::memcpy(out + (i - first_kept) * n_vocab, ctx.logits(i - i0), n_vocab * sizeof(float));
  }
  return Status::Ok();
}

Result<GenerateResult> generate(Context& ctx, int32_t seq, const Tokenizer& tok, Sampler& sampler,
                                const std::vector<int32_t>& prompt, const GenerateParams& params,
                                const OnPiece& on_piece, const std::atomic<bool>* cancel,
                                std::vector<float>& last_logits) {
  GenerateResult res;
  const size_t n_vocab = static_cast<size_t>(ctx.n_vocab());
  res.n_prompt = static_cast<int32_t>(prompt.size());
  auto t0 = std::chrono::steady_clock::now();
  if (!prompt.empty()) {
    last_logits.resize(n_vocab);
    Status st = evaluate(ctx, seq, prompt, 1, last_logits.data(), cancel);
    if (st.code() == Errc::cancelled) {
      res.stop_reason = StopReason::cancelled;
      return res;
    }
    ONDI_RETURN_IF_ERROR(st);
    for (int32_t id : prompt) sampler.accept(id);
  } else if (last_logits.size() != n_vocab) {
    return Status(Errc::invalid_argument, "generate: nothing evaluated yet and an empty prompt");
  }
  res.prefill_ms = ms_since(t0);

  t0 = std::chrono::steady_clock::now();
  Utf8StreamDecoder utf8;
  StopMatcher stops(params.stop);
  Batch b;
  auto emit = [&](const std::string& text, int32_t id) { return text.empty() || on_piece(text, id); };
  for (;;) {
    if (params.max_tokens >= 0 && res.n_generated >= params.max_tokens) {
      res.stop_reason = StopReason::max_tokens;
      break;
    }
    if (cancelled(cancel)) {
      res.stop_reason = StopReason::cancelled;
      break;
    }
    const int32_t id = sampler.sample(last_logits.data());
    sampler.accept(id);
    if (!params.ignore_eog && tok.is_eog(id)) {
      res.stop_reason = StopReason::eog;
      break;
    }
    res.tokens.push_back(id);
    ++res.n_generated;
    bool stopped = false;
    const std::string text = stops.push(utf8.push(tok.token_to_piece(id, params.special)), stopped);
    if (!emit(text, id)) {
      res.stop_reason = StopReason::callback;
      break;
    }
    if (stopped) {
      res.stop_reason = StopReason::stop_string;
      res.decode_ms = ms_since(t0);
      return res;
    }
    if (ctx.seq_len(seq) >= ctx.params().n_ctx) {
      res.stop_reason = StopReason::context_full;
      break;
    }
    b.clear();
    b.add(id, ctx.seq_len(seq), seq, true);
    ONDI_RETURN_IF_ERROR(ctx.decode(b));
    std::memcpy(last_logits.data(), ctx.logits(0), n_vocab * sizeof(float));
  }
  bool stopped = false;
  std::string tail = stops.push(utf8.flush(), stopped);
  if (!stopped) tail += stops.flush();
  if (!tail.empty()) on_piece(tail, -1);
  res.decode_ms = ms_since(t0);
  return res;
}

}  // namespace ondi
