// C API: models, tokenizer, sessions. Every entry point validates its handles and arguments, catches every
// exception, and reports failures through the thread-local last error.
#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstddef>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "capi/capi_internal.h"
#include "core/log.h"
#include "core/mmap_file.h"
#include "model/model.h"
#include "ondi/ondi.h"
#include "runtime/context.h"
#include "runtime/generate.h"
#include "runtime/sampler.h"
#include "runtime/session_file.h"

using ondi::capi::copy_params;
using ondi::capi::fail;
using ondi::capi::from_status;
using ondi::capi::guard;
using ondi::capi::init_params;

struct ondi_model {
  std::unique_ptr<ondi::Model> model;
  std::vector<std::string> meta_values;  // rendered once, so returned pointers stay valid
};

struct ondi_session {
  const ondi_model* model = nullptr;
  std::unique_ptr<ondi::Context> ctx;
  std::vector<float> last_logits;
  std::vector<int32_t> tokens;  // what the KV cache holds, in order (kept for session files)
  std::atomic<bool> cancel{false};
};

namespace {

#define ONDI_REQUIRE(cond, msg) \
  if (!(cond)) return fail(ONDI_ERR_INVALID_ARGUMENT, msg)

// The size of each output struct in ABI 0 (up to its last field then): a caller compiled against that header
// passes it in struct_size and must keep working after fields are appended, so the check is against this,
// not sizeof, and only min(struct_size, sizeof) bytes are written.
constexpr size_t kModelInfoV0 = offsetof(ondi_model_info, rms_eps) + sizeof(float);
constexpr size_t kTensorInfoV0 = offsetof(ondi_tensor_info, n_bytes) + sizeof(uint64_t);
constexpr size_t kGenerateResultV0 = offsetof(ondi_generate_result, decode_ms) + sizeof(double);

template <class T>
void copy_out(T* dst, const T& src) {
  std::memcpy(dst, &src, std::min(dst->struct_size, sizeof(T)));
}

ondi_status finish_load(ondi::Result<std::unique_ptr<ondi::GgufFile>> file, ondi_model** out) {
  if (!file.ok()) return from_status(file.status());
  auto m = ondi::Model::load(std::move(file).value());
  if (!m.ok()) return from_status(m.status());
  auto h = std::make_unique<ondi_model>();
  h->model = std::move(m).value();
  for (const auto& kv : h->model->gguf().metadata()) h->meta_values.push_back(kv.value.to_string(8));
  *out = h.release();
  return ONDI_OK;
}

}  // namespace

namespace ondi::capi {

ondi_status sampler_params_from(const ondi_sampler_params* params, ondi::SamplerParams& p, const char* where) {
  ondi_sampler_params sp = ondi_sampler_params_default();
  if (!copy_params(sp, params))
    return fail(ONDI_ERR_INVALID_ARGUMENT, std::string(where) + ": bad sampler struct_size");
  p.temperature = sp.temperature;
  p.top_k = sp.top_k;
  p.top_p = sp.top_p;
  p.min_p = sp.min_p;
  p.repeat_penalty = sp.repeat_penalty;
  p.frequency_penalty = sp.frequency_penalty;
  p.presence_penalty = sp.presence_penalty;
  p.penalty_last_n = sp.penalty_last_n;
  p.seed = sp.seed;
  if (sp.n_logit_bias != 0 && (!sp.logit_bias_ids || !sp.logit_bias_values))
    return fail(ONDI_ERR_INVALID_ARGUMENT, std::string(where) + ": logit bias arrays are NULL");
  p.logit_bias.clear();
  for (size_t i = 0; i < sp.n_logit_bias; ++i) p.logit_bias.emplace_back(sp.logit_bias_ids[i], sp.logit_bias_values[i]);
  return ONDI_OK;
}

}  // namespace ondi::capi

extern "C" {

ONDI_API void ondi_set_log_callback(ondi_log_fn fn, void* user, ondi_log_level min_level) {
  ondi::set_log_sink(reinterpret_cast<ondi::LogFn>(fn), user, static_cast<ondi::LogLevel>(min_level));
}

static ondi_model_params model_params_defaults() {
  ondi_model_params p{};
  return p;
}

ONDI_API void ondi_model_params_init(ondi_model_params* p, size_t struct_size) {
  init_params(p, struct_size, model_params_defaults());
}

ONDI_API ondi_status ondi_model_load(const char* path, const ondi_model_params* params, ondi_model** out) {
  return guard("ondi_model_load", [&]() -> ondi_status {
    ONDI_REQUIRE(out, "ondi_model_load: out is NULL");
    *out = nullptr;
    ONDI_REQUIRE(path, "ondi_model_load: path is NULL");
    ondi_model_params p = ondi_model_params_default();
    ONDI_REQUIRE(copy_params(p, params), "ondi_model_load: bad params struct_size");
    return finish_load(ondi::GgufFile::open(path), out);
  });
}

ONDI_API ondi_status ondi_model_load_from_memory(const void* data, size_t size, const ondi_model_params* params,
                                                 ondi_model** out) {
  return guard("ondi_model_load_from_memory", [&]() -> ondi_status {
    ONDI_REQUIRE(out, "ondi_model_load_from_memory: out is NULL");
    *out = nullptr;
    ONDI_REQUIRE(data || size == 0, "ondi_model_load_from_memory: data is NULL");
    ondi_model_params p = ondi_model_params_default();
    ONDI_REQUIRE(copy_params(p, params), "ondi_model_load_from_memory: bad params struct_size");
    return finish_load(ondi::GgufFile::from_memory(data, size, "<memory>"), out);
  });
}

ONDI_API ondi_status ondi_model_load_from_fd(int fd, uint64_t offset, uint64_t length, const ondi_model_params* params,
                                             ondi_model** out) {
  return guard("ondi_model_load_from_fd", [&]() -> ondi_status {
    ONDI_REQUIRE(out, "ondi_model_load_from_fd: out is NULL");
    *out = nullptr;
    ONDI_REQUIRE(fd >= 0, "ondi_model_load_from_fd: fd is negative");
    ondi_model_params p = ondi_model_params_default();
    ONDI_REQUIRE(copy_params(p, params), "ondi_model_load_from_fd: bad params struct_size");
    const std::string name = "fd " + std::to_string(fd);
    auto map = ondi::MappedFile::open_fd(fd, offset, length, name);
    if (!map.ok()) return from_status(map.status());
    auto file = ondi::GgufFile::from_mapping(std::move(map).value());
    return finish_load(std::move(file), out);
  });
}

ONDI_API void ondi_model_free(ondi_model* model) { delete model; }

ONDI_API ondi_status ondi_model_get_info(const ondi_model* model, ondi_model_info* info) {
  return guard("ondi_model_get_info", [&]() -> ondi_status {
    ONDI_REQUIRE(model && info, "ondi_model_get_info: NULL argument");
    ONDI_REQUIRE(info->struct_size >= kModelInfoV0, "ondi_model_get_info: info->struct_size too small");
    ondi_model_info* const out = info;
    ondi_model_info full{};
    full.struct_size = out->struct_size;
    info = &full;
    const auto& m = *model->model;
    const auto& hp = m.hparams();
    const auto* name = m.gguf().find("general.name");
    info->architecture = hp.arch_name.c_str();
    info->name = name && name->type == ondi::GgufValueType::STRING ? name->str.c_str() : "";
    info->n_params = m.n_params();
    info->n_embd = hp.n_embd;
    info->n_layer = hp.n_layer;
    info->n_head = hp.n_head;
    info->n_head_kv = hp.n_head_kv;
    info->head_dim = hp.head_dim;
    info->n_ff = hp.n_ff;
    info->n_vocab = hp.n_vocab;
    info->n_ctx_train = hp.n_ctx_train;
    info->file_size = m.gguf().file_size();
    info->weight_bytes = m.weight_bytes();
    info->gguf_version = m.gguf().version();
    info->has_tokenizer = m.tokenizer() != nullptr;
    info->rope_base = hp.rope_base;
    info->rms_eps = hp.rms_eps;
    copy_out(out, full);
    return ONDI_OK;
  });
}

ONDI_API int64_t ondi_model_meta_count(const ondi_model* model) {
  return model ? static_cast<int64_t>(model->model->gguf().metadata().size()) : 0;
}

ONDI_API ondi_status ondi_model_meta_at(const ondi_model* model, int64_t i, const char** key, const char** value,
                                        ondi_gguf_value_type* type) {
  return guard("ondi_model_meta_at", [&]() -> ondi_status {
    ONDI_REQUIRE(model, "ondi_model_meta_at: model is NULL");
    const auto& md = model->model->gguf().metadata();
    ONDI_REQUIRE(i >= 0 && static_cast<size_t>(i) < md.size(), "ondi_model_meta_at: index out of range");
    if (key) *key = md[static_cast<size_t>(i)].key.c_str();
    if (value) *value = model->meta_values[static_cast<size_t>(i)].c_str();
    if (type) *type = static_cast<ondi_gguf_value_type>(md[static_cast<size_t>(i)].value.type);
    return ONDI_OK;
  });
}

ONDI_API ondi_status ondi_model_meta_str(const ondi_model* model, const char* key, const char** value) {
  return guard("ondi_model_meta_str", [&]() -> ondi_status {
    ONDI_REQUIRE(model && key && value, "ondi_model_meta_str: NULL argument");
    const auto* v = model->model->gguf().find(key);
    if (!v || v->type != ondi::GgufValueType::STRING)
      return fail(ONDI_ERR_INVALID_ARGUMENT, std::string("no string metadata '") + key + "'");
    *value = v->str.c_str();
    return ONDI_OK;
  });
}

ONDI_API int64_t ondi_model_tensor_count(const ondi_model* model) {
  return model ? static_cast<int64_t>(model->model->gguf().tensors().size()) : 0;
}

ONDI_API ondi_status ondi_model_tensor_at(const ondi_model* model, int64_t i, ondi_tensor_info* info) {
  return guard("ondi_model_tensor_at", [&]() -> ondi_status {
    ONDI_REQUIRE(model && info, "ondi_model_tensor_at: NULL argument");
    ONDI_REQUIRE(info->struct_size >= kTensorInfoV0, "ondi_model_tensor_at: info->struct_size too small");
    ondi_tensor_info* const out = info;
    ondi_tensor_info full{};
    full.struct_size = out->struct_size;
    info = &full;
    const auto& f = model->model->gguf();
    ONDI_REQUIRE(i >= 0 && static_cast<size_t>(i) < f.tensors().size(), "ondi_model_tensor_at: index out of range");
    const auto& t = f.tensors()[static_cast<size_t>(i)];
    info->name = t.name.c_str();
    info->type = static_cast<int>(t.type);
    info->n_dims = static_cast<int>(t.n_dims);
    for (int d = 0; d < 4; ++d) info->ne[d] = t.ne[d];
    info->offset = f.data_offset() + t.offset;
    info->n_bytes = t.n_bytes;
    copy_out(out, full);
    return ONDI_OK;
  });
}

ONDI_API ondi_status ondi_tokenize(const ondi_model* model, const char* text, size_t len, int add_special,
                                   int parse_special, int32_t* ids, size_t* n_ids) {
  return guard("ondi_tokenize", [&]() -> ondi_status {
    ONDI_REQUIRE(model && n_ids, "ondi_tokenize: NULL argument");
    ONDI_REQUIRE(text || len == 0, "ondi_tokenize: text is NULL");
    const ondi::Tokenizer* tok = model->model->tokenizer();
    if (!tok) return fail(ONDI_ERR_UNSUPPORTED, model->model->tokenizer_error());
    auto r = tok->encode(std::string_view(text ? text : "", len), add_special != 0, parse_special != 0);
    if (!r.ok()) return from_status(r.status());
    const size_t cap = *n_ids;
    *n_ids = r->size();
    if (cap < r->size() || (!ids && !r->empty()))
      return fail(ONDI_ERR_BUFFER_TOO_SMALL, "ondi_tokenize: " + std::to_string(r->size()) + " ids need room");
    if (!r->empty()) std::memcpy(ids, r->data(), r->size() * sizeof(int32_t));
    return ONDI_OK;
  });
}

ONDI_API ondi_status ondi_token_to_piece(const ondi_model* model, int32_t id, int special, char* buf, size_t* size) {
  return guard("ondi_token_to_piece", [&]() -> ondi_status {
    ONDI_REQUIRE(model && size, "ondi_token_to_piece: NULL argument");
    const ondi::Tokenizer* tok = model->model->tokenizer();
    if (!tok) return fail(ONDI_ERR_UNSUPPORTED, model->model->tokenizer_error());
    ONDI_REQUIRE(id >= 0 && id < tok->n_vocab(), "ondi_token_to_piece: token id out of range");
    const std::string piece = tok->token_to_piece(id, special != 0);
    const size_t cap = *size;
    *size = piece.size();
    if (cap < piece.size() || (!buf && !piece.empty()))
      return fail(ONDI_ERR_BUFFER_TOO_SMALL, "ondi_token_to_piece: buffer too small");
    if (!piece.empty()) std::memcpy(buf, piece.data(), piece.size());
    return ONDI_OK;
  });
}

ONDI_API int ondi_token_is_eog(const ondi_model* model, int32_t id) {
  if (!model || !model->model->tokenizer()) return 0;
  return model->model->tokenizer()->is_eog(id) ? 1 : 0;
}
ONDI_API int32_t ondi_token_bos(const ondi_model* model) { return model ? model->model->vocab().bos : -1; }
ONDI_API int32_t ondi_token_eos(const ondi_model* model) { return model ? model->model->vocab().eos : -1; }

static ondi_session_params session_params_defaults() {
  ondi_session_params p{};
  p.n_ctx = 4096;
  p.n_batch = 512;
  p.n_threads = 0;
  p.n_outputs = 1;
  p.kv_type = ONDI_TYPE_F16;
  return p;
}

ONDI_API void ondi_session_params_init(ondi_session_params* p, size_t struct_size) {
  init_params(p, struct_size, session_params_defaults());
}

namespace {

std::string mib(uint64_t b) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f MiB", static_cast<double>(b) / (1 << 20));
  return buf;
}

// Turns session params into context params and its memory plan, applying memory_limit / fit_context.
ondi_status plan_session(const ondi_model* model, const ondi_session_params* params, ondi::ContextParams& cp,
                         ondi::MemoryPlan& plan) {
  ondi_session_params p = ondi_session_params_default();
  if (!copy_params(p, params)) return fail(ONDI_ERR_INVALID_ARGUMENT, "bad ondi_session_params struct_size");
  cp.n_ctx = p.n_ctx;
  cp.n_batch = p.n_batch;
  cp.n_threads = p.n_threads;
  cp.n_outputs = p.n_outputs > 0 ? std::min(p.n_outputs, p.n_batch) : 1;
  cp.n_seq = 1;
  if (p.kv_type != ONDI_TYPE_F16 && p.kv_type != ONDI_TYPE_Q8_0)
    return fail(ONDI_ERR_INVALID_ARGUMENT, "kv_type must be ONDI_TYPE_F16 or ONDI_TYPE_Q8_0");
  cp.kv_type = static_cast<ondi::GgmlType>(p.kv_type);
  if (cp.n_ctx < 1 || cp.n_batch < 1) return fail(ONDI_ERR_INVALID_ARGUMENT, "n_ctx and n_batch must be positive");
  plan = ondi::plan_memory(*model->model, cp);
  if (p.memory_limit == 0 || plan.total() <= p.memory_limit) return ONDI_OK;
  const ondi::HParams& hp = model->model->hparams();
  if (p.fit_context && cp.kv_type == ondi::GgmlType::F16 && hp.head_dim % 32 == 0 && hp.head_dim_v % 32 == 0) {
    // Quantizing the KV cache halves it at a small cost (docs/MEMORY.md): try that before losing context.
    ondi::ContextParams q = cp;
    q.kv_type = ondi::GgmlType::Q8_0;
    const ondi::MemoryPlan qplan = ondi::plan_memory(*model->model, q);
    if (qplan.total() <= p.memory_limit) {
      cp = q;
      plan = qplan;
      return ONDI_OK;
    }
    cp = q;
  }
  // The KV cache is the only part that scales with the context: find the longest context that fits.
  ondi::ContextParams lo = cp;
  lo.n_ctx = 1;
  int32_t best = 0;
  if (ondi::plan_memory(*model->model, lo).total() <= p.memory_limit) {
    int32_t a = 1, b = cp.n_ctx;  // a fits, b does not
    while (b - a > 1) {
      lo.n_ctx = a + (b - a) / 2;
      (ondi::plan_memory(*model->model, lo).total() <= p.memory_limit ? a : b) = lo.n_ctx;
    }
    best = a;
  }
  const std::string need = "the session needs " + mib(plan.total()) + " (weights " + mib(plan.weights_resident) +
                           " + model heap " + mib(plan.model_heap) + " + KV cache " + mib(plan.kv_cache) + " for " +
                           std::to_string(cp.n_ctx) + " tokens + scratch " + mib(plan.scratch) + " + overhead " +
                           mib(plan.overhead) + ") but the memory limit is " + mib(p.memory_limit);
  if (best == 0) return fail(ONDI_ERR_OUT_OF_MEMORY, need + "; even a 1-token context does not fit");
  if (!p.fit_context)
    return fail(ONDI_ERR_OUT_OF_MEMORY, need + "; a context of " + std::to_string(best) + " tokens would fit");
  cp.n_ctx = best;
  plan = ondi::plan_memory(*model->model, cp);
  return ONDI_OK;
}

}  // namespace

ONDI_API ondi_status ondi_model_memory_plan(const ondi_model* model, const ondi_session_params* params,
                                            ondi_memory_plan* out) {
  return guard("ondi_model_memory_plan", [&]() -> ondi_status {
    ONDI_REQUIRE(model && out, "ondi_model_memory_plan: NULL argument");
    ONDI_REQUIRE(out->struct_size >= sizeof(ondi_memory_plan), "ondi_model_memory_plan: plan->struct_size too small");
    ondi::ContextParams cp;
    ondi::MemoryPlan plan;
    const ondi_status st = plan_session(model, params, cp, plan);
    if (st != ONDI_OK) return st;
    out->file_bytes = plan.file_bytes;
    out->weights_resident = plan.weights_resident;
    out->model_heap = plan.model_heap;
    out->kv_cache = plan.kv_cache;
    out->scratch = plan.scratch;
    out->overhead = plan.overhead;
    out->total = plan.total();
    out->n_ctx = cp.n_ctx;
    out->kv_type = static_cast<int32_t>(cp.kv_type);
    return ONDI_OK;
  });
}

ONDI_API ondi_status ondi_session_create(const ondi_model* model, const ondi_session_params* params,
                                         ondi_session** out) {
  return guard("ondi_session_create", [&]() -> ondi_status {
    ONDI_REQUIRE(out, "ondi_session_create: out is NULL");
    *out = nullptr;
    ONDI_REQUIRE(model, "ondi_session_create: model is NULL");
    ondi::ContextParams cp;
    ondi::MemoryPlan plan;
    const ondi_status st = plan_session(model, params, cp, plan);
    if (st != ONDI_OK) return st;
    auto ctx = ondi::Context::create(*model->model, cp);
    if (!ctx.ok()) return from_status(ctx.status());
    auto s = std::make_unique<ondi_session>();
    s->model = model;
    s->ctx = std::move(ctx).value();
    *out = s.release();
    return ONDI_OK;
  });
}

ONDI_API void ondi_session_free(ondi_session* s) { delete s; }

ONDI_API int32_t ondi_session_length(const ondi_session* s) { return s ? s->ctx->seq_len(0) : 0; }

ONDI_API ondi_status ondi_session_truncate(ondi_session* s, int32_t n) {
  return guard("ondi_session_truncate", [&]() -> ondi_status {
    ONDI_REQUIRE(s, "ondi_session_truncate: session is NULL");
    ONDI_REQUIRE(n >= 0 && n <= s->ctx->seq_len(0), "ondi_session_truncate: n is outside [0, length]");
    if (n != s->ctx->seq_len(0)) s->last_logits.clear();  // the logits belonged to a dropped token
    s->ctx->seq_truncate(0, n);
    s->tokens.resize(static_cast<size_t>(n));
    return ONDI_OK;
  });
}

ONDI_API ondi_status ondi_session_eval(ondi_session* s, const int32_t* ids, size_t n, size_t n_last, float* logits) {
  return guard("ondi_session_eval", [&]() -> ondi_status {
    ONDI_REQUIRE(s, "ondi_session_eval: session is NULL");
    ONDI_REQUIRE(ids || n == 0, "ondi_session_eval: ids is NULL");
    ONDI_REQUIRE(n_last <= n, "ondi_session_eval: n_last exceeds n");
    if (n == 0) return ONDI_OK;
    s->cancel.store(false);
    const size_t n_vocab = static_cast<size_t>(s->ctx->n_vocab());
    // Keep at least the last token's logits so that a later generate can continue.
    const size_t keep = std::max<size_t>(1, logits ? n_last : 0);
    std::vector<float> buf(keep * n_vocab);
    ondi::Status st = ondi::evaluate(*s->ctx, 0, std::vector<int32_t>(ids, ids + n), keep, buf.data(), &s->cancel);
    if (!st.ok()) {
      // A failed or cancelled evaluation may have filled some chunks: keep tokens in step with the cache.
      s->last_logits.clear();
      s->tokens.insert(s->tokens.end(), ids, ids + (s->ctx->seq_len(0) - static_cast<int32_t>(s->tokens.size())));
      return from_status(st);
    }
    s->last_logits.assign(buf.end() - static_cast<std::ptrdiff_t>(n_vocab), buf.end());
    s->tokens.insert(s->tokens.end(), ids, ids + n);
    if (logits && n_last) std::memcpy(logits, buf.data() + (keep - n_last) * n_vocab, n_last * n_vocab * sizeof(float));
    return ONDI_OK;
  });
}

static ondi_sampler_params sampler_params_defaults() {
  ondi_sampler_params p{};
  const ondi::SamplerParams d;
  p.temperature = d.temperature;
  p.top_k = d.top_k;
  p.top_p = d.top_p;
  p.min_p = d.min_p;
  p.repeat_penalty = d.repeat_penalty;
  p.frequency_penalty = d.frequency_penalty;
  p.presence_penalty = d.presence_penalty;
  p.penalty_last_n = d.penalty_last_n;
  p.seed = d.seed;
  return p;
}

ONDI_API void ondi_sampler_params_init(ondi_sampler_params* p, size_t struct_size) {
  init_params(p, struct_size, sampler_params_defaults());
}

static ondi_generate_params generate_params_defaults() {
  ondi_generate_params p{};
  p.max_tokens = 256;
  return p;
}

ONDI_API void ondi_generate_params_init(ondi_generate_params* p, size_t struct_size) {
  init_params(p, struct_size, generate_params_defaults());
}

ONDI_API ondi_status ondi_session_generate(ondi_session* s, const int32_t* prompt, size_t n_prompt,
                                           const ondi_sampler_params* sampler, const ondi_generate_params* gen,
                                           ondi_text_callback cb, void* user, ondi_generate_result* result) {
  return guard("ondi_session_generate", [&]() -> ondi_status {
    ONDI_REQUIRE(s, "ondi_session_generate: session is NULL");
    ONDI_REQUIRE(prompt || n_prompt == 0, "ondi_session_generate: prompt is NULL");
    ONDI_REQUIRE(!result || result->struct_size >= kGenerateResultV0,
                 "ondi_session_generate: result->struct_size too small");
    const ondi::Tokenizer* tok = s->model->model->tokenizer();
    if (!tok) return fail(ONDI_ERR_UNSUPPORTED, s->model->model->tokenizer_error());
    ondi::SamplerParams p;
    const ondi_status sst = ondi::capi::sampler_params_from(sampler, p, "ondi_session_generate");
    if (sst != ONDI_OK) return sst;
    ondi_generate_params gp = ondi_generate_params_default();
    ONDI_REQUIRE(copy_params(gp, gen), "ondi_session_generate: bad generate struct_size");
    auto smp = ondi::Sampler::create(p, s->ctx->n_vocab());
    if (!smp.ok()) return from_status(smp.status());
    ondi::GenerateParams g;
    g.max_tokens = gp.max_tokens;
    ONDI_REQUIRE(gp.n_stop == 0 || gp.stop, "ondi_session_generate: stop is NULL");
    for (size_t i = 0; i < gp.n_stop; ++i) {
      ONDI_REQUIRE(gp.stop[i], "ondi_session_generate: a stop string is NULL");
      g.stop.emplace_back(gp.stop[i]);
    }
    g.ignore_eog = gp.ignore_eog != 0;
    g.special = gp.special != 0;
    s->cancel.store(false);
    // Penalties look at the whole conversation's recent tokens, not only this call's prompt.
    std::vector<int32_t> ids(prompt, prompt + n_prompt);
    auto r = ondi::generate(
        *s->ctx, 0, *tok, *smp, ids, g,
        [&](std::string_view text, int32_t token) { return !cb || cb(text.data(), text.size(), token, user) == 0; },
        &s->cancel, s->last_logits);
    // A failed or cancelled prefill leaves last_logits sized but stale (or zero): continuing from them would
    // sample garbage, so drop them and let a continuation without a prompt fail as a call in the wrong order.
    if (!r.ok() || (r->stop_reason == ondi::StopReason::cancelled && r->n_generated == 0 && !ids.empty()))
      s->last_logits.clear();
    // The cache holds the prompt and every generated token that was fed back (all but possibly the last).
    s->tokens.insert(s->tokens.end(), ids.begin(), ids.end());
    if (r.ok()) s->tokens.insert(s->tokens.end(), r->tokens.begin(), r->tokens.end());
    s->tokens.resize(std::min(s->tokens.size(), static_cast<size_t>(s->ctx->seq_len(0))));
    if (!r.ok()) return from_status(r.status());
    if (result) {
      ondi_generate_result full{};
      full.struct_size = result->struct_size;
      full.n_prompt = r->n_prompt;
      full.n_generated = r->n_generated;
      full.stop_reason = static_cast<ondi_stop_reason>(r->stop_reason);
      full.prefill_ms = r->prefill_ms;
      full.decode_ms = r->decode_ms;
      copy_out(result, full);
    }
    return ONDI_OK;
  });
}

ONDI_API ondi_status ondi_session_save(ondi_session* s, const char* path) {
  return guard("ondi_session_save", [&]() -> ondi_status {
    ONDI_REQUIRE(s && path, "ondi_session_save: NULL argument");
    ondi::SessionState st{s->tokens, s->last_logits};
    return from_status(ondi::save_session(*s->ctx, 0, st, path));
  });
}

ONDI_API ondi_status ondi_session_load(ondi_session* s, const char* path) {
  return guard("ondi_session_load", [&]() -> ondi_status {
    ONDI_REQUIRE(s && path, "ondi_session_load: NULL argument");
    auto st = ondi::load_session(*s->ctx, 0, path);
    if (!st.ok()) return from_status(st.status());
    s->tokens = std::move(st->tokens);
    s->last_logits = std::move(st->last_logits);
    return ONDI_OK;
  });
}

ONDI_API ondi_status ondi_session_tokens(const ondi_session* s, int32_t* ids, size_t* n_ids) {
  return guard("ondi_session_tokens", [&]() -> ondi_status {
    ONDI_REQUIRE(s && n_ids, "ondi_session_tokens: NULL argument");
    const size_t cap = *n_ids;
    *n_ids = s->tokens.size();
    if (!ids || cap < s->tokens.size())
      return fail(ONDI_ERR_BUFFER_TOO_SMALL,
                  "ondi_session_tokens: " + std::to_string(s->tokens.size()) + " ids need room");
    std::copy(s->tokens.begin(), s->tokens.end(), ids);
    return ONDI_OK;
  });
}

ONDI_API void ondi_session_cancel(ondi_session* s) {
  if (s) s->cancel.store(true);
}

ONDI_API uint64_t ondi_session_kv_bytes(const ondi_session* s) { return s ? s->ctx->kv_bytes() : 0; }

}  // extern "C"

const ondi::Model& ondi::capi::model_of(const ondi_model* m) { return *m->model; }
