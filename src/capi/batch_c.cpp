// C API: batched decoding over a multi-sequence context, a standalone sampler, and the text stream (UTF-8
// reassembly plus stop strings) that servers need to drive their own decode loops.
#include <algorithm>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "capi/capi_internal.h"
#include "ondi/ondi.h"
#include "runtime/context.h"
#include "runtime/generate.h"
#include "runtime/sampler.h"
#include "tokenizer/tokenizer.h"

using ondi::capi::copy_params;
using ondi::capi::fail;
using ondi::capi::from_status;
using ondi::capi::guard;
using ondi::capi::init_params;

struct ondi_context {
  std::unique_ptr<ondi::Context> ctx;
  ondi::Batch batch;  // reused between decodes
};

struct ondi_sampler {
  std::unique_ptr<ondi::Sampler> s;
};

struct ondi_text_stream {
  ondi::Utf8StreamDecoder utf8;
  ondi::StopMatcher stops;
  std::string out;
  bool stopped = false;
  explicit ondi_text_stream(std::vector<std::string> s) : stops(std::move(s)) {}
};

namespace {

#define ONDI_REQUIRE(cond, msg) \
  if (!(cond)) return fail(ONDI_ERR_INVALID_ARGUMENT, msg)

bool valid_seq(const ondi_context* c, int32_t seq) { return c && seq >= 0 && seq < c->ctx->params().n_seq; }

}  // namespace

extern "C" {

static ondi_context_params context_params_defaults() {
  ondi_context_params p{};
  p.n_ctx = 4096;
  p.n_seq = 1;
  p.n_batch = 512;
  p.n_threads = 0;
  p.n_outputs = 0;
  return p;
}

ONDI_API void ondi_context_params_init(ondi_context_params* p, size_t struct_size) {
  init_params(p, struct_size, context_params_defaults());
}

ONDI_API ondi_status ondi_context_create(const ondi_model* model, const ondi_context_params* params,
                                         ondi_context** out) {
  return guard("ondi_context_create", [&]() -> ondi_status {
    ONDI_REQUIRE(out, "ondi_context_create: out is NULL");
    *out = nullptr;
    ONDI_REQUIRE(model, "ondi_context_create: model is NULL");
    ondi_context_params p = ondi_context_params_default();
    ONDI_REQUIRE(copy_params(p, params), "ondi_context_create: bad params struct_size");
    ONDI_REQUIRE(p.n_ctx > 0, "ondi_context_create: n_ctx must be positive");
    ONDI_REQUIRE(p.n_seq > 0 && p.n_seq <= 4096, "ondi_context_create: n_seq must be in [1, 4096]");
    ONDI_REQUIRE(p.n_batch > 0, "ondi_context_create: n_batch must be positive");
    ONDI_REQUIRE(p.n_threads >= 0, "ondi_context_create: n_threads is negative");
    ONDI_REQUIRE(p.n_outputs >= 0, "ondi_context_create: n_outputs is negative");
    ondi::ContextParams cp;
    cp.n_ctx = p.n_ctx;
    cp.n_seq = p.n_seq;
    cp.n_batch = p.n_batch;
    cp.n_threads = p.n_threads;
    cp.n_outputs = p.n_outputs > 0 ? std::min(p.n_outputs, p.n_batch) : p.n_batch;
    auto ctx = ondi::Context::create(ondi::capi::model_of(model), cp);
    if (!ctx.ok()) return from_status(ctx.status());
    auto c = std::make_unique<ondi_context>();
    c->ctx = std::move(ctx).value();
    *out = c.release();
    return ONDI_OK;
  });
}

ONDI_API void ondi_context_free(ondi_context* c) { delete c; }

ONDI_API ondi_context_params ondi_context_get_params(const ondi_context* c) {
  ondi_context_params p = ondi_context_params_default();
  if (!c) return p;
  const auto& cp = c->ctx->params();
  p.n_ctx = cp.n_ctx;
  p.n_seq = cp.n_seq;
  p.n_batch = cp.n_batch;
  p.n_threads = cp.n_threads;
  p.n_outputs = cp.n_outputs;
  return p;
}

ONDI_API int32_t ondi_context_n_vocab(const ondi_context* c) { return c ? c->ctx->n_vocab() : 0; }

ONDI_API ondi_status ondi_context_decode(ondi_context* c, const int32_t* token, const int32_t* pos, const int32_t* seq,
                                         const uint8_t* want_logits, size_t n) {
  return guard("ondi_context_decode", [&]() -> ondi_status {
    ONDI_REQUIRE(c, "ondi_context_decode: context is NULL");
    ONDI_REQUIRE(token && pos && seq, "ondi_context_decode: token, pos or seq is NULL");
    ONDI_REQUIRE(n > 0 && n <= static_cast<size_t>(c->ctx->params().n_batch),
                 "ondi_context_decode: n is " + std::to_string(n) +
                     ", expected [1, n_batch = " + std::to_string(c->ctx->params().n_batch) + "]");
    auto& b = c->batch;
    b.clear();
    for (size_t i = 0; i < n; ++i) b.add(token[i], pos[i], seq[i], want_logits && want_logits[i]);
    return from_status(c->ctx->decode(b));
  });
}

ONDI_API const float* ondi_context_logits(const ondi_context* c, size_t i) {
  if (!c || i >= c->batch.size()) return nullptr;
  return c->ctx->logits(i);
}

ONDI_API int32_t ondi_context_seq_length(const ondi_context* c, int32_t seq) {
  return valid_seq(c, seq) ? c->ctx->seq_len(seq) : -1;
}

ONDI_API ondi_status ondi_context_seq_truncate(ondi_context* c, int32_t seq, int32_t n) {
  return guard("ondi_context_seq_truncate", [&]() -> ondi_status {
    ONDI_REQUIRE(valid_seq(c, seq), "ondi_context_seq_truncate: NULL context or seq out of range");
    ONDI_REQUIRE(n >= 0 && n <= c->ctx->seq_len(seq), "ondi_context_seq_truncate: n is outside [0, length]");
    c->ctx->seq_truncate(seq, n);
    return ONDI_OK;
  });
}

ONDI_API ondi_status ondi_context_seq_copy(ondi_context* c, int32_t src, int32_t dst, int32_t n) {
  return guard("ondi_context_seq_copy", [&]() -> ondi_status {
    ONDI_REQUIRE(valid_seq(c, src) && valid_seq(c, dst), "ondi_context_seq_copy: NULL context or seq out of range");
    ONDI_REQUIRE(n >= 0 && n <= c->ctx->seq_len(src), "ondi_context_seq_copy: n is outside [0, length of src]");
    if (src == dst) {
      c->ctx->seq_truncate(dst, n);
      return ONDI_OK;
    }
    return from_status(c->ctx->seq_copy(src, dst, n));
  });
}

ONDI_API uint64_t ondi_context_kv_bytes(const ondi_context* c) { return c ? c->ctx->kv_bytes() : 0; }

ONDI_API ondi_status ondi_sampler_create(const ondi_sampler_params* params, int32_t n_vocab, ondi_sampler** out) {
  return guard("ondi_sampler_create", [&]() -> ondi_status {
    ONDI_REQUIRE(out, "ondi_sampler_create: out is NULL");
    *out = nullptr;
    ONDI_REQUIRE(n_vocab > 0, "ondi_sampler_create: n_vocab must be positive");
    ondi::SamplerParams p;
    const ondi_status sst = ondi::capi::sampler_params_from(params, p, "ondi_sampler_create");
    if (sst != ONDI_OK) return sst;
    auto smp = ondi::Sampler::create(p, n_vocab);
    if (!smp.ok()) return from_status(smp.status());
    auto h = std::make_unique<ondi_sampler>();
    h->s = std::make_unique<ondi::Sampler>(std::move(smp).value());
    *out = h.release();
    return ONDI_OK;
  });
}

ONDI_API void ondi_sampler_free(ondi_sampler* s) { delete s; }

ONDI_API int32_t ondi_sampler_sample(ondi_sampler* s, const float* logits) {
  if (!s || !logits) return -1;
  return s->s->sample(logits);
}

ONDI_API void ondi_sampler_accept(ondi_sampler* s, int32_t token) {
  if (s) s->s->accept(token);
}

ONDI_API void ondi_sampler_reset(ondi_sampler* s) {
  if (s) s->s->reset();
}

ONDI_API ondi_status ondi_text_stream_create(const char* const* stop, size_t n_stop, ondi_text_stream** out) {
  return guard("ondi_text_stream_create", [&]() -> ondi_status {
    ONDI_REQUIRE(out, "ondi_text_stream_create: out is NULL");
    *out = nullptr;
    ONDI_REQUIRE(stop || n_stop == 0, "ondi_text_stream_create: stop is NULL");
    std::vector<std::string> stops;
    for (size_t i = 0; i < n_stop; ++i) {
      ONDI_REQUIRE(stop[i], "ondi_text_stream_create: a stop string is NULL");
      stops.emplace_back(stop[i]);
    }
    *out = new ondi_text_stream(std::move(stops));
    return ONDI_OK;
  });
}

ONDI_API void ondi_text_stream_free(ondi_text_stream* ts) { delete ts; }

ONDI_API ondi_status ondi_text_stream_push(ondi_text_stream* ts, const char* bytes, size_t len, const char** text,
                                           size_t* text_len, int* stopped) {
  return guard("ondi_text_stream_push", [&]() -> ondi_status {
    ONDI_REQUIRE(ts && text && text_len && stopped, "ondi_text_stream_push: NULL argument");
    ONDI_REQUIRE(bytes || len == 0, "ondi_text_stream_push: bytes is NULL");
    ts->out.clear();
    if (!ts->stopped) {
      bool st = false;
      ts->out = ts->stops.push(ts->utf8.push(std::string_view(bytes ? bytes : "", len)), st);
      ts->stopped = st;
    }
    *text = ts->out.data();
    *text_len = ts->out.size();
    *stopped = ts->stopped ? 1 : 0;
    return ONDI_OK;
  });
}

ONDI_API ondi_status ondi_text_stream_flush(ondi_text_stream* ts, const char** text, size_t* text_len, int* stopped) {
  return guard("ondi_text_stream_flush", [&]() -> ondi_status {
    ONDI_REQUIRE(ts && text && text_len && stopped, "ondi_text_stream_flush: NULL argument");
    ts->out.clear();
    if (!ts->stopped) {
      bool st = false;
      ts->out = ts->stops.push(ts->utf8.flush(), st);
      ts->stopped = st;
      if (!st) ts->out += ts->stops.flush();
    }
    *text = ts->out.data();
    *text_len = ts->out.size();
    *stopped = ts->stopped ? 1 : 0;
    return ONDI_OK;
  });
}

}  // extern "C"
