// Continuous batching over one ondi_context: a single scheduler thread owns the context and, at every step,
// decodes the next token of every active request together with chunks of the prompts still being prefilled,
// in one ondi_context_decode() call. Requests join and leave between steps. Each KV slot remembers the tokens
// it holds, so a new request whose prompt shares a prefix with a slot's tokens (or with any slot, through
// ondi_context_seq_copy) skips prefilling that prefix.
//
// Uses only the public C API (ondi/ondi.h).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "ondi/ondi.h"

namespace ondi::server {

struct TokenLogprob {
  int32_t token = -1;
  float logprob = 0;
  std::vector<std::pair<int32_t, float>> top;  // best first
};

// What one generated token produced: the text now safe to show (possibly empty while a stop string or a
// UTF-8 character is incomplete) and, when asked for, the token's log-probability.
struct Event {
  std::string text;
  bool has_logprob = false;
  TokenLogprob logprob;
};

enum class Finish { none, stop, length, cancelled, timeout, error };

// One generation request. The HTTP thread fills the inputs, submits it, then reads events under `mu`.
struct GenRequest {
  // inputs
  std::vector<int32_t> prompt;
  ondi_sampler_params sampling{};  // logit-bias pointers point into bias_ids / bias_vals
  std::vector<int32_t> bias_ids;
  std::vector<float> bias_vals;
  int32_t max_tokens = 16;
  std::vector<std::string> stop;
  bool logprobs = false;
  int top_logprobs = 0;
  bool ignore_eos = false;  // extension (as llama.cpp's server): generate past end-of-generation tokens
  std::chrono::steady_clock::time_point deadline = std::chrono::steady_clock::time_point::max();

  // any thread: asks the scheduler to stop this request and free its slot
  std::atomic<bool> cancel{false};

  // outputs, under mu; cv signals new events and the end
  std::mutex mu;
  std::condition_variable cv;
  std::deque<Event> events;
  Finish finish = Finish::none;
  std::string error;
  int32_t n_prompt = 0, n_cached = 0, n_generated = 0;
};

struct SchedulerStats {
  int64_t queue_depth = 0, active = 0, n_slots = 0;
  int64_t kv_used_tokens = 0, kv_capacity_tokens = 0;
  int64_t generated_tokens_total = 0, prompt_tokens_total = 0, cached_prompt_tokens_total = 0;
  int64_t decode_steps_total = 0;
  double tokens_per_second = 0;  // generated tokens over the last 10 s of steps
  uint64_t kv_bytes = 0;
};

class Scheduler {
 public:
  // Takes no ownership of model or ctx, which must outlive the scheduler.
  Scheduler(const ondi_model* model, ondi_context* ctx, int max_queue);
  ~Scheduler();
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  enum class Submit { ok, queue_full, shutting_down };
  Submit submit(const std::shared_ptr<GenRequest>& r);

  // Any thread, for a request whose client went away: a queued request leaves the queue at once (finished as
  // cancelled), so its place goes to a client still waiting; a running one stops before the next step and frees
  // its slot.
  void cancel(const std::shared_ptr<GenRequest>& r);

  // Stops taking requests; lets queued and running ones finish for up to `grace`, then cancels the rest and
  // stops the thread. Idempotent.
  void shutdown(std::chrono::milliseconds grace);
  bool accepting() const { return accepting_.load(); }

  SchedulerStats stats() const;
  const std::string& piece(int32_t token) const { return pieces_[static_cast<size_t>(token)]; }
  int32_t n_vocab() const { return n_vocab_; }
  int32_t n_ctx() const { return n_ctx_; }

 private:
  struct Slot {
    int32_t seq = 0;
    std::vector<int32_t> cached;  // the tokens this slot's KV cache holds, in order
    std::shared_ptr<GenRequest> req;
    ondi_sampler* sampler = nullptr;
    ondi_text_stream* text = nullptr;
    size_t next_prompt = 0;  // first prompt token not yet in the cache
    int32_t pending = -1;    // sampled token to feed at the next step (-1: still prefilling)
    uint64_t admitted = 0;   // admission order, so prefill is first come, first served
  };

  void loop();
  bool admit(const std::shared_ptr<GenRequest>& r);
  void step();
  void finish(Slot& s, Finish why, const std::string& error = "");
  void emit(Slot& s, Event ev);
  // Draws the slot's next token (and its logprobs when asked): independent per slot, so a step's draws run on
  // several threads; on_token then does the bookkeeping in batch order on the scheduler thread.
  static void draw(Slot& s, const float* logits, int32_t n_vocab, int32_t& tok, Event& ev);
  void on_token(Slot& s, int32_t tok, Event ev);

  const ondi_model* model_;
  ondi_context* ctx_;
  int32_t n_vocab_ = 0, n_ctx_ = 0, n_batch_ = 0;
  uint64_t kv_bytes_ = 0;
  size_t max_queue_;
  std::vector<std::string> pieces_;
  std::vector<uint8_t> is_eog_;

  mutable std::mutex mu_;  // guards queue_, and the counters read by stats()
  std::condition_variable cv_;
  std::deque<std::shared_ptr<GenRequest>> queue_;
  std::atomic<bool> accepting_{true};
  bool stop_ = false;
  std::vector<Slot> slots_;  // owned by the scheduler thread; stats() reads sizes under mu_
  uint64_t admissions_ = 0;
  std::vector<int32_t> b_tok_, b_pos_, b_seq_;
  std::vector<uint8_t> b_logits_;
  std::vector<Slot*> b_owner_;

  // stats (under mu_)
  int64_t active_ = 0, kv_used_ = 0, gen_total_ = 0, prompt_total_ = 0, cached_total_ = 0, steps_ = 0;
  std::deque<std::pair<std::chrono::steady_clock::time_point, int64_t>> recent_;  // (step end, tokens)

  std::thread thread_;
};

}  // namespace ondi::server
