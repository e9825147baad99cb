/* A minimal C test harness for the C API tests: each CHECK prints the failing expression with its location and
 * counts; a test binary exits non-zero if any check failed. Plain C11 so that the tests see the API exactly as
 * a C integrator does (no C++ wrapper, no exceptions). */
#ifndef ONDI_CAPI_TEST_H
#define ONDI_CAPI_TEST_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ondi/ondi.h"

static int g_failures = 0;
static int g_checks = 0;

#define CHECK(cond)                                                            \
  do {                                                                         \
    ++g_checks;                                                                \
    if (!(cond)) {                                                             \
      ++g_failures;                                                            \
      fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
    }                                                                          \
  } while (0)

/* A call must return `want`; a failure must also leave a non-empty message. */
#define CHECK_STATUS(call, want)                                                                          \
  do {                                                                                                    \
    ondi_status got_ = (call);                                                                            \
    ++g_checks;                                                                                           \
    if (got_ != (want)) {                                                                                 \
      ++g_failures;                                                                                       \
      fprintf(stderr, "%s:%d: %s returned %s, expected %s (last error: %s)\n", __FILE__, __LINE__, #call, \
              ondi_status_name(got_), ondi_status_name(want), ondi_last_error());                         \
    } else if ((want) != ONDI_OK && ondi_last_error()[0] == '\0') {                                       \
      ++g_failures;                                                                                       \
      fprintf(stderr, "%s:%d: %s failed without a message\n", __FILE__, __LINE__, #call);                 \
    }                                                                                                     \
  } while (0)

/* Fatal: the rest of the test cannot run without it. */
#define REQUIRE_OK(call)                                                                                            \
  do {                                                                                                              \
    ondi_status got_ = (call);                                                                                      \
    if (got_ != ONDI_OK) {                                                                                          \
      fprintf(stderr, "%s:%d: %s: %s: %s\n", __FILE__, __LINE__, #call, ondi_status_name(got_), ondi_last_error()); \
      exit(1);                                                                                                      \
    }                                                                                                               \
  } while (0)

static int test_report(const char* name) {
  if (g_failures) {
    fprintf(stderr, "%s: %d of %d checks failed\n", name, g_failures, g_checks);
    return 1;
  }
  printf("%s: %d checks passed\n", name, g_checks);
  return 0;
}

/* Path of a file in the golden directory (ONDI_GOLDEN_DIR from the environment, else the build's default). */
static const char* golden_path(const char* file) {
  static char buf[4096];
  const char* dir = getenv("ONDI_GOLDEN_DIR");
  if (!dir || !dir[0]) dir = ONDI_GOLDEN_DIR;
  snprintf(buf, sizeof buf, "%s/%s", dir, file);
  return buf;
}

/* ---- golden *.logits (FORMAT.md): u32 magic "LGTS", n_tokens, n_vocab, n_kept, i32 ids[], f32 logits[][] ---- */
typedef struct golden {
  uint32_t n_tokens, n_vocab, n_kept;
  int32_t* ids;
  float* logits;
} golden;

/* Reads ../shared/golden/NAME; 0 if missing or malformed. The caller frees ids and logits. */
static inline int read_golden(const char* name, golden* g) {
  FILE* f = fopen(golden_path(name), "rb");
  if (!f) return 0;
  uint32_t hdr[4];
  int ok = fread(hdr, 4, 4, f) == 4 && hdr[0] == 0x5354474Cu;
  if (ok) {
    g->n_tokens = hdr[1];
    g->n_vocab = hdr[2];
    g->n_kept = hdr[3];
    g->ids = malloc(sizeof(int32_t) * g->n_tokens);
    g->logits = malloc(sizeof(float) * (size_t)g->n_kept * g->n_vocab);
    ok = g->ids && g->logits && fread(g->ids, 4, g->n_tokens, f) == g->n_tokens &&
         fread(g->logits, 4, (size_t)g->n_kept * g->n_vocab, f) == (size_t)g->n_kept * g->n_vocab;
  }
  fclose(f);
  return ok;
}

#endif /* ONDI_CAPI_TEST_H */
