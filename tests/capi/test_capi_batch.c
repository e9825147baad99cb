/* C API, batched decoding: ondi_context (many sequences in one forward pass), the standalone sampler and the
 * text stream, including misuse. Oracles: the reference engine's logits (../shared/golden), the
 * reproducibility contract (a token's logits do not depend on what shares its batch: bit-identical), and
 * hand-derived sampler and text-stream results. */
#include <math.h>
#include <stdint.h>

#include "capi_test.h"

static void test_context(const ondi_model* m) {
  golden g;
  if (!read_golden("llama-math-f32.logits", &g)) {
    CHECK(!"llama-math-f32.logits missing");
    return;
  }
  const size_t nt = g.n_tokens, nv = g.n_vocab;
  ondi_context_params p = ondi_context_params_default();
  CHECK(p.struct_size == sizeof p && p.n_ctx == 4096 && p.n_seq == 1 && p.n_batch == 512 && p.n_threads == 0);
  p.n_ctx = 128;
  p.n_seq = 2;
  p.n_batch = 160;
  p.n_threads = 2;
  ondi_context* c = NULL;
  REQUIRE_OK(ondi_context_create(m, &p, &c));
  ondi_context_params got = ondi_context_get_params(c);
  CHECK(got.struct_size == sizeof got && got.n_ctx == 128 && got.n_seq == 2 && got.n_batch == 160);
  CHECK(ondi_context_n_vocab(c) == 512);
  /* F16 KV: 2 layers * 2 sequences * 128 positions * (K + V rows of 2 heads * 32) * 2 bytes. */
  CHECK(ondi_context_kv_bytes(c) == 2u * 2u * 128u * 128u * 2u);

  /* One batch: the 80 golden tokens of sequence 0 interleaved with the same 80 tokens as sequence 1. Both
   * sequences must match the reference, and each other bit for bit. */
  int32_t tok[160], pos[160], seq[160];
  uint8_t want[160];
  for (size_t i = 0; i < nt; ++i) {
    for (int s = 0; s < 2; ++s) {
      tok[2 * i + s] = g.ids[i];
      pos[2 * i + s] = (int32_t)i;
      seq[2 * i + s] = s;
      want[2 * i + s] = 1;
    }
  }
  CHECK_STATUS(ondi_context_decode(c, tok, pos, seq, want, 2 * nt), ONDI_OK);
  CHECK(ondi_context_seq_length(c, 0) == (int32_t)nt && ondi_context_seq_length(c, 1) == (int32_t)nt);
  float max_ref = 0, max_diff = 0;
  int same = 1;
  for (size_t i = 0; i < nt; ++i) {
    const float* l0 = ondi_context_logits(c, 2 * i);
    const float* l1 = ondi_context_logits(c, 2 * i + 1);
    if (!l0 || !l1) {
      CHECK(!"missing logits");
      break;
    }
    if (memcmp(l0, l1, nv * sizeof(float)) != 0) same = 0;
    for (size_t v = 0; v < nv; ++v) {
      max_ref = fmaxf(max_ref, fabsf(g.logits[i * nv + v]));
      max_diff = fmaxf(max_diff, fabsf(l0[v] - g.logits[i * nv + v]));
    }
  }
  CHECK(same);
  CHECK(max_ref > 0 && max_diff <= 1e-4f * max_ref); /* tests/golden's bound for this F32 model */
  CHECK(ondi_context_logits(c, 2 * nt) == NULL);     /* past the batch */

  /* Prefix sharing: copy 40 positions of sequence 0 to 1, then decode position 40 in 1 only, no logits flag
   * array (NULL: none), then with logits: the same bytes as position 40 of the big batch. */
  float* at40 = malloc(nv * sizeof(float));
  memcpy(at40, ondi_context_logits(c, 80), nv * sizeof(float));
  CHECK_STATUS(ondi_context_seq_copy(c, 0, 1, 40), ONDI_OK);
  CHECK(ondi_context_seq_length(c, 1) == 40);
  int32_t t1 = g.ids[40], p1 = 40, s1 = 1;
  uint8_t w1 = 1;
  CHECK_STATUS(ondi_context_decode(c, &t1, &p1, &s1, NULL, 1), ONDI_OK);
  CHECK(ondi_context_logits(c, 0) == NULL);
  CHECK_STATUS(ondi_context_seq_truncate(c, 1, 40), ONDI_OK);
  CHECK_STATUS(ondi_context_decode(c, &t1, &p1, &s1, &w1, 1), ONDI_OK);
  CHECK(ondi_context_logits(c, 0) && memcmp(ondi_context_logits(c, 0), at40, nv * sizeof(float)) == 0);
  free(at40);

  /* misuse: every failure leaves every sequence unchanged */
  const int32_t len0 = ondi_context_seq_length(c, 0), len1 = ondi_context_seq_length(c, 1);
  int32_t bad_pos = 7; /* not the sequence's length */
  CHECK_STATUS(ondi_context_decode(c, &t1, &bad_pos, &s1, &w1, 1), ONDI_ERR_INVALID_ARGUMENT);
  int32_t bad_seq = 2;
  CHECK_STATUS(ondi_context_decode(c, &t1, &p1, &bad_seq, &w1, 1), ONDI_ERR_INVALID_ARGUMENT);
  int32_t bad_tok = 512, p_next = len1;
  CHECK_STATUS(ondi_context_decode(c, &bad_tok, &p_next, &s1, &w1, 1), ONDI_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(ondi_context_decode(c, tok, pos, seq, want, 0), ONDI_ERR_INVALID_ARGUMENT);   /* n = 0 */
  CHECK_STATUS(ondi_context_decode(c, tok, pos, seq, want, 161), ONDI_ERR_INVALID_ARGUMENT); /* > n_batch */
  CHECK_STATUS(ondi_context_decode(c, NULL, pos, seq, want, 1), ONDI_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(ondi_context_decode(NULL, tok, pos, seq, want, 1), ONDI_ERR_INVALID_ARGUMENT);
  /* Past n_ctx: sequence 0 holds 80 of 128 positions; 49 more do not fit. */
  int32_t ft[49], fp[49], fs[49];
  for (int i = 0; i < 49; ++i) ft[i] = 1, fp[i] = len0 + i, fs[i] = 0;
  CHECK_STATUS(ondi_context_decode(c, ft, fp, fs, NULL, 49), ONDI_ERR_OUT_OF_RANGE);
  CHECK(ondi_context_seq_length(c, 0) == len0 && ondi_context_seq_length(c, 1) == len1);
  CHECK(ondi_context_seq_length(c, 2) == -1 && ondi_context_seq_length(c, -1) == -1);
  CHECK(ondi_context_seq_length(NULL, 0) == -1);
  CHECK_STATUS(ondi_context_seq_truncate(c, 5, 0), ONDI_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(ondi_context_seq_truncate(c, 0, -1), ONDI_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(ondi_context_seq_truncate(NULL, 0, 0), ONDI_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(ondi_context_seq_copy(c, 0, 9, 1), ONDI_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(ondi_context_seq_copy(c, 1, 0, len1 + 1), ONDI_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(ondi_context_seq_copy(NULL, 0, 1, 0), ONDI_ERR_INVALID_ARGUMENT);
  CHECK(ondi_context_logits(NULL, 0) == NULL);
  CHECK(ondi_context_kv_bytes(NULL) == 0);
  CHECK(ondi_context_n_vocab(NULL) <= 0);
  ondi_context_free(c);
  ondi_context_free(NULL);

  ondi_context* bad = (ondi_context*)1;
  CHECK_STATUS(ondi_context_create(NULL, NULL, &bad), ONDI_ERR_INVALID_ARGUMENT);
  CHECK(bad == NULL);
  CHECK_STATUS(ondi_context_create(m, NULL, NULL), ONDI_ERR_INVALID_ARGUMENT);
  p = ondi_context_params_default();
  p.n_seq = 0;
  CHECK_STATUS(ondi_context_create(m, &p, &bad), ONDI_ERR_INVALID_ARGUMENT);
  p = ondi_context_params_default();
  p.struct_size = 1;
  CHECK_STATUS(ondi_context_create(m, &p, &bad), ONDI_ERR_INVALID_ARGUMENT);
  free(g.ids);
  free(g.logits);
}

static void test_sampler(void) {
  const float logits[4] = {0.0f, 3.0f, 1.0f, -2.0f};
  ondi_sampler_params p = ondi_sampler_params_default();
  p.temperature = 0; /* greedy: the argmax */
  ondi_sampler* s = NULL;
  REQUIRE_OK(ondi_sampler_create(&p, 4, &s));
  CHECK(ondi_sampler_sample(s, logits) == 1);
  CHECK(logits[1] == 3.0f); /* not modified */
  ondi_sampler_accept(s, 1);
  ondi_sampler_reset(s);
  CHECK(ondi_sampler_sample(s, NULL) == -1);
  CHECK(ondi_sampler_sample(NULL, logits) == -1);
  ondi_sampler_accept(NULL, 1);
  ondi_sampler_reset(NULL);
  ondi_sampler_free(s);
  ondi_sampler_free(NULL);

  /* A -inf bias bans the argmax: greedy takes the runner-up (logit 1.0 at id 2). The arrays are copied. */
  int32_t ids[1] = {1};
  float vals[1] = {-INFINITY};
  p.logit_bias_ids = ids;
  p.logit_bias_values = vals;
  p.n_logit_bias = 1;
  REQUIRE_OK(ondi_sampler_create(&p, 4, &s));
  ids[0] = 2;
  vals[0] = 0;
  CHECK(ondi_sampler_sample(s, logits) == 2);
  ondi_sampler_free(s);

  /* A repeat penalty of 4 divides an accepted token's positive logit: 3 / 4 < 1, so id 2 wins after id 1 is
   * accepted; reset forgets it. */
  ondi_sampler_params r = ondi_sampler_params_default();
  r.temperature = 0;
  r.repeat_penalty = 4.0f;
  REQUIRE_OK(ondi_sampler_create(&r, 4, &s));
  ondi_sampler_accept(s, 1);
  CHECK(ondi_sampler_sample(s, logits) == 2);
  ondi_sampler_reset(s);
  CHECK(ondi_sampler_sample(s, logits) == 1);
  ondi_sampler_free(s);

  ondi_sampler* bad = (ondi_sampler*)1;
  CHECK_STATUS(ondi_sampler_create(&p, 0, &bad), ONDI_ERR_INVALID_ARGUMENT);
  CHECK(bad == NULL);
  CHECK_STATUS(ondi_sampler_create(&p, 4, NULL), ONDI_ERR_INVALID_ARGUMENT);
  ondi_sampler_params bs = ondi_sampler_params_default();
  bs.struct_size = 0;
  CHECK_STATUS(ondi_sampler_create(&bs, 4, &bad), ONDI_ERR_INVALID_ARGUMENT);
  bs = ondi_sampler_params_default();
  bs.n_logit_bias = 3; /* NULL arrays */
  CHECK_STATUS(ondi_sampler_create(&bs, 4, &bad), ONDI_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(ondi_sampler_create(NULL, 4, &bad), ONDI_OK); /* NULL: the defaults */
  ondi_sampler_free(bad);
}

static int eq(const char* text, size_t len, const char* want) {
  return len == strlen(want) && !memcmp(text, want, len);
}

static void test_text_stream(void) {
  const char* stops[1] = {"END"};
  ondi_text_stream* ts = NULL;
  REQUIRE_OK(ondi_text_stream_create(stops, 1, &ts));
  const char* text = NULL;
  size_t len = 99;
  int stopped = -1;
  /* "E" could start "END": held back. "\xC3" starts a 2-byte character: held back until "\xA9" completes é. */
  CHECK_STATUS(ondi_text_stream_push(ts, "ab E", 4, &text, &len, &stopped), ONDI_OK);
  CHECK(eq(text, len, "ab ") && stopped == 0);
  CHECK_STATUS(ondi_text_stream_push(ts, "x\xC3", 2, &text, &len, &stopped), ONDI_OK);
  CHECK(eq(text, len, "Ex") && stopped == 0);
  CHECK_STATUS(ondi_text_stream_push(ts, "\xA9 EN", 4, &text, &len, &stopped), ONDI_OK);
  CHECK(eq(text, len, "\xC3\xA9 ") && stopped == 0);
  CHECK_STATUS(ondi_text_stream_push(ts, "D tail", 6, &text, &len, &stopped), ONDI_OK);
  CHECK(len == 0 && stopped == 1); /* the stop string and what follows are dropped */
  ondi_text_stream_free(ts);

  /* Flush: an incomplete character at the end becomes U+FFFD. */
  REQUIRE_OK(ondi_text_stream_create(NULL, 0, &ts));
  CHECK_STATUS(ondi_text_stream_push(ts, "a\xE2\x82", 3, &text, &len, &stopped), ONDI_OK);
  CHECK(eq(text, len, "a"));
  CHECK_STATUS(ondi_text_stream_flush(ts, &text, &len, &stopped), ONDI_OK);
  CHECK(eq(text, len, "\xEF\xBF\xBD") && stopped == 0);
  CHECK_STATUS(ondi_text_stream_push(ts, NULL, 0, &text, &len, &stopped), ONDI_OK);
  CHECK(len == 0);

  /* misuse */
  CHECK_STATUS(ondi_text_stream_push(ts, NULL, 3, &text, &len, &stopped), ONDI_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(ondi_text_stream_push(ts, "a", 1, NULL, &len, &stopped), ONDI_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(ondi_text_stream_push(NULL, "a", 1, &text, &len, &stopped), ONDI_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(ondi_text_stream_flush(NULL, &text, &len, &stopped), ONDI_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(ondi_text_stream_flush(ts, &text, NULL, &stopped), ONDI_ERR_INVALID_ARGUMENT);
  ondi_text_stream_free(ts);
  ondi_text_stream_free(NULL);
  ondi_text_stream* bad = (ondi_text_stream*)1;
  CHECK_STATUS(ondi_text_stream_create(NULL, 2, &bad), ONDI_ERR_INVALID_ARGUMENT);
  CHECK(bad == NULL);
  const char* null_stop[1] = {NULL};
  CHECK_STATUS(ondi_text_stream_create(null_stop, 1, &bad), ONDI_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(ondi_text_stream_create(stops, 1, NULL), ONDI_ERR_INVALID_ARGUMENT);
}

int main(void) {
  ondi_model* m = NULL;
  REQUIRE_OK(ondi_model_load(golden_path("llama-math-f32.gguf"), NULL, &m));
  test_context(m);
  test_sampler();
  test_text_stream();
  ondi_model_free(m);
  return test_report("test_capi_batch");
}
