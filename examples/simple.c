/* simple: the smallest complete use of the ondi C API. Loads a GGUF model, tokenizes a prompt, streams the
 * generated text as it comes and prints the speed. Copy it as a starting point.
 *
 *   simple MODEL.gguf ["PROMPT"] [N_TOKENS]
 *
 * Build against an installed ondi (see README.md):
 *   cc simple.c -o simple $(pkg-config --cflags --libs ondi)
 */
#include <ondi/ondi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Called with whole UTF-8 characters as they are generated; returning non-zero would stop generation. */
static int on_text(const char* text, size_t len, int32_t token, void* user) {
  (void)token;
  (void)user;
  fwrite(text, 1, len, stdout);
  fflush(stdout);
  return 0;
}

static int fail(const char* what, ondi_status st) {
  fprintf(stderr, "simple: %s: %s: %s\n", what, ondi_status_name(st), ondi_last_error());
  return 1;
}

int main(int argc, char** argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: %s MODEL.gguf [PROMPT] [N_TOKENS]\n", argv[0]);
    return 2;
  }
  const char* model_path = argv[1];
  const char* prompt = argc > 2 ? argv[2] : "Once upon a time";
  const int n_tokens = argc > 3 ? atoi(argv[3]) : 64;

  /* The library must implement the ABI this program was compiled against. */
  if (ondi_abi_version() != ONDI_ABI_VERSION) {
    fprintf(stderr, "simple: libondi ABI %d, compiled for %d\n", ondi_abi_version(), ONDI_ABI_VERSION);
    return 1;
  }
  fprintf(stderr, "ondi %s\n", ondi_version());

  ondi_model* model = NULL;
  ondi_status st = ondi_model_load(model_path, NULL, &model);
  if (st != ONDI_OK) return fail("load", st);

  /* Tokenize: ask for the count first, then fill a buffer of that size. */
  size_t n_prompt = 0;
  st = ondi_tokenize(model, prompt, strlen(prompt), 1, 0, NULL, &n_prompt);
  if (st != ONDI_OK && st != ONDI_ERR_BUFFER_TOO_SMALL) return fail("tokenize", st);
  int32_t* ids = malloc(n_prompt * sizeof *ids + 1);
  if (!ids) return 1;
  st = ondi_tokenize(model, prompt, strlen(prompt), 1, 0, ids, &n_prompt);
  if (st != ONDI_OK) return fail("tokenize", st);

  ondi_session_params sp = ondi_session_params_default();
  sp.n_ctx = 2048;
  ondi_session* session = NULL;
  st = ondi_session_create(model, &sp, &session);
  if (st != ONDI_OK) return fail("session", st);

  ondi_sampler_params sampler = ondi_sampler_params_default();
  sampler.temperature = 0.8f;
  sampler.seed = 42;
  ondi_generate_params gen = ondi_generate_params_default();
  gen.max_tokens = n_tokens;
  ondi_generate_result result;
  memset(&result, 0, sizeof result);
  result.struct_size = sizeof result; /* output structs carry their size too */

  printf("%s", prompt);
  st = ondi_session_generate(session, ids, n_prompt, &sampler, &gen, on_text, NULL, &result);
  printf("\n");
  if (st != ONDI_OK) return fail("generate", st);

  fprintf(stderr, "prompt: %d tokens, %.1f tokens/s; generated: %d tokens, %.1f tokens/s\n", result.n_prompt,
          result.prefill_ms > 0 ? 1000.0 * result.n_prompt / result.prefill_ms : 0.0, result.n_generated,
          result.decode_ms > 0 ? 1000.0 * result.n_generated / result.decode_ms : 0.0);

  ondi_session_free(session);
  ondi_model_free(model);
  free(ids);
  return 0;
}
