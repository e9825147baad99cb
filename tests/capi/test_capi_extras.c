/* C API: memory plans, session files and token lists, chat templates; with misuse. Oracles: hand-derived
 * sizes (the F16 KV cache), bit-identical continuation after a save/load round trip (the reproducibility
 * contract), and Jinja semantics worked out by hand for small templates. */
#define _GNU_SOURCE
#include <stdint.h>
#include <unistd.h>

#include "capi_test.h"

static char g_tmpdir[256];

static ondi_session* new_session(const ondi_model* m, int32_t n_ctx) {
  ondi_session_params p = ondi_session_params_default();
  p.n_ctx = n_ctx;
  p.n_threads = 2;
  ondi_session* s = NULL;
  REQUIRE_OK(ondi_session_create(m, &p, &s));
  return s;
}

static void test_memory_plan(const ondi_model* m) {
  ondi_session_params p = ondi_session_params_default();
  p.n_ctx = 128;
  ondi_memory_plan plan;
  memset(&plan, 0, sizeof plan);
  plan.struct_size = sizeof plan;
  CHECK_STATUS(ondi_model_memory_plan(m, &p, &plan), ONDI_OK);
  /* llama-math: 2 layers * 128 positions * (K + V rows of 2 KV heads * 32) * 2 bytes (F16). */
  CHECK(plan.kv_cache == 65536u);
  CHECK(plan.n_ctx == 128);
  CHECK(plan.total >= plan.kv_cache + plan.weights_resident);
  CHECK(plan.file_bytes > 0);
  ondi_memory_plan bad;
  memset(&bad, 0, sizeof bad);
  CHECK_STATUS(ondi_model_memory_plan(m, &p, &bad), ONDI_ERR_INVALID_ARGUMENT); /* struct_size not set */
  CHECK_STATUS(ondi_model_memory_plan(NULL, &p, &plan), ONDI_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(ondi_model_memory_plan(m, &p, NULL), ONDI_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(ondi_model_memory_plan(m, NULL, &plan), ONDI_OK); /* NULL: the defaults */
  CHECK(plan.n_ctx == 4096);
}

static void test_session_files(const ondi_model* m, const ondi_model* other) {
  /* Five arbitrary in-vocabulary ids (vocab 512) */
  const int32_t ids[5] = {1, 100, 200, 300, 511};
  ondi_session* a = new_session(m, 64);
  CHECK_STATUS(ondi_session_eval(a, ids, 4, 0, NULL), ONDI_OK);

  /* Token list: the size query, a small buffer, then the ids. */
  size_t n = 0;
  CHECK_STATUS(ondi_session_tokens(a, NULL, &n), ONDI_ERR_BUFFER_TOO_SMALL);
  CHECK(n == 4);
  int32_t got[8];
  size_t small = 2;
  CHECK_STATUS(ondi_session_tokens(a, got, &small), ONDI_ERR_BUFFER_TOO_SMALL);
  CHECK(small == 4);
  size_t cap = 8;
  CHECK_STATUS(ondi_session_tokens(a, got, &cap), ONDI_OK);
  CHECK(cap == 4 && memcmp(got, ids, 4 * sizeof(int32_t)) == 0);
  CHECK_STATUS(ondi_session_tokens(NULL, got, &cap), ONDI_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(ondi_session_tokens(a, got, NULL), ONDI_ERR_INVALID_ARGUMENT);

  char path[512];
  snprintf(path, sizeof path, "%s/a.session", g_tmpdir);
  CHECK_STATUS(ondi_session_save(a, path), ONDI_OK);
  ondi_session* b = new_session(m, 64);
  CHECK_STATUS(ondi_session_load(b, path), ONDI_OK);
  CHECK(ondi_session_length(b) == 4);
  cap = 8;
  CHECK_STATUS(ondi_session_tokens(b, got, &cap), ONDI_OK);
  CHECK(cap == 4 && memcmp(got, ids, 4 * sizeof(int32_t)) == 0);
  /* Continuing in the restored session gives the same logits, bit for bit. */
  float la[512], lb[512];
  CHECK_STATUS(ondi_session_eval(a, ids + 4, 1, 1, la), ONDI_OK);
  CHECK_STATUS(ondi_session_eval(b, ids + 4, 1, 1, lb), ONDI_OK);
  CHECK(memcmp(la, lb, sizeof la) == 0);

  /* Corrupt, truncated, missing, or another model's file: an error, and the session is unchanged. */
  FILE* f = fopen(path, "r+b");
  CHECK(f != NULL);
  if (f) {
    fseek(f, 0, SEEK_END);
    const long size = ftell(f);
    fseek(f, size / 2, SEEK_SET);
    int c = fgetc(f);
    fseek(f, size / 2, SEEK_SET);
    fputc(c ^ 0x5A, f);
    fclose(f);
    CHECK(ondi_session_load(b, path) != ONDI_OK && ondi_last_error()[0] != '\0');
    CHECK(ondi_session_length(b) == 5);
    CHECK(truncate(path, size / 3) == 0);
    CHECK(ondi_session_load(b, path) != ONDI_OK && ondi_last_error()[0] != '\0');
    CHECK(ondi_session_length(b) == 5);
  }
  char missing[512];
  snprintf(missing, sizeof missing, "%s/missing.session", g_tmpdir);
  CHECK_STATUS(ondi_session_load(b, missing), ONDI_ERR_IO);
  CHECK_STATUS(ondi_session_save(a, path), ONDI_OK);
  ondi_session* o = new_session(other, 64);
  CHECK(ondi_session_load(o, path) != ONDI_OK && ondi_last_error()[0] != '\0');
  CHECK(ondi_session_length(o) == 0);
  ondi_session_free(o);
  ondi_session* tiny = new_session(m, 2); /* the saved 5 tokens do not fit 2 positions */
  CHECK(ondi_session_load(tiny, path) != ONDI_OK && ondi_last_error()[0] != '\0');
  ondi_session_free(tiny);
  CHECK_STATUS(ondi_session_save(NULL, path), ONDI_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(ondi_session_save(a, NULL), ONDI_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(ondi_session_load(NULL, path), ONDI_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(ondi_session_load(a, NULL), ONDI_ERR_INVALID_ARGUMENT);
  CHECK(ondi_session_save(a, "/nonexistent-dir/a.session") == ONDI_ERR_IO);
  unlink(path);
  ondi_session_free(a);
  ondi_session_free(b);
}

static void test_chat(const ondi_model* tok_model) {
  const char* tmpl =
      "{% for m in messages %}[{{ m.role }}]{{ m.content }}{% endfor %}"
      "{% if add_generation_prompt %}[assistant]{% endif %}";
  const ondi_chat_message msgs[2] = {{"system", "be brief"}, {"user", "hi"}};
  const char* want = "[system]be brief[user]hi[assistant]";
  size_t need = 0;
  CHECK_STATUS(ondi_chat_apply_template(NULL, tmpl, msgs, 2, 1, NULL, &need), ONDI_ERR_BUFFER_TOO_SMALL);
  CHECK(need == strlen(want));
  char buf[128];
  size_t small = 5;
  CHECK_STATUS(ondi_chat_apply_template(NULL, tmpl, msgs, 2, 1, buf, &small), ONDI_ERR_BUFFER_TOO_SMALL);
  CHECK(small == strlen(want));
  size_t size = sizeof buf;
  CHECK_STATUS(ondi_chat_apply_template(NULL, tmpl, msgs, 2, 1, buf, &size), ONDI_OK);
  CHECK(size == strlen(want) && strcmp(buf, want) == 0); /* NUL-terminated: capacity exceeded the length */
  size = sizeof buf;
  CHECK_STATUS(ondi_chat_apply_template(tok_model, tmpl, msgs, 2, 0, buf, &size), ONDI_OK);
  CHECK(size == strlen("[system]be brief[user]hi") && memcmp(buf, "[system]be brief[user]hi", size) == 0);

  /* The JSON form renders the same conversation the same way; extra variables reach the template. */
  const char* json = "[{\"role\":\"system\",\"content\":\"be brief\"},{\"role\":\"user\",\"content\":\"hi\"}]";
  size = sizeof buf;
  CHECK_STATUS(ondi_chat_apply_template_json(NULL, tmpl, json, NULL, NULL, 1, buf, &size), ONDI_OK);
  CHECK(size == strlen(want) && memcmp(buf, want, size) == 0);
  size = sizeof buf;
  CHECK_STATUS(
      ondi_chat_apply_template_json(NULL, "{{ greeting }}!", "[]", NULL, "{\"greeting\":\"hey\"}", 0, buf, &size),
      ONDI_OK);
  CHECK(size == 4 && memcmp(buf, "hey!", 4) == 0);

  /* The model's own template, when the file carries one. */
  const char* own = ondi_model_chat_template(tok_model);
  size = sizeof buf;
  if (own == NULL)
    CHECK_STATUS(ondi_chat_apply_template(tok_model, NULL, msgs, 2, 1, buf, &size), ONDI_ERR_INVALID_ARGUMENT);
  CHECK(ondi_model_chat_template(NULL) == NULL);

  /* misuse: template errors name a position; bad JSON, NULL arrays and strings are errors */
  size = sizeof buf;
  CHECK_STATUS(ondi_chat_apply_template(NULL, "{% for %}", msgs, 2, 1, buf, &size), ONDI_ERR_FORMAT);
  size = sizeof buf;
  CHECK_STATUS(ondi_chat_apply_template(NULL, "{{ 1 + }}", msgs, 2, 1, buf, &size), ONDI_ERR_FORMAT);
  size = sizeof buf;
  CHECK_STATUS(ondi_chat_apply_template(NULL, NULL, msgs, 2, 1, buf, &size), ONDI_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(ondi_chat_apply_template(NULL, tmpl, NULL, 2, 1, buf, &size), ONDI_ERR_INVALID_ARGUMENT);
  const ondi_chat_message null_role[1] = {{NULL, "x"}};
  CHECK_STATUS(ondi_chat_apply_template(NULL, tmpl, null_role, 1, 1, buf, &size), ONDI_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(ondi_chat_apply_template(NULL, tmpl, msgs, 2, 1, buf, NULL), ONDI_ERR_INVALID_ARGUMENT);
  size = sizeof buf;
  CHECK(ondi_chat_apply_template_json(NULL, tmpl, "[{\"role\":", NULL, NULL, 1, buf, &size) != ONDI_OK);
  CHECK(ondi_last_error()[0] != '\0');
  size = sizeof buf;
  CHECK(ondi_chat_apply_template_json(NULL, tmpl, json, NULL, "[1]", 1, buf, &size) != ONDI_OK);
  CHECK(ondi_last_error()[0] != '\0');
  CHECK_STATUS(ondi_chat_apply_template_json(NULL, tmpl, NULL, NULL, NULL, 1, buf, &size), ONDI_ERR_INVALID_ARGUMENT);
}

/* ondi_model_quantize: misuse gives an error and leaves no file; a real run writes the same per-tensor types as the
 * reference quantizer's own file of that type (the golden llama-math-Q8_0.gguf), and the result loads. */
static void test_quantize(void) {
  const char* isa = ondi_kernel_isa();
  CHECK(isa != NULL && isa[0] != '\0');
  ondi_quantize_params qp = ondi_quantize_params_default();
  CHECK(qp.struct_size == sizeof qp && qp.n_threads == 0);
  ondi_quantize_params_init(NULL, sizeof qp); /* must not crash */
  char out[600], missing_dir[600];
  snprintf(out, sizeof out, "%s/q.gguf", g_tmpdir);
  snprintf(missing_dir, sizeof missing_dir, "%s/no/such/dir/q.gguf", g_tmpdir);
  char f32[600]; /* golden_path() reuses one buffer: keep a copy */
  snprintf(f32, sizeof f32, "%s", golden_path("llama-math-f32.gguf"));
  CHECK_STATUS(ondi_model_quantize(NULL, out, ONDI_FTYPE_Q8_0, NULL), ONDI_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(ondi_model_quantize(f32, NULL, ONDI_FTYPE_Q8_0, NULL), ONDI_ERR_INVALID_ARGUMENT);
  CHECK(ondi_model_quantize(f32, out, 99, NULL) != ONDI_OK && ondi_last_error()[0] != '\0');
  CHECK(access(out, F_OK) != 0);
  ondi_quantize_params bad = qp;
  bad.struct_size = 1;
  CHECK_STATUS(ondi_model_quantize(f32, out, ONDI_FTYPE_Q8_0, &bad), ONDI_ERR_INVALID_ARGUMENT);
  CHECK(ondi_model_quantize(golden_path("llama-math-Q8_0.gguf"), out, ONDI_FTYPE_Q4_0, NULL) != ONDI_OK);
  CHECK(access(out, F_OK) != 0);
  CHECK(ondi_model_quantize(golden_path("no-such-model.gguf"), out, ONDI_FTYPE_Q4_0, NULL) != ONDI_OK);
  CHECK(ondi_model_quantize(f32, missing_dir, ONDI_FTYPE_Q8_0, NULL) != ONDI_OK);
  CHECK(access(missing_dir, F_OK) != 0);

  qp.n_threads = 2;
  REQUIRE_OK(ondi_model_quantize(f32, out, ONDI_FTYPE_Q8_0, &qp));
  ondi_model *ours = NULL, *ref = NULL;
  REQUIRE_OK(ondi_model_load(out, NULL, &ours));
  REQUIRE_OK(ondi_model_load(golden_path("llama-math-Q8_0.gguf"), NULL, &ref));
  CHECK(ondi_model_tensor_count(ours) == ondi_model_tensor_count(ref));
  for (int64_t i = 0; i < ondi_model_tensor_count(ref); ++i) {
    ondi_tensor_info a, b;
    a.struct_size = b.struct_size = sizeof a;
    REQUIRE_OK(ondi_model_tensor_at(ref, i, &a));
    int found = 0;
    for (int64_t j = 0; j < ondi_model_tensor_count(ours); ++j) {
      REQUIRE_OK(ondi_model_tensor_at(ours, j, &b));
      if (strcmp(a.name, b.name) == 0) {
        found = 1;
        CHECK(a.type == b.type);
        break;
      }
    }
    CHECK(found);
  }
  ondi_model_free(ours);
  ondi_model_free(ref);
  unlink(out);
}

int main(void) {
  const char* tmp = getenv("TMPDIR");
  snprintf(g_tmpdir, sizeof g_tmpdir, "%s/ondi-capi-XXXXXX", tmp && tmp[0] ? tmp : "/tmp");
  if (!mkdtemp(g_tmpdir)) {
    perror("mkdtemp");
    return 1;
  }
  ondi_model *math = NULL, *qwen = NULL, *tok = NULL;
  REQUIRE_OK(ondi_model_load(golden_path("llama-math-f32.gguf"), NULL, &math));
  REQUIRE_OK(ondi_model_load(golden_path("qwen2-math-Q8_0.gguf"), NULL, &qwen));
  REQUIRE_OK(ondi_model_load(golden_path("llama3-tok-f16.gguf"), NULL, &tok));
  test_memory_plan(math);
  test_session_files(math, qwen);
  test_chat(tok);
  test_quantize();
  ondi_model_free(math);
  ondi_model_free(qwen);
  ondi_model_free(tok);
  rmdir(g_tmpdir);
  return test_report("test_capi_extras");
}
