/* C API: tokenizer, sessions, evaluation and generation, including misuse (NULL handles, calls in the wrong
 * order, buffers too small, bad struct_size) and cancellation from another thread. Independent oracles:
 * the token ids and logits of ../shared/golden (Hugging Face's tokenizer and the reference engine),
 * FORMAT.md's shapes, and hand-derived sizes. */
#define _GNU_SOURCE
#include <math.h>
#include <pthread.h>
#include <stdint.h>

#include "capi_test.h"

static char* read_text(const char* path, size_t* len) {
  FILE* f = fopen(path, "rb");
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  char* buf = malloc((size_t)n + 1);
  *len = buf ? fread(buf, 1, (size_t)n, f) : 0;
  if (buf) buf[*len] = '\0';
  fclose(f);
  return buf;
}

static int32_t argmax(const float* x, int32_t n) {
  int32_t best = 0;
  for (int32_t i = 1; i < n; ++i)
    if (x[i] > x[best]) best = i;
  return best;
}

/* ---- tokenizer ------------------------------------------------------------------------------------------- */
static void test_tokenizer(const ondi_model* tok_model, const ondi_model* math_model) {
  golden g;
  size_t len = 0;
  char* text = read_text(golden_path("multilingual.txt"), &len);
  if (!text || !read_golden("llama3-tok-f16.logits", &g)) {
    CHECK(!"golden files missing");
    return;
  }
  /* The size query: ids NULL asks for the count. */
  size_t n = 0;
  CHECK_STATUS(ondi_tokenize(tok_model, text, len, 1, 1, NULL, &n), ONDI_ERR_BUFFER_TOO_SMALL);
  CHECK(n == g.n_tokens);
  int32_t* ids = malloc(sizeof(int32_t) * (n + 1));
  size_t small = n - 1;
  CHECK_STATUS(ondi_tokenize(tok_model, text, len, 1, 1, ids, &small), ONDI_ERR_BUFFER_TOO_SMALL);
  CHECK(small == n);
  size_t cap = n + 1;
  CHECK_STATUS(ondi_tokenize(tok_model, text, len, 1, 1, ids, &cap), ONDI_OK);
  CHECK(cap == g.n_tokens && memcmp(ids, g.ids, sizeof(int32_t) * g.n_tokens) == 0);
  CHECK(ids[0] == 128000 && ondi_token_bos(tok_model) == 128000); /* FORMAT.md: BOS 128000 added */

  /* Detokenizing every id but BOS gives the text back (byte-level BPE is lossless). */
  char* back = malloc(len + 1);
  size_t at = 0;
  for (size_t i = 1; i < cap && at <= len; ++i) {
    size_t piece = len - at;
    CHECK_STATUS(ondi_token_to_piece(tok_model, ids[i], 0, back + at, &piece), ONDI_OK);
    at += piece;
  }
  CHECK(at == len && memcmp(back, text, len) == 0);
  free(back);

  /* Pieces: the size query, a too-small buffer, control tokens shown only with special. */
  size_t psize = 0;
  CHECK_STATUS(ondi_token_to_piece(tok_model, 128000, 1, NULL, &psize), ONDI_ERR_BUFFER_TOO_SMALL);
  CHECK(psize == strlen("<|begin_of_text|>"));
  char pbuf[64];
  size_t p3 = 3;
  CHECK_STATUS(ondi_token_to_piece(tok_model, 128000, 1, pbuf, &p3), ONDI_ERR_BUFFER_TOO_SMALL);
  CHECK(p3 == psize);
  p3 = sizeof pbuf;
  CHECK_STATUS(ondi_token_to_piece(tok_model, 128000, 1, pbuf, &p3), ONDI_OK);
  CHECK(p3 == psize && memcmp(pbuf, "<|begin_of_text|>", psize) == 0);
  p3 = sizeof pbuf;
  CHECK_STATUS(ondi_token_to_piece(tok_model, 128000, 0, pbuf, &p3), ONDI_OK);
  CHECK(p3 == 0);
  p3 = sizeof pbuf;
  CHECK_STATUS(ondi_token_to_piece(tok_model, -1, 0, pbuf, &p3), ONDI_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(ondi_token_to_piece(tok_model, 128256, 0, pbuf, &p3), ONDI_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(ondi_token_to_piece(NULL, 1, 0, pbuf, &p3), ONDI_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(ondi_token_to_piece(tok_model, 1, 0, pbuf, NULL), ONDI_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(ondi_token_to_piece(math_model, 1, 0, pbuf, &p3), ONDI_ERR_UNSUPPORTED);

  /* Empty text without BOS: zero ids, which fit any buffer (even none). */
  size_t zero = 0;
  CHECK_STATUS(ondi_tokenize(tok_model, "", 0, 0, 0, NULL, &zero), ONDI_OK);
  CHECK(zero == 0);
  /* misuse */
  CHECK_STATUS(ondi_tokenize(NULL, "a", 1, 0, 0, ids, &cap), ONDI_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(ondi_tokenize(tok_model, "a", 1, 0, 0, ids, NULL), ONDI_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(ondi_tokenize(tok_model, NULL, 5, 0, 0, ids, &cap), ONDI_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(ondi_tokenize(math_model, "a", 1, 0, 0, ids, &cap), ONDI_ERR_UNSUPPORTED);

  /* Special tokens: EOS is an end-of-generation token, BOS is not; nothing crashes on bad ids or handles. */
  const int32_t eos = ondi_token_eos(tok_model);
  CHECK(eos >= 0 && ondi_token_is_eog(tok_model, eos) == 1);
  CHECK(ondi_token_is_eog(tok_model, 128000) == 0);
  CHECK(ondi_token_is_eog(tok_model, -7) == 0 && ondi_token_is_eog(tok_model, 1 << 30) == 0);
  CHECK(ondi_token_is_eog(NULL, eos) == 0 && ondi_token_is_eog(math_model, 0) == 0);
  CHECK(ondi_token_bos(NULL) == -1 && ondi_token_eos(NULL) == -1);
  CHECK(ondi_token_bos(math_model) == -1 && ondi_token_eos(math_model) == -1);
  free(ids);
  free(text);
  free(g.ids);
  free(g.logits);
}

/* ---- sessions and evaluation against the reference engine's logits --------------------------------------- */
static ondi_session* new_session(const ondi_model* m, int32_t n_ctx, int32_t n_batch, int32_t n_threads) {
  ondi_session_params p = ondi_session_params_default();
  p.n_ctx = n_ctx;
  p.n_batch = n_batch;
  p.n_threads = n_threads;
  ondi_session* s = NULL;
  REQUIRE_OK(ondi_session_create(m, &p, &s));
  return s;
}

static void test_eval(const ondi_model* math_model) {
  golden g;
  if (!read_golden("llama-math-f32.logits", &g)) {
    CHECK(!"llama-math-f32.logits missing");
    return;
  }
  const size_t nv = g.n_vocab, nt = g.n_tokens;
  CHECK(nv == 512 && nt == 80 && g.n_kept == 80);

  ondi_session_params d = ondi_session_params_default();
  CHECK(d.struct_size == sizeof d && d.n_ctx == 4096 && d.n_batch == 512 && d.n_threads == 0);
  ondi_session* s = new_session(math_model, 128, 512, 2);
  float* logits = malloc(sizeof(float) * nt * nv);
  CHECK_STATUS(ondi_session_eval(s, g.ids, nt, nt, logits), ONDI_OK);
  CHECK(ondi_session_length(s) == (int32_t)nt);
  /* tests/golden's bound for this model: max |ours - ref| <= 1e-4 * max |ref| (F32 weights: rounding only). */
  float max_ref = 0, max_diff = 0;
  for (size_t i = 0; i < nt * nv; ++i) {
    max_ref = fmaxf(max_ref, fabsf(g.logits[i]));
    max_diff = fmaxf(max_diff, fabsf(logits[i] - g.logits[i]));
  }
  CHECK(max_ref > 0 && max_diff <= 1e-4f * max_ref);
  for (size_t t = 0; t < nt; ++t) CHECK(argmax(logits + t * nv, (int32_t)nv) == argmax(g.logits + t * nv, (int32_t)nv));

  /* Reproducibility: chunks of 7 tokens on 1 thread give the same bytes; so does truncating and re-evaluating. */
  ondi_session* s7 = new_session(math_model, 128, 7, 1);
  float* l7 = malloc(sizeof(float) * nt * nv);
  CHECK_STATUS(ondi_session_eval(s7, g.ids, nt, nt, l7), ONDI_OK);
  CHECK(memcmp(l7, logits, sizeof(float) * nt * nv) == 0);
  CHECK_STATUS(ondi_session_truncate(s7, 40), ONDI_OK);
  CHECK(ondi_session_length(s7) == 40);
  CHECK_STATUS(ondi_session_eval(s7, g.ids + 40, nt - 40, 1, l7), ONDI_OK);
  CHECK(memcmp(l7, logits + (nt - 1) * nv, sizeof(float) * nv) == 0);
  CHECK_STATUS(ondi_session_eval(s7, NULL, 0, 0, NULL), ONDI_OK); /* nothing to do */
  ondi_session_free(s7);

  /* misuse */
  CHECK_STATUS(ondi_session_eval(NULL, g.ids, 1, 0, NULL), ONDI_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(ondi_session_eval(s, NULL, 3, 0, NULL), ONDI_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(ondi_session_eval(s, g.ids, 2, 3, logits), ONDI_ERR_INVALID_ARGUMENT); /* n_last > n */
  const int32_t bad_id[1] = {512};                                                    /* vocab is 512 */
  CHECK_STATUS(ondi_session_eval(s, bad_id, 1, 0, NULL), ONDI_ERR_INVALID_ARGUMENT);
  const int32_t neg_id[1] = {-1};
  CHECK_STATUS(ondi_session_eval(s, neg_id, 1, 0, NULL), ONDI_ERR_INVALID_ARGUMENT);
  CHECK(ondi_session_length(s) == (int32_t)nt); /* failed calls change nothing */
  /* The context holds 128 positions: 80 used, 49 more do not fit. */
  CHECK_STATUS(ondi_session_eval(s, g.ids, 49, 0, NULL), ONDI_ERR_OUT_OF_RANGE);
  CHECK(ondi_session_length(s) == (int32_t)nt);
  CHECK_STATUS(ondi_session_truncate(s, -1), ONDI_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(ondi_session_truncate(s, (int32_t)nt + 1), ONDI_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(ondi_session_truncate(NULL, 0), ONDI_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(ondi_session_truncate(s, 0), ONDI_OK);
  CHECK(ondi_session_length(s) == 0);
  /* KV cache in F16 (README): n_layer * n_ctx * (K + V rows of n_head_kv * head_dim) * 2 bytes
   * = 2 * 128 * (2 * 2 * 32) * 2 = 65536. */
  CHECK(ondi_session_kv_bytes(s) == 65536u);
  CHECK(ondi_session_kv_bytes(NULL) == 0 && ondi_session_length(NULL) == 0);
  ondi_session_free(s);
  ondi_session_free(NULL);

  /* Session creation misuse: bad params are errors, never a crash or an absurd allocation. */
  ondi_session* bad = (ondi_session*)1;
  ondi_session_params p = ondi_session_params_default();
  CHECK_STATUS(ondi_session_create(NULL, &p, &bad), ONDI_ERR_INVALID_ARGUMENT);
  CHECK(bad == NULL);
  CHECK_STATUS(ondi_session_create(math_model, &p, NULL), ONDI_ERR_INVALID_ARGUMENT);
  p.struct_size = 3;
  CHECK_STATUS(ondi_session_create(math_model, &p, &bad), ONDI_ERR_INVALID_ARGUMENT);
  p = ondi_session_params_default();
  p.n_ctx = 0;
  CHECK_STATUS(ondi_session_create(math_model, &p, &bad), ONDI_ERR_INVALID_ARGUMENT);
  p = ondi_session_params_default();
  p.n_batch = -1;
  CHECK_STATUS(ondi_session_create(math_model, &p, &bad), ONDI_ERR_INVALID_ARGUMENT);
  p = ondi_session_params_default();
  p.n_threads = 100000;
  CHECK_STATUS(ondi_session_create(math_model, &p, &bad), ONDI_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(ondi_session_create(math_model, NULL, &bad), ONDI_OK); /* NULL params: the defaults */
  ondi_session_free(bad);
  free(l7);
  free(logits);
  free(g.ids);
  free(g.logits);
}

/* ---- generation ------------------------------------------------------------------------------------------ */
typedef struct capture {
  char text[4096];
  size_t len;
  int calls;
  int stop_after; /* return non-zero on this call (0: never) */
  int bad_utf8;
} capture;

/* Whole UTF-8 characters only (the callback's contract). */
static int utf8_complete(const unsigned char* s, size_t n) {
  size_t i = 0;
  while (i < n) {
    const unsigned c = s[i];
    size_t k = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    if (k == 0 || i + k > n) return 0;
    for (size_t j = 1; j < k; ++j)
      if ((s[i + j] & 0xC0) != 0x80) return 0;
    i += k;
  }
  return 1;
}

static int on_text(const char* text, size_t len, int32_t token, void* user) {
  (void)token;
  capture* c = user;
  ++c->calls;
  if (!utf8_complete((const unsigned char*)text, len)) c->bad_utf8 = 1;
  if (c->len + len < sizeof c->text) {
    memcpy(c->text + c->len, text, len);
    c->len += len;
  }
  return c->stop_after && c->calls >= c->stop_after;
}

static void test_generate(const ondi_model* tok_model, const ondi_model* math_model) {
  int32_t prompt[64];
  size_t n_prompt = 64;
  REQUIRE_OK(ondi_tokenize(tok_model, "The capital of France is", 24, 1, 0, prompt, &n_prompt));
  int32_t n_vocab = 128256;

  /* The greedy first token is the argmax of the prompt's last logits (computed through eval). */
  ondi_session* s = new_session(tok_model, 256, 512, 2);
  float* last = malloc(sizeof(float) * (size_t)n_vocab);
  CHECK_STATUS(ondi_session_eval(s, prompt, n_prompt, 1, last), ONDI_OK);
  const int32_t top = argmax(last, n_vocab);
  float second_v = -INFINITY;
  int32_t second = -1;
  for (int32_t i = 0; i < n_vocab; ++i)
    if (i != top && last[i] > second_v) second_v = last[i], second = i;
  ondi_session_free(s);

  ondi_sampler_params greedy = ondi_sampler_params_default();
  CHECK(greedy.struct_size == sizeof greedy);
  greedy.temperature = 0;
  ondi_generate_params gp = ondi_generate_params_default();
  CHECK(gp.struct_size == sizeof gp && gp.max_tokens == 256);
  gp.max_tokens = 1;
  gp.ignore_eog = 1;
  ondi_generate_result r;
  memset(&r, 0, sizeof r);
  r.struct_size = sizeof r;
  capture c;
  memset(&c, 0, sizeof c);
  s = new_session(tok_model, 256, 512, 2);
  CHECK_STATUS(ondi_session_generate(s, prompt, n_prompt, &greedy, &gp, on_text, &c, &r), ONDI_OK);
  CHECK(r.n_prompt == (int32_t)n_prompt && r.n_generated == 1 && r.stop_reason == ONDI_STOP_MAX_TOKENS);
  CHECK(r.prefill_ms >= 0 && r.decode_ms >= 0);
  /* The prompt and the generated token are in the cache (each generated token is evaluated for the next). */
  CHECK(ondi_session_length(s) == (int32_t)n_prompt + 1);
  ondi_session_free(s);
  char piece[256];
  size_t plen = sizeof piece;
  CHECK_STATUS(ondi_token_to_piece(tok_model, top, 0, piece, &plen), ONDI_OK);
  /* A token's bytes may end inside a character: the stream then shows U+FFFD instead, so compare only when the
   * piece is whole characters. */
  if (utf8_complete((const unsigned char*)piece, plen)) CHECK(c.len == plen && memcmp(c.text, piece, plen) == 0);
  CHECK(c.bad_utf8 == 0);

  /* Banning the argmax with a -inf logit bias makes greedy pick the runner-up. */
  const int32_t ban_ids[1] = {top};
  const float ban_vals[1] = {-INFINITY};
  ondi_sampler_params banned = greedy;
  banned.logit_bias_ids = ban_ids;
  banned.logit_bias_values = ban_vals;
  banned.n_logit_bias = 1;
  gp.max_tokens = 2;
  s = new_session(tok_model, 256, 512, 2);
  CHECK_STATUS(ondi_session_generate(s, prompt, n_prompt, &banned, &gp, NULL, NULL, &r), ONDI_OK);
  CHECK(r.n_generated == 2);
  /* Continue one token from where it stopped (n_prompt 0 is allowed after a generate). */
  gp.max_tokens = 1;
  CHECK_STATUS(ondi_session_generate(s, NULL, 0, &greedy, &gp, NULL, NULL, &r), ONDI_OK);
  CHECK(r.n_prompt == 0 && r.n_generated == 1);
  ondi_session_free(s);
  /* The banned run's first token is the runner-up of the eval logits. */
  s = new_session(tok_model, 256, 512, 2);
  gp.max_tokens = 1;
  memset(&c, 0, sizeof c);
  CHECK_STATUS(ondi_session_generate(s, prompt, n_prompt, &banned, &gp, on_text, &c, &r), ONDI_OK);
  ondi_session_free(s);
  char piece2[256];
  size_t plen2 = sizeof piece2;
  CHECK_STATUS(ondi_token_to_piece(tok_model, second, 0, piece2, &plen2), ONDI_OK);
  if (utf8_complete((const unsigned char*)piece2, plen2)) CHECK(c.len == plen2 && memcmp(c.text, piece2, plen2) == 0);

  /* Greedy is deterministic: the same 16 tokens of text twice. A stop string taken from that text ends the
   * second run early (STRING), with the stop string itself never shown. */
  gp.max_tokens = 16;
  capture a, b;
  memset(&a, 0, sizeof a);
  memset(&b, 0, sizeof b);
  s = new_session(tok_model, 256, 512, 2);
  CHECK_STATUS(ondi_session_generate(s, prompt, n_prompt, &greedy, &gp, on_text, &a, &r), ONDI_OK);
  CHECK(r.n_generated == 16 && r.stop_reason == ONDI_STOP_MAX_TOKENS && a.bad_utf8 == 0);
  ondi_session_free(s);
  s = new_session(tok_model, 256, 512, 2);
  CHECK_STATUS(ondi_session_generate(s, prompt, n_prompt, &greedy, &gp, on_text, &b, &r), ONDI_OK);
  CHECK(a.len == b.len && memcmp(a.text, b.text, a.len) == 0);
  ondi_session_free(s);
  if (a.len >= 2) {
    char stop[3] = {a.text[a.len / 2], 0, 0};
    if ((unsigned char)stop[0] < 0x80) {
      const char* stops[1] = {stop};
      ondi_generate_params gs = gp;
      gs.stop = stops;
      gs.n_stop = 1;
      memset(&b, 0, sizeof b);
      s = new_session(tok_model, 256, 512, 2);
      CHECK_STATUS(ondi_session_generate(s, prompt, n_prompt, &greedy, &gs, on_text, &b, &r), ONDI_OK);
      CHECK(r.stop_reason == ONDI_STOP_STRING);
      const char* first = memchr(a.text, stop[0], a.len);
      CHECK(first && b.len == (size_t)(first - a.text) && memcmp(b.text, a.text, b.len) == 0);
      ondi_session_free(s);
    }
  }

  /* The callback stops generation by returning non-zero. */
  memset(&c, 0, sizeof c);
  c.stop_after = 1;
  s = new_session(tok_model, 256, 512, 2);
  CHECK_STATUS(ondi_session_generate(s, prompt, n_prompt, &greedy, &gp, on_text, &c, &r), ONDI_OK);
  CHECK(r.stop_reason == ONDI_STOP_CALLBACK && c.calls == 1);

  /* A full context ends generation (no error): n_ctx = prompt + 3 leaves room for 3 more tokens. */
  ondi_session_free(s);
  s = new_session(tok_model, (int32_t)n_prompt + 3, 512, 1);
  gp.max_tokens = -1;
  CHECK_STATUS(ondi_session_generate(s, prompt, n_prompt, &greedy, &gp, NULL, NULL, &r), ONDI_OK);
  CHECK(r.stop_reason == ONDI_STOP_CONTEXT_FULL && r.n_generated == 4);
  /* ...and a prompt that does not fit is an error. */
  CHECK_STATUS(ondi_session_generate(s, prompt, n_prompt, &greedy, &gp, NULL, NULL, &r), ONDI_ERR_OUT_OF_RANGE);
  ondi_session_free(s);

  /* Wrong order: continuing (n_prompt 0) before anything was evaluated, or after truncating it away. */
  s = new_session(tok_model, 256, 512, 1);
  gp.max_tokens = 2;
  CHECK_STATUS(ondi_session_generate(s, NULL, 0, &greedy, &gp, NULL, NULL, &r), ONDI_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(ondi_session_eval(s, prompt, n_prompt, 0, NULL), ONDI_OK);
  CHECK_STATUS(ondi_session_truncate(s, 1), ONDI_OK);
  CHECK_STATUS(ondi_session_generate(s, NULL, 0, &greedy, &gp, NULL, NULL, &r), ONDI_ERR_INVALID_ARGUMENT);

  /* misuse: NULL session, NULL prompt, bad struct sizes, NULL arrays behind non-zero counts */
  CHECK_STATUS(ondi_session_generate(NULL, prompt, n_prompt, NULL, NULL, NULL, NULL, NULL), ONDI_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(ondi_session_generate(s, NULL, 3, NULL, NULL, NULL, NULL, NULL), ONDI_ERR_INVALID_ARGUMENT);
  ondi_sampler_params bs = greedy;
  bs.struct_size = 0;
  CHECK_STATUS(ondi_session_generate(s, prompt, 1, &bs, &gp, NULL, NULL, NULL), ONDI_ERR_INVALID_ARGUMENT);
  ondi_generate_params bg = gp;
  bg.struct_size = 0;
  CHECK_STATUS(ondi_session_generate(s, prompt, 1, &greedy, &bg, NULL, NULL, NULL), ONDI_ERR_INVALID_ARGUMENT);
  bs = greedy;
  bs.n_logit_bias = 2;
  CHECK_STATUS(ondi_session_generate(s, prompt, 1, &bs, &gp, NULL, NULL, NULL), ONDI_ERR_INVALID_ARGUMENT);
  bg = gp;
  bg.n_stop = 1;
  CHECK_STATUS(ondi_session_generate(s, prompt, 1, &greedy, &bg, NULL, NULL, NULL), ONDI_ERR_INVALID_ARGUMENT);
  const char* null_stop[1] = {NULL};
  bg.stop = null_stop;
  CHECK_STATUS(ondi_session_generate(s, prompt, 1, &greedy, &bg, NULL, NULL, NULL), ONDI_ERR_INVALID_ARGUMENT);
  ondi_generate_result br;
  memset(&br, 0, sizeof br); /* struct_size 0: the result cannot be written */
  CHECK_STATUS(ondi_session_generate(s, prompt, 1, &greedy, &gp, NULL, NULL, &br), ONDI_ERR_INVALID_ARGUMENT);
  const int32_t bad_tok[1] = {n_vocab};
  const int32_t len_before = ondi_session_length(s);
  CHECK_STATUS(ondi_session_generate(s, bad_tok, 1, &greedy, &gp, NULL, NULL, &r), ONDI_ERR_INVALID_ARGUMENT);
  CHECK(ondi_session_length(s) == len_before);
  ondi_session_free(s);
  /* A failed prompt leaves nothing to continue from: a continuation is then a call in the wrong order. */
  s = new_session(tok_model, 256, 512, 1);
  CHECK_STATUS(ondi_session_generate(s, bad_tok, 1, &greedy, &gp, NULL, NULL, &r), ONDI_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(ondi_session_generate(s, NULL, 0, &greedy, &gp, NULL, NULL, &r), ONDI_ERR_INVALID_ARGUMENT);
  ondi_session_free(s);

  /* A model without a tokenizer cannot generate text. */
  s = new_session(math_model, 64, 64, 1);
  const int32_t one[1] = {1};
  CHECK_STATUS(ondi_session_generate(s, one, 1, &greedy, &gp, NULL, NULL, &r), ONDI_ERR_UNSUPPORTED);
  ondi_session_free(s);
  free(last);
}

/* ---- cancellation from another thread --------------------------------------------------------------------- *
 * The callback blocks on the first token until the other thread has called ondi_session_cancel(), so the
 * cancellation lands mid-generation deterministically (no timing involved). */
typedef struct cancel_ctx {
  ondi_session* s;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  int first_token_seen, cancelled;
  int calls;
} cancel_ctx;

static int on_text_wait(const char* text, size_t len, int32_t token, void* user) {
  (void)text;
  (void)len;
  (void)token;
  cancel_ctx* c = user;
  pthread_mutex_lock(&c->mu);
  ++c->calls;
  c->first_token_seen = 1;
  pthread_cond_broadcast(&c->cv);
  while (!c->cancelled) pthread_cond_wait(&c->cv, &c->mu);
  pthread_mutex_unlock(&c->mu);
  return 0;
}

static void* canceller(void* arg) {
  cancel_ctx* c = arg;
  pthread_mutex_lock(&c->mu);
  while (!c->first_token_seen) pthread_cond_wait(&c->cv, &c->mu);
  pthread_mutex_unlock(&c->mu);
  ondi_session_cancel(c->s);
  /* The last error is per thread: a failure here leaves the generating thread's message alone. */
  ondi_session_cancel(NULL);
  CHECK(ondi_session_truncate(NULL, 0) == ONDI_ERR_INVALID_ARGUMENT);
  pthread_mutex_lock(&c->mu);
  c->cancelled = 1;
  pthread_cond_broadcast(&c->cv);
  pthread_mutex_unlock(&c->mu);
  return NULL;
}

static void test_cancel(const ondi_model* tok_model) {
  int32_t prompt[16];
  size_t n_prompt = 16;
  REQUIRE_OK(ondi_tokenize(tok_model, "Once upon a time", 16, 1, 0, prompt, &n_prompt));
  cancel_ctx c;
  memset(&c, 0, sizeof c);
  pthread_mutex_init(&c.mu, NULL);
  pthread_cond_init(&c.cv, NULL);
  c.s = new_session(tok_model, 2048, 512, 2);
  ondi_sampler_params sp = ondi_sampler_params_default();
  sp.seed = 7;
  ondi_generate_params gp = ondi_generate_params_default();
  gp.max_tokens = -1; /* until the context is full: only the cancellation can end it early */
  gp.ignore_eog = 1;
  ondi_generate_result r;
  memset(&r, 0, sizeof r);
  r.struct_size = sizeof r;
  pthread_t th;
  CHECK(pthread_create(&th, NULL, canceller, &c) == 0);
  CHECK_STATUS(ondi_session_generate(c.s, prompt, n_prompt, &sp, &gp, on_text_wait, &c, &r), ONDI_OK);
  pthread_join(th, NULL);
  CHECK(r.stop_reason == ONDI_STOP_CANCELLED);
  CHECK(r.n_generated >= 1 && r.n_generated < 2048 - (int32_t)n_prompt);
  /* The flag clears when the next call starts: a cancel before a call does not cancel it. */
  ondi_session_cancel(c.s);
  gp.max_tokens = 3;
  CHECK_STATUS(ondi_session_generate(c.s, NULL, 0, &sp, &gp, NULL, NULL, &r), ONDI_OK);
  CHECK(r.stop_reason == ONDI_STOP_MAX_TOKENS && r.n_generated == 3);
  ondi_session_free(c.s);
  pthread_mutex_destroy(&c.mu);
  pthread_cond_destroy(&c.cv);
}

int main(void) {
  ondi_model *tok_model = NULL, *math_model = NULL;
  REQUIRE_OK(ondi_model_load(golden_path("llama3-tok-f16.gguf"), NULL, &tok_model));
  REQUIRE_OK(ondi_model_load(golden_path("llama-math-f32.gguf"), NULL, &math_model));
  test_tokenizer(tok_model, math_model);
  test_eval(math_model);
  test_generate(tok_model, math_model);
  test_cancel(tok_model);
  ondi_model_free(tok_model);
  ondi_model_free(math_model);
  return test_report("test_capi_session");
}
