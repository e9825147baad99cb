/* Prefill and decode speed of a model through the public C API, for docs/PERFORMANCE.md.
 *
 *   bench_speed MODEL [-t THREADS] [-r REPS] [-p N]... [-n DECODE_TOKENS]
 *
 * Prefill: a fresh session evaluates N tokens (one n_batch chunk when N <= 512) and returns the last token's
 * logits; tokens/s = N / time. Decode: after a 16-token prompt, N_DECODE single-token evaluations, each
 * returning logits (what generation does before sampling); tokens/s = N_DECODE / time. Each figure is the
 * median of REPS runs after one warm-up run (which also faults the mapped weights in). Token ids are
 * arbitrary (kernel speed does not depend on them); the kernel set is the one dispatch picks (ONDI_KERNELS
 * overrides it). */
#include <ondi/ondi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_double(const void* a, const void* b) {
  const double x = *(const double*)a, y = *(const double*)b;
  return (x > y) - (x < y);
}

static double median(double* v, int n) {
  qsort(v, (size_t)n, sizeof(double), cmp_double);
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

static void check(ondi_status s, const char* what) {
  if (s != ONDI_OK) {
    fprintf(stderr, "bench_speed: %s: %s\n", what, ondi_last_error());
    exit(1);
  }
}

int main(int argc, char** argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: bench_speed MODEL [-t THREADS] [-r REPS] [-p N]... [-n DECODE_TOKENS]\n");
    return 2;
  }
  const char* path = argv[1];
  int threads = 2, reps = 5, n_decode = 64, n_prefill = 0;
  int prefill[8];
  for (int i = 2; i + 1 < argc; i += 2) {
    const int v = atoi(argv[i + 1]);
    if (!strcmp(argv[i], "-t"))
      threads = v;
    else if (!strcmp(argv[i], "-r"))
      reps = v;
    else if (!strcmp(argv[i], "-n"))
      n_decode = v;
    else if (!strcmp(argv[i], "-p") && n_prefill < 8)
      prefill[n_prefill++] = v;
  }
  if (n_prefill == 0) {
    prefill[0] = 128;
    prefill[1] = 512;
    n_prefill = 2;
  }
  if (reps < 1 || reps > 100) reps = 5;

  ondi_model* model = NULL;
  check(ondi_model_load(path, NULL, &model), "load");
  ondi_model_info info;
  memset(&info, 0, sizeof info);
  info.struct_size = sizeof info;
  check(ondi_model_get_info(model, &info), "info");
  ondi_session_params sp = ondi_session_params_default();
  sp.n_threads = threads;
  sp.n_ctx = 1024;
  sp.n_batch = 512;
  ondi_session* s = NULL;
  check(ondi_session_create(model, &sp, &s), "session");

  int32_t ids[1024];
  for (int i = 0; i < 1024; ++i) ids[i] = 100 + (i * 7919) % 20000;
  float* logits = (float*)malloc(sizeof(float) * 200000);
  double times[100];

  printf("model %s  threads %d  reps %d (median)  weights read per token %.1f MB\n", path, threads, reps,
         (double)info.weight_bytes / 1e6);
  for (int k = 0; k < n_prefill; ++k) {
    const int n = prefill[k];
    if (n < 1 || n > 512) continue;
    for (int r = -1; r < reps; ++r) {
      check(ondi_session_truncate(s, 0), "truncate");
      const double t0 = now_s();
      check(ondi_session_eval(s, ids, (size_t)n, 1, logits), "prefill");
      if (r >= 0) times[r] = now_s() - t0;
    }
    printf("prefill %4d tokens: %8.2f tok/s\n", n, n / median(times, reps));
  }
  for (int r = -1; r < reps; ++r) {
    check(ondi_session_truncate(s, 0), "truncate");
    check(ondi_session_eval(s, ids, 16, 1, logits), "prompt");
    const double t0 = now_s();
    for (int i = 0; i < n_decode; ++i) check(ondi_session_eval(s, ids + 16 + i, 1, 1, logits), "decode");
    if (r >= 0) times[r] = now_s() - t0;
  }
  const double tg = n_decode / median(times, reps);
  printf("decode  %4d tokens: %8.2f tok/s  (%.1f GB/s of weights)\n", n_decode, tg,
         tg * (double)info.weight_bytes / 1e9);
  free(logits);
  ondi_session_free(s);
  ondi_model_free(model);
  return 0;
}
