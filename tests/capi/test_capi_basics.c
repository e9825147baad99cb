/* C API: versions, errors, type names, logging, GGUF authoring, model loading and inspection, including misuse
 * (NULL handles, bad struct_size, malformed files): every failure is a status and a message, never a crash.
 * Expected values come from FORMAT.md (the golden models' shapes) and the GGUF specification (header layout,
 * type numbers), not from ondi's own output. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

#include "capi_test.h"

static char g_tmpdir[256];

static unsigned char* read_file(const char* path, size_t* size) {
  FILE* f = fopen(path, "rb");
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  unsigned char* buf = malloc((size_t)n);
  if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
    free(buf);
    buf = NULL;
  }
  fclose(f);
  *size = (size_t)n;
  return buf;
}

static void test_versions_and_errors(void) {
  char want[64];
  snprintf(want, sizeof want, "%d.%d.%d", ONDI_VERSION_MAJOR, ONDI_VERSION_MINOR, ONDI_VERSION_PATCH);
  CHECK(strcmp(ondi_version(), want) == 0);
  CHECK(ondi_abi_version() == ONDI_ABI_VERSION);

  /* Every status has its own name; a number outside the enum is "UNKNOWN", not a crash. */
  const ondi_status all[] = {ONDI_OK,
                             ONDI_ERR_INVALID_ARGUMENT,
                             ONDI_ERR_IO,
                             ONDI_ERR_FORMAT,
                             ONDI_ERR_UNSUPPORTED,
                             ONDI_ERR_OUT_OF_MEMORY,
                             ONDI_ERR_OUT_OF_RANGE,
                             ONDI_ERR_CANCELLED,
                             ONDI_ERR_BUFFER_TOO_SMALL,
                             ONDI_ERR_INTERNAL};
  const size_t n = sizeof all / sizeof all[0];
  for (size_t i = 0; i < n; ++i) {
    CHECK(ondi_status_name(all[i]) != NULL);
    CHECK(strcmp(ondi_status_name(all[i]), "UNKNOWN") != 0);
    for (size_t j = 0; j < i; ++j) CHECK(strcmp(ondi_status_name(all[i]), ondi_status_name(all[j])) != 0);
  }
  CHECK(strcmp(ondi_status_name(ONDI_OK), "OK") == 0);
  CHECK(strcmp(ondi_status_name((ondi_status)99), "UNKNOWN") == 0);
  CHECK(ondi_last_error() != NULL);
}

static void test_type_names(void) {
  /* GGUF's ggml_type numbers (the specification's table). */
  CHECK(strcmp(ondi_type_name(ONDI_TYPE_F32), "F32") == 0);
  CHECK(strcmp(ondi_type_name(ONDI_TYPE_Q4_K), "Q4_K") == 0);
  CHECK(strcmp(ondi_type_name(30), "BF16") == 0);
  CHECK(strcmp(ondi_type_name(20), "IQ4_NL") == 0);
  CHECK(ondi_type_name(4) == NULL); /* Q4_2: removed from GGUF, never supported */
  CHECK(ondi_type_name(-1) == NULL);
  CHECK(ondi_type_name(1000000) == NULL);
  CHECK(ondi_type_from_name("q4_k") == 12);
  CHECK(ondi_type_from_name("Q8_0") == 8);
  CHECK(ondi_type_from_name("f16") == 1);
  CHECK(ondi_type_from_name("nope") == -1);
  CHECK(ondi_type_from_name("") == -1);
  CHECK(ondi_type_from_name(NULL) == -1);
}

static int g_log_calls = 0;
static void log_sink(ondi_log_level level, const char* message, void* user) {
  (void)level;
  (void)message;
  ++*(int*)user;
}

static void test_logging(void) {
  ondi_set_log_callback(log_sink, &g_log_calls, ONDI_LOG_DEBUG);
  /* Whatever the library logs while a malformed model is rejected goes to the sink (not asserted: logging is
   * not part of the contract), and restoring the default sink must work. */
  ondi_model* m = NULL;
  CHECK_STATUS(ondi_model_load("/nonexistent/model.gguf", NULL, &m), ONDI_ERR_IO);
  ondi_set_log_callback(NULL, NULL, ONDI_LOG_WARN);
  ondi_set_log_callback(NULL, NULL, (ondi_log_level)42); /* out-of-range level: no crash */
  ondi_set_log_callback(NULL, NULL, ONDI_LOG_WARN);
}

static uint32_t le32(const unsigned char* p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static uint64_t le64(const unsigned char* p) { return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32; }

static void test_gguf_writer(void) {
  ondi_gguf_writer* w = ondi_gguf_writer_create();
  CHECK(w != NULL);
  if (!w) return;
  CHECK_STATUS(ondi_gguf_writer_set_str(w, "general.architecture", "llama"), ONDI_OK);
  CHECK_STATUS(ondi_gguf_writer_set_u32(w, "llama.block_count", 1), ONDI_OK);
  CHECK_STATUS(ondi_gguf_writer_set_i32(w, "test.i32", -5), ONDI_OK);
  CHECK_STATUS(ondi_gguf_writer_set_f32(w, "test.f32", 0.5f), ONDI_OK);
  CHECK_STATUS(ondi_gguf_writer_set_bool(w, "test.bool", 1), ONDI_OK);
  const int32_t ints[3] = {1, 2, 3};
  const float floats[2] = {1.5f, -2.0f};
  const char* strs[2] = {"a", "b"};
  CHECK_STATUS(ondi_gguf_writer_set_arr(w, "test.ints", ONDI_GGUF_INT32, ints, 3), ONDI_OK);
  CHECK_STATUS(ondi_gguf_writer_set_arr(w, "test.floats", ONDI_GGUF_FLOAT32, floats, 2), ONDI_OK);
  CHECK_STATUS(ondi_gguf_writer_set_arr(w, "test.empty", ONDI_GGUF_INT32, NULL, 0), ONDI_OK);
  CHECK_STATUS(ondi_gguf_writer_set_arr_str(w, "test.strs", strs, 2), ONDI_OK);
  float data[64];
  for (int i = 0; i < 64; ++i) data[i] = (float)i / 8.0f;
  const int64_t ne[2] = {32, 2};
  CHECK_STATUS(ondi_gguf_writer_add_tensor_f32(w, "t.q8", ONDI_TYPE_Q8_0, 2, ne, data), ONDI_OK);
  CHECK_STATUS(ondi_gguf_writer_add_tensor_f32(w, "t.f32", ONDI_TYPE_F32, 2, ne, data), ONDI_OK);

  /* misuse */
  CHECK_STATUS(ondi_gguf_writer_set_u32(NULL, "k", 1), ONDI_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(ondi_gguf_writer_set_i32(w, NULL, 1), ONDI_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(ondi_gguf_writer_set_f32(w, "", 1.0f), ONDI_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(ondi_gguf_writer_set_bool(NULL, "k", 1), ONDI_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(ondi_gguf_writer_set_str(w, "k", NULL), ONDI_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(ondi_gguf_writer_set_arr(w, "k", ONDI_GGUF_INT32, NULL, 2), ONDI_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(ondi_gguf_writer_set_arr(w, "k", ONDI_GGUF_STRING, ints, 2), ONDI_ERR_UNSUPPORTED);
  CHECK_STATUS(ondi_gguf_writer_set_arr_str(w, "k", NULL, 1), ONDI_ERR_INVALID_ARGUMENT);
  const char* bad_strs[2] = {"a", NULL};
  CHECK_STATUS(ondi_gguf_writer_set_arr_str(w, "k", bad_strs, 2), ONDI_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(ondi_gguf_writer_add_tensor_f32(NULL, "x", ONDI_TYPE_F32, 2, ne, data), ONDI_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(ondi_gguf_writer_add_tensor_f32(w, NULL, ONDI_TYPE_F32, 2, ne, data), ONDI_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(ondi_gguf_writer_add_tensor_f32(w, "x", ONDI_TYPE_F32, 0, ne, data), ONDI_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(ondi_gguf_writer_add_tensor_f32(w, "x", ONDI_TYPE_F32, 5, ne, data), ONDI_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(ondi_gguf_writer_add_tensor_f32(w, "x", ONDI_TYPE_F32, 2, NULL, data), ONDI_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(ondi_gguf_writer_add_tensor_f32(w, "x", ONDI_TYPE_F32, 2, ne, NULL), ONDI_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(ondi_gguf_writer_add_tensor_f32(w, "x", (ondi_type)4, 2, ne, data), ONDI_ERR_UNSUPPORTED);
  const int64_t ne_odd[1] = {31}; /* Q4_0 blocks hold 32 elements */
  CHECK_STATUS(ondi_gguf_writer_add_tensor_f32(w, "x", ONDI_TYPE_Q4_0, 1, ne_odd, data), ONDI_ERR_INVALID_ARGUMENT);
  const int64_t ne_neg[2] = {32, -1};
  CHECK_STATUS(ondi_gguf_writer_add_tensor_f32(w, "x", ONDI_TYPE_F32, 2, ne_neg, data), ONDI_ERR_INVALID_ARGUMENT);
  const int64_t ne_huge[4] = {INT64_MAX / 2, 4, 1, 1};
  CHECK_STATUS(ondi_gguf_writer_add_tensor_f32(w, "x", ONDI_TYPE_F32, 4, ne_huge, data), ONDI_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(ondi_gguf_writer_write(NULL, "x"), ONDI_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(ondi_gguf_writer_write(w, NULL), ONDI_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(ondi_gguf_writer_write(w, "/nonexistent-dir/x.gguf"), ONDI_ERR_IO);

  char path[512];
  snprintf(path, sizeof path, "%s/writer.gguf", g_tmpdir);
  CHECK_STATUS(ondi_gguf_writer_write(w, path), ONDI_OK);
  ondi_gguf_writer_free(w);
  ondi_gguf_writer_free(NULL);

  /* GGUF v3 header: magic "GGUF", u32 version 3, u64 tensor count, u64 metadata count. */
  size_t size = 0;
  unsigned char* bytes = read_file(path, &size);
  CHECK(bytes != NULL && size > 24);
  if (bytes && size > 24) {
    CHECK(memcmp(bytes, "GGUF", 4) == 0);
    CHECK(le32(bytes + 4) == 3);
    CHECK(le64(bytes + 8) == 2);
    CHECK(le64(bytes + 16) == 9);
  }
  free(bytes);

  /* Well-formed GGUF, but not a model: a clear error, no crash. */
  ondi_model* m = NULL;
  ondi_status st = ondi_model_load(path, NULL, &m);
  CHECK(st != ONDI_OK && m == NULL);
  CHECK(ondi_last_error()[0] != '\0');
}

static void check_math_info(const ondi_model* m, const char* path) {
  ondi_model_info info;
  memset(&info, 0, sizeof info);
  info.struct_size = sizeof info;
  CHECK_STATUS(ondi_model_get_info(m, &info), ONDI_OK);
  /* FORMAT.md: llama, dim 256, 2 layers, 8 heads, 2 KV heads, FFN 768, vocab 512, rope base 500000, eps 1e-5. */
  CHECK(info.architecture && strcmp(info.architecture, "llama") == 0);
  CHECK(info.name != NULL);
  CHECK(info.n_embd == 256 && info.n_layer == 2 && info.n_head == 8 && info.n_head_kv == 2);
  CHECK(info.head_dim == 32 && info.n_ff == 768 && info.n_vocab == 512);
  CHECK(info.rope_base == 500000.0f);
  CHECK(info.rms_eps > 0.99e-5f && info.rms_eps < 1.01e-5f);
  CHECK(info.gguf_version == 3);
  CHECK(info.has_tokenizer == 0);
  struct stat sb;
  CHECK(stat(path, &sb) == 0 && info.file_size == (uint64_t)sb.st_size);
  CHECK(info.weight_bytes > 0 && info.weight_bytes <= info.file_size);
  CHECK(info.n_params > 0);
}

static void test_models(void) {
  const char* path = golden_path("llama-math-f32.gguf");
  ondi_model* m = (ondi_model*)1;

  /* misuse */
  CHECK_STATUS(ondi_model_load(path, NULL, NULL), ONDI_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(ondi_model_load(NULL, NULL, &m), ONDI_ERR_INVALID_ARGUMENT);
  CHECK(m == NULL); /* *out is cleared on failure */
  CHECK_STATUS(ondi_model_load("/nonexistent/model.gguf", NULL, &m), ONDI_ERR_IO);
  ondi_model_params bad = ondi_model_params_default();
  bad.struct_size = 0;
  CHECK_STATUS(ondi_model_load(path, &bad, &m), ONDI_ERR_INVALID_ARGUMENT);
  bad.struct_size = (size_t)1 << 40;
  CHECK_STATUS(ondi_model_load(path, &bad, &m), ONDI_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(ondi_model_load_from_memory(NULL, 10, NULL, &m), ONDI_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(ondi_model_load_from_memory("GGUF", 4, NULL, NULL), ONDI_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(ondi_model_load_from_memory("GGUF", 4, NULL, &m), ONDI_ERR_FORMAT);
  CHECK_STATUS(ondi_model_load_from_memory("", 0, NULL, &m), ONDI_ERR_FORMAT);
  CHECK_STATUS(ondi_model_load_from_fd(-1, 0, 0, NULL, &m), ONDI_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(ondi_model_load_from_fd(0, 0, 0, NULL, NULL), ONDI_ERR_INVALID_ARGUMENT);

  /* From a path. */
  ondi_model_params p = ondi_model_params_default();
  CHECK(p.struct_size == sizeof(ondi_model_params));
  REQUIRE_OK(ondi_model_load(path, &p, &m));
  check_math_info(m, path);

  ondi_model_info info;
  memset(&info, 0, sizeof info);
  CHECK_STATUS(ondi_model_get_info(m, &info), ONDI_ERR_INVALID_ARGUMENT); /* struct_size not set */
  info.struct_size = sizeof info;
  CHECK_STATUS(ondi_model_get_info(NULL, &info), ONDI_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(ondi_model_get_info(m, NULL), ONDI_ERR_INVALID_ARGUMENT);

  /* A caller compiled against a newer header passes a bigger struct: the fields this library knows are
   * written, the tail it does not know is left alone. */
  struct {
    ondi_model_info info;
    unsigned char tail[16];
  } newer;
  memset(&newer, 0xAB, sizeof newer);
  newer.info.struct_size = sizeof newer;
  CHECK_STATUS(ondi_model_get_info(m, &newer.info), ONDI_OK);
  CHECK(newer.info.n_embd == 256 && newer.info.struct_size == sizeof newer);
  for (size_t i = 0; i < sizeof newer.tail; ++i) CHECK(newer.tail[i] == 0xAB);
  info.struct_size = sizeof info - 1; /* shorter than any version of the struct */
  CHECK_STATUS(ondi_model_get_info(m, &info), ONDI_ERR_INVALID_ARGUMENT);
  info.struct_size = sizeof info;
  CHECK_STATUS(ondi_model_get_info(m, &info), ONDI_OK);

  /* Metadata */
  const int64_t n_meta = ondi_model_meta_count(m);
  CHECK(n_meta > 0);
  CHECK(ondi_model_meta_count(NULL) == 0);
  int found_arch = 0;
  for (int64_t i = 0; i < n_meta; ++i) {
    const char *key = NULL, *value = NULL;
    ondi_gguf_value_type type = (ondi_gguf_value_type)-1;
    CHECK_STATUS(ondi_model_meta_at(m, i, &key, &value, &type), ONDI_OK);
    CHECK(key != NULL && value != NULL);
    if (key && strcmp(key, "general.architecture") == 0) {
      found_arch = 1;
      CHECK(type == ONDI_GGUF_STRING);
    }
  }
  CHECK(found_arch);
  CHECK_STATUS(ondi_model_meta_at(m, 0, NULL, NULL, NULL), ONDI_OK);
  CHECK_STATUS(ondi_model_meta_at(m, n_meta, NULL, NULL, NULL), ONDI_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(ondi_model_meta_at(m, -1, NULL, NULL, NULL), ONDI_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(ondi_model_meta_at(NULL, 0, NULL, NULL, NULL), ONDI_ERR_INVALID_ARGUMENT);
  const char* arch = NULL;
  CHECK_STATUS(ondi_model_meta_str(m, "general.architecture", &arch), ONDI_OK);
  CHECK(arch && strcmp(arch, "llama") == 0);
  CHECK_STATUS(ondi_model_meta_str(m, "no.such.key", &arch), ONDI_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(ondi_model_meta_str(m, "llama.block_count", &arch), ONDI_ERR_INVALID_ARGUMENT); /* not a string */
  CHECK_STATUS(ondi_model_meta_str(m, NULL, &arch), ONDI_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(ondi_model_meta_str(m, "general.architecture", NULL), ONDI_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(ondi_model_meta_str(NULL, "general.architecture", &arch), ONDI_ERR_INVALID_ARGUMENT);

  /* Tensors: FORMAT.md's llama-math has token_embd, output_norm, rope_freqs and 9 tensors per layer (attn_norm,
   * attn_q/k/v/output, ffn_norm, ffn_gate/up/down) in 2 layers, no output.weight (tied): 3 + 18 = 21. */
  const int64_t n_t = ondi_model_tensor_count(m);
  CHECK(n_t == 21);
  CHECK(ondi_model_tensor_count(NULL) == 0);
  int found_embd = 0;
  for (int64_t i = 0; i < n_t; ++i) {
    ondi_tensor_info ti;
    memset(&ti, 0, sizeof ti);
    ti.struct_size = sizeof ti;
    CHECK_STATUS(ondi_model_tensor_at(m, i, &ti), ONDI_OK);
    CHECK(ti.name != NULL && ti.offset + ti.n_bytes <= info.file_size);
    if (ti.name && strcmp(ti.name, "token_embd.weight") == 0) {
      found_embd = 1;
      CHECK(ti.type == ONDI_TYPE_F32 && ti.n_dims == 2 && ti.ne[0] == 256 && ti.ne[1] == 512);
      CHECK(ti.n_bytes == 256u * 512u * 4u);
    }
    CHECK(ti.name == NULL || strcmp(ti.name, "output.weight") != 0);
  }
  CHECK(found_embd);
  ondi_tensor_info ti;
  memset(&ti, 0, sizeof ti);
  CHECK_STATUS(ondi_model_tensor_at(m, 0, &ti), ONDI_ERR_INVALID_ARGUMENT); /* struct_size not set */
  ti.struct_size = sizeof ti;
  CHECK_STATUS(ondi_model_tensor_at(m, n_t, &ti), ONDI_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(ondi_model_tensor_at(m, -1, &ti), ONDI_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(ondi_model_tensor_at(NULL, 0, &ti), ONDI_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(ondi_model_tensor_at(m, 0, NULL), ONDI_ERR_INVALID_ARGUMENT);
  ondi_model_free(m);
  ondi_model_free(NULL);

  /* From memory: the whole file, then a truncated copy (a clear FORMAT error naming what is missing). */
  size_t size = 0;
  unsigned char* bytes = read_file(path, &size);
  CHECK(bytes != NULL);
  if (bytes) {
    ondi_model* mm = NULL;
    CHECK_STATUS(ondi_model_load_from_memory(bytes, size, NULL, &mm), ONDI_OK);
    if (mm) check_math_info(mm, path);
    ondi_model_free(mm);
    CHECK_STATUS(ondi_model_load_from_memory(bytes, size / 2, NULL, &mm), ONDI_ERR_FORMAT);
    CHECK(mm == NULL);
    CHECK_STATUS(ondi_model_load_from_memory(bytes, size, &bad, &mm), ONDI_ERR_INVALID_ARGUMENT);

    /* From an fd, the model embedded at an offset in a bigger file (an app bundle), fd closed afterwards. */
    char bundle[512];
    snprintf(bundle, sizeof bundle, "%s/bundle.bin", g_tmpdir);
    FILE* f = fopen(bundle, "wb");
    CHECK(f != NULL);
    if (f) {
      static const char pad[4096] = {0};
      fwrite(pad, 1, sizeof pad, f);
      fwrite(bytes, 1, size, f);
      fwrite(pad, 1, 100, f);
      fclose(f);
      int fd = open(bundle, O_RDONLY);
      CHECK(fd >= 0);
      ondi_model* fm = NULL;
      CHECK_STATUS(ondi_model_load_from_fd(fd, sizeof pad, size, NULL, &fm), ONDI_OK);
      ondi_model* fm2 = NULL;
      CHECK_STATUS(ondi_model_load_from_fd(fd, sizeof pad, size, &bad, &fm2), ONDI_ERR_INVALID_ARGUMENT);
      CHECK_STATUS(ondi_model_load_from_fd(fd, 0, 0, NULL, &fm2), ONDI_ERR_FORMAT); /* padding is not GGUF */
      CHECK_STATUS(ondi_model_load_from_fd(fd, (uint64_t)1 << 40, 0, NULL, &fm2), ONDI_ERR_INVALID_ARGUMENT);
      CHECK_STATUS(ondi_model_load_from_fd(fd, sizeof pad, (uint64_t)1 << 40, NULL, &fm2), ONDI_ERR_INVALID_ARGUMENT);
      close(fd);
      if (fm) check_math_info(fm, path);
      ondi_model_free(fm);
      unlink(bundle);
    }
    free(bytes);
  }
}

int main(void) {
  const char* tmp = getenv("TMPDIR");
  snprintf(g_tmpdir, sizeof g_tmpdir, "%s/ondi-capi-XXXXXX", tmp && tmp[0] ? tmp : "/tmp");
  if (!mkdtemp(g_tmpdir)) {
    perror("mkdtemp");
    return 1;
  }
  test_versions_and_errors();
  test_type_names();
  test_logging();
  test_gguf_writer();
  test_models();
  char path[512];
  snprintf(path, sizeof path, "%s/writer.gguf", g_tmpdir);
  unlink(path);
  rmdir(g_tmpdir);
  return test_report("test_capi_basics");
}
