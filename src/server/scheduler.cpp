#include "server/scheduler.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <system_error>
#include <thread>

namespace ondi::server {
namespace {

size_t common_prefix(const std::vector<int32_t>& a, const std::vector<int32_t>& b) {
  const size_t n = std::min(a.size(), b.size());
  size_t i = 0;
  while (i < n && a[i] == b[i]) ++i;
  return i;
}

// log-softmax of the raw logits for `chosen` and the k best tokens (higher first, then lower id), in double
// with a fixed summation order so that it is as reproducible as the logits.
TokenLogprob logprobs_of(const float* logits, int32_t n_vocab, int32_t chosen, int k) {
  double mx = -INFINITY;
  for (int32_t i = 0; i < n_vocab; ++i)
    if (logits[i] > mx) mx = logits[i];
  double sum = 0;
  for (int32_t i = 0; i < n_vocab; ++i) sum += std::exp(static_cast<double>(logits[i]) - mx);
  const double lse = mx + std::log(sum);
  TokenLogprob r;
  r.token = chosen;
  r.logprob = static_cast<float>(static_cast<double>(logits[chosen]) - lse);
  if (!std::isfinite(r.logprob)) r.logprob = -9999.0f;  // JSON has no -inf; OpenAI uses -9999 likewise
  if (k > 0) {
    k = std::min(k, n_vocab);
    std::vector<int32_t> idx(static_cast<size_t>(n_vocab));
    std::iota(idx.begin(), idx.end(), 0);
    std::partial_sort(idx.begin(), idx.begin() + k, idx.end(),
                      [&](int32_t a, int32_t b) { return logits[a] != logits[b] ? logits[a] > logits[b] : a < b; });
    for (int i = 0; i < k; ++i) {
      float lp = static_cast<float>(static_cast<double>(logits[idx[static_cast<size_t>(i)]]) - lse);
      if (!std::isfinite(lp)) lp = -9999.0f;
      r.top.emplace_back(idx[static_cast<size_t>(i)], lp);
    }
  }
  return r;
}

}  // namespace

Scheduler::Scheduler(const ondi_model* model, ondi_context* ctx, int max_queue)
    : model_(model), ctx_(ctx), max_queue_(static_cast<size_t>(std::max(0, max_queue))) {
  const ondi_context_params p = ondi_context_get_params(ctx);
  n_vocab_ = ondi_context_n_vocab(ctx);
  n_ctx_ = p.n_ctx;
  n_batch_ = p.n_batch;
  kv_bytes_ = ondi_context_kv_bytes(ctx);  // read once: the context belongs to the scheduler thread
  slots_.resize(static_cast<size_t>(p.n_seq));
  for (size_t i = 0; i < slots_.size(); ++i) slots_[i].seq = static_cast<int32_t>(i);
  pieces_.resize(static_cast<size_t>(n_vocab_));
  is_eog_.resize(static_cast<size_t>(n_vocab_));
  std::string buf(256, '\0');
  for (int32_t t = 0; t < n_vocab_; ++t) {
    size_t size = buf.size();
    ondi_status st = ondi_token_to_piece(model, t, 0, buf.data(), &size);
    if (st == ONDI_ERR_BUFFER_TOO_SMALL) {
      buf.resize(size);
      st = ondi_token_to_piece(model, t, 0, buf.data(), &size);
    }
    if (st == ONDI_OK) pieces_[static_cast<size_t>(t)].assign(buf.data(), size);
    is_eog_[static_cast<size_t>(t)] = ondi_token_is_eog(model, t) ? 1 : 0;
  }
  thread_ = std::thread([this] { loop(); });
}

Scheduler::~Scheduler() { shutdown(std::chrono::milliseconds(0)); }

Scheduler::Submit Scheduler::submit(const std::shared_ptr<GenRequest>& r) {
  std::lock_guard<std::mutex> lk(mu_);
  if (!accepting_.load() || stop_) return Submit::shutting_down;
  // A request waits in the queue only while every slot is busy: count the queue against the free slots.
  const size_t free_slots = slots_.size() - static_cast<size_t>(active_);
  if (queue_.size() >= max_queue_ + free_slots) return Submit::queue_full;
  queue_.push_back(r);
  cv_.notify_all();
  return Submit::ok;
}

void Scheduler::cancel(const std::shared_ptr<GenRequest>& r) {
  r->cancel.store(true);
  bool dequeued = false;
  {
    std::lock_guard<std::mutex> lk(mu_);
    const auto it = std::find(queue_.begin(), queue_.end(), r);
    if (it != queue_.end()) {
      queue_.erase(it);
      dequeued = true;
      cv_.notify_all();  // shutdown() may be waiting for the queue to empty
    }
  }
  // It was never admitted, so the scheduler will never finish it.
  if (dequeued) {
    std::lock_guard<std::mutex> lk(r->mu);
    r->finish = Finish::cancelled;
    r->cv.notify_all();
  }
}

void Scheduler::shutdown(std::chrono::milliseconds grace) {
  accepting_.store(false);
  if (!thread_.joinable()) return;
  const auto until = std::chrono::steady_clock::now() + grace;
  {
    std::unique_lock<std::mutex> lk(mu_);
    cv_.wait_until(lk, until, [&] { return queue_.empty() && active_ == 0; });
    stop_ = true;  // the loop cancels whatever is left, then returns
    cv_.notify_all();
  }
  thread_.join();
}

SchedulerStats Scheduler::stats() const {
  std::lock_guard<std::mutex> lk(mu_);
  SchedulerStats s;
  s.queue_depth = static_cast<int64_t>(queue_.size());
  s.active = active_;
  s.n_slots = static_cast<int64_t>(slots_.size());
  s.kv_used_tokens = kv_used_;
  s.kv_capacity_tokens = static_cast<int64_t>(slots_.size()) * n_ctx_;
  s.generated_tokens_total = gen_total_;
  s.prompt_tokens_total = prompt_total_;
  s.cached_prompt_tokens_total = cached_total_;
  s.decode_steps_total = steps_;
  if (!recent_.empty()) {
    const auto now = std::chrono::steady_clock::now();
    int64_t n = 0;
    for (const auto& [t, k] : recent_)
      if (now - t <= std::chrono::seconds(10)) n += k;
    const double span = std::chrono::duration<double>(now - recent_.front().first).count();
    s.tokens_per_second = span > 0.5 ? static_cast<double>(n) / std::min(span, 10.0) : 0.0;
  }
  s.kv_bytes = kv_bytes_;
  return s;
}

void Scheduler::loop() {
  for (;;) {
    std::vector<std::shared_ptr<GenRequest>> admitted_now;
    bool stopping;
    {
      std::unique_lock<std::mutex> lk(mu_);
      cv_.wait(lk, [&] {
        const bool has_free = active_ < static_cast<int64_t>(slots_.size());
        return stop_ || active_ > 0 || (!queue_.empty() && has_free);
      });
      stopping = stop_;
      if (stopping) {
        for (auto& r : queue_) r->cancel.store(true);
        for (auto& r : queue_) {
          std::lock_guard<std::mutex> rl(r->mu);
          r->finish = Finish::cancelled;
          r->cv.notify_all();
        }
        queue_.clear();
      }
      while (!queue_.empty() && active_ < static_cast<int64_t>(slots_.size())) {
        admitted_now.push_back(queue_.front());
        queue_.pop_front();
        ++active_;  // reserved now; admit() fills the slot
      }
    }
    for (auto& r : admitted_now) {
      if (!admit(r)) {
        std::lock_guard<std::mutex> lk(mu_);
        --active_;
        cv_.notify_all();
      }
    }
    if (stopping) {
      for (auto& s : slots_)
        if (s.req) finish(s, Finish::cancelled);
      return;
    }
    step();
  }
}

bool Scheduler::admit(const std::shared_ptr<GenRequest>& r) {
  auto reject = [&](Finish why, const std::string& msg) {
    std::lock_guard<std::mutex> lk(r->mu);
    r->finish = why;
    r->error = msg;
    r->cv.notify_all();
    return false;
  };
  if (r->cancel.load()) return reject(Finish::cancelled, "");
  if (r->prompt.empty()) return reject(Finish::error, "empty prompt");
  if (static_cast<int64_t>(r->prompt.size()) >= n_ctx_) return reject(Finish::error, "prompt does not fit the context");
  // The free slot that already holds the longest prefix of the prompt; then maybe a busy slot holding more.
  Slot* best = nullptr;
  size_t best_lcp = 0;
  for (auto& s : slots_) {
    if (s.req) continue;
    const size_t l = common_prefix(s.cached, r->prompt);
    if (!best || l > best_lcp) best = &s, best_lcp = l;
  }
  if (!best) return reject(Finish::error, "no free slot");  // cannot happen: active_ counted a free one
  // Leave at least the last prompt token to evaluate: its logits give the first generated token.
  const size_t keep_max = r->prompt.size() - 1;
  const Slot* donor = nullptr;
  size_t donor_lcp = best_lcp;
  for (const auto& s : slots_)
    if (&s != best) {
      const size_t l = std::min(common_prefix(s.cached, r->prompt), keep_max);
      if (l > std::min(donor_lcp, keep_max)) donor = &s, donor_lcp = l;
    }
  size_t keep = std::min(best_lcp, keep_max);
  if (donor && ondi_context_seq_copy(ctx_, donor->seq, best->seq, static_cast<int32_t>(donor_lcp)) == ONDI_OK) {
    best->cached.assign(donor->cached.begin(), donor->cached.begin() + static_cast<std::ptrdiff_t>(donor_lcp));
    keep = donor_lcp;
  }
  if (ondi_context_seq_truncate(ctx_, best->seq, static_cast<int32_t>(keep)) != ONDI_OK) {
    ondi_context_seq_truncate(ctx_, best->seq, 0);
    keep = 0;
  }
  best->cached.resize(keep);

  r->sampling.logit_bias_ids = r->bias_ids.data();
  r->sampling.logit_bias_values = r->bias_vals.data();
  r->sampling.n_logit_bias = r->bias_ids.size();
  ondi_sampler* smp = nullptr;
  if (ondi_sampler_create(&r->sampling, n_vocab_, &smp) != ONDI_OK)
    return reject(Finish::error, std::string("sampler: ") + ondi_last_error());
  std::vector<const char*> stops;
  for (const auto& s : r->stop) stops.push_back(s.c_str());
  ondi_text_stream* ts = nullptr;
  if (ondi_text_stream_create(stops.data(), stops.size(), &ts) != ONDI_OK) {
    ondi_sampler_free(smp);
    return reject(Finish::error, std::string("stop strings: ") + ondi_last_error());
  }
  best->req = r;
  best->sampler = smp;
  best->text = ts;
  best->next_prompt = keep;
  best->pending = -1;
  best->admitted = admissions_++;
  {
    std::lock_guard<std::mutex> lk(r->mu);
    r->n_prompt = static_cast<int32_t>(r->prompt.size());
    r->n_cached = static_cast<int32_t>(keep);
  }
  std::lock_guard<std::mutex> lk(mu_);
  prompt_total_ += static_cast<int64_t>(r->prompt.size());
  cached_total_ += static_cast<int64_t>(keep);
  return true;
}

void Scheduler::finish(Slot& s, Finish why, const std::string& error) {
  auto r = s.req;
  if (!r) return;
  if (why == Finish::stop || why == Finish::length) {
    // The held-back tail (an unfinished stop-string prefix or UTF-8 character) belongs to the answer.
    const char* text = nullptr;
    size_t len = 0;
    int stopped = 0;
    if (ondi_text_stream_flush(s.text, &text, &len, &stopped) == ONDI_OK && len > 0) {
      Event ev;
      ev.text.assign(text, len);
      emit(s, std::move(ev));
    }
  }
  ondi_sampler_free(s.sampler);
  ondi_text_stream_free(s.text);
  s.sampler = nullptr;
  s.text = nullptr;
  s.req.reset();
  s.pending = -1;
  {
    std::lock_guard<std::mutex> lk(r->mu);
    r->finish = why;
    r->error = error;
    r->cv.notify_all();
  }
  std::lock_guard<std::mutex> lk(mu_);
  --active_;
  cv_.notify_all();
}

void Scheduler::emit(Slot& s, Event ev) {
  std::lock_guard<std::mutex> lk(s.req->mu);
  s.req->events.push_back(std::move(ev));
  s.req->cv.notify_all();
}

void Scheduler::draw(Slot& s, const float* logits, int32_t n_vocab, int32_t& tok, Event& ev) {
  tok = ondi_sampler_sample(s.sampler, logits);
  if (tok < 0 || tok >= n_vocab) return;
  ondi_sampler_accept(s.sampler, tok);
  if (s.req->logprobs) {
    ev.has_logprob = true;
    ev.logprob = logprobs_of(logits, n_vocab, tok, s.req->top_logprobs);
  }
}

void Scheduler::on_token(Slot& s, int32_t tok, Event ev) {
  GenRequest& r = *s.req;
  if (tok < 0 || tok >= n_vocab_) return finish(s, Finish::error, "sampler returned no token");
  int32_t n_gen;
  {
    std::lock_guard<std::mutex> lk(r.mu);
    n_gen = ++r.n_generated;
  }
  {
    std::lock_guard<std::mutex> lk(mu_);
    ++gen_total_;
  }
  if (is_eog_[static_cast<size_t>(tok)] && !r.ignore_eos) {
    if (ev.has_logprob) emit(s, std::move(ev));
    return finish(s, Finish::stop);
  }
  const std::string& p = pieces_[static_cast<size_t>(tok)];
  const char* text = nullptr;
  size_t len = 0;
  int stopped = 0;
  if (ondi_text_stream_push(s.text, p.data(), p.size(), &text, &len, &stopped) != ONDI_OK)
    return finish(s, Finish::error, ondi_last_error());
  ev.text.assign(text, len);
  if (!ev.text.empty() || ev.has_logprob) emit(s, std::move(ev));
  if (stopped) return finish(s, Finish::stop);
  if (n_gen >= r.max_tokens) return finish(s, Finish::length);
  // The sampled token enters the cache at the next step: it needs a free position.
  if (static_cast<int32_t>(s.cached.size()) + 1 > n_ctx_) return finish(s, Finish::length);
  s.pending = tok;
}

void Scheduler::step() {
  const auto now = std::chrono::steady_clock::now();
  for (auto& s : slots_) {
    if (!s.req) continue;
    if (s.req->cancel.load())
      finish(s, Finish::cancelled);
    else if (now > s.req->deadline)
      finish(s, Finish::timeout, "the request timed out");
  }
  b_tok_.clear();
  b_pos_.clear();
  b_seq_.clear();
  b_logits_.clear();
  b_owner_.clear();
  auto add = [&](Slot& s, int32_t tok, bool logits) {
    b_tok_.push_back(tok);
    b_pos_.push_back(static_cast<int32_t>(s.cached.size()));
    b_seq_.push_back(s.seq);
    b_logits_.push_back(logits ? 1 : 0);
    b_owner_.push_back(logits ? &s : nullptr);
    s.cached.push_back(tok);  // undone below if the decode fails
  };
  // Decoding requests first (one token each), then prompt chunks, oldest request first, in what is left.
  for (auto& s : slots_)
    if (s.req && s.pending >= 0) add(s, s.pending, true);
  std::vector<Slot*> prefilling;
  for (auto& s : slots_)
    if (s.req && s.pending < 0) prefilling.push_back(&s);
  std::sort(prefilling.begin(), prefilling.end(),
            [](const Slot* a, const Slot* b) { return a->admitted < b->admitted; });
  std::vector<std::pair<Slot*, size_t>> chunks;  // (slot, tokens taken this step)
  for (Slot* s : prefilling) {
    const size_t room = static_cast<size_t>(n_batch_) - b_tok_.size();
    if (room == 0) break;
    const auto& pr = s->req->prompt;
    const size_t take = std::min(room, pr.size() - s->next_prompt);
    for (size_t i = 0; i < take; ++i) {
      const size_t at = s->next_prompt + i;
      add(*s, pr[at], at + 1 == pr.size());
    }
    chunks.emplace_back(s, take);
  }
  if (b_tok_.empty()) return;
  const ondi_status st =
      ondi_context_decode(ctx_, b_tok_.data(), b_pos_.data(), b_seq_.data(), b_logits_.data(), b_tok_.size());
  if (st != ONDI_OK) {
    const std::string msg = std::string("decode failed: ") + ondi_last_error();
    // Nothing entered the cache: roll back the token lists, then fail every request of the batch.
    for (size_t i = b_tok_.size(); i-- > 0;) {
      Slot& s = slots_[static_cast<size_t>(b_seq_[i])];
      s.cached.pop_back();
    }
    for (auto& s : slots_)
      if (s.req &&
          (s.pending >= 0 || std::any_of(chunks.begin(), chunks.end(), [&](auto& c) { return c.first == &s; })))
        finish(s, Finish::error, msg);
    return;
  }
  for (auto& [s, take] : chunks) s->next_prompt += take;
  // Each draw is a pass over the vocabulary (softmax weights, maybe logprobs): with 8 requests running, done one
  // after another they took a fifth of a step while the compute threads waited. Every slot has its own sampler
  // and draw touches nothing else, so the draws run on a few threads and give the same tokens.
  std::vector<std::pair<Slot*, const float*>> draws;
  for (size_t i = 0; i < b_tok_.size(); ++i) {
    Slot* s = b_owner_[i];
    if (!s || !s->req) continue;
    const float* logits = ondi_context_logits(ctx_, i);
    if (!logits) {
      finish(*s, Finish::error, "no logits for a batch entry that asked for them");
      continue;
    }
    draws.emplace_back(s, logits);
  }
  std::vector<int32_t> toks(draws.size(), -1);
  std::vector<Event> evs(draws.size());
  const size_t n_threads =
      std::min<size_t>(draws.size(), std::max(1u, std::min(std::thread::hardware_concurrency(), 8u)));
  auto run = [&](size_t t) {
    for (size_t k = t; k < draws.size(); k += n_threads)
      draw(*draws[k].first, draws[k].second, n_vocab_, toks[k], evs[k]);
  };
  std::vector<std::thread> helpers;
  size_t started = 1;
  try {
    for (; started < n_threads; ++started) helpers.emplace_back(run, started);
  } catch (const std::system_error&) {  // no thread to be had: this one draws the rest
  }
  if (!draws.empty()) run(0);
  for (size_t t = started; t < n_threads; ++t) run(t);
  for (auto& h : helpers) h.join();
  int64_t produced = 0;
  for (size_t k = 0; k < draws.size(); ++k) {
    on_token(*draws[k].first, toks[k], std::move(evs[k]));
    ++produced;
  }
  std::lock_guard<std::mutex> lk(mu_);
  ++steps_;
  int64_t used = 0;
  for (const auto& s : slots_) used += static_cast<int64_t>(s.cached.size());
  kv_used_ = used;
  const auto end = std::chrono::steady_clock::now();
  recent_.emplace_back(end, produced);
  while (!recent_.empty() && end - recent_.front().first > std::chrono::seconds(10)) recent_.pop_front();
}

}  // namespace ondi::server
