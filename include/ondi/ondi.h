/* ondi: on-device inference of Llama-family models from GGUF files.
 *
 * The stable C ABI. Objects are opaque handles; every fallible call returns an ondi_status and, on failure,
 * sets a thread-local message readable with ondi_last_error() until the next failing call on that thread.
 * Structs that may grow carry their own size in their first field (`struct_size`), filled in by the
 * ..._default() functions, so that older callers keep working when fields are appended.
 *
 * Thread-safety: an ondi_model is immutable once loaded and may be shared by any number of threads and
 * sessions. An ondi_session is used by one thread at a time, except ondi_session_cancel(), which any thread
 * may call at any time. ondi_gguf_writer objects are single-threaded.
 */
#ifndef ONDI_H
#define ONDI_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(ONDI_BUILDING_LIBRARY)
#define ONDI_API __attribute__((visibility("default")))
#else
#define ONDI_API
#endif

/* ---- errors ------------------------------------------------------------------------------------------ */
typedef enum ondi_status {
  ONDI_OK = 0,
  ONDI_ERR_INVALID_ARGUMENT = 1, /* a null handle, a bad parameter, a call in the wrong order */
  ONDI_ERR_IO = 2,               /* a file could not be opened, read or written */
  ONDI_ERR_FORMAT = 3,           /* a file or input is malformed */
  ONDI_ERR_UNSUPPORTED = 4,      /* well-formed, but not implemented (type, architecture, version) */
  ONDI_ERR_OUT_OF_MEMORY = 5,
  ONDI_ERR_OUT_OF_RANGE = 6, /* e.g. the context is full */
  ONDI_ERR_CANCELLED = 7,
  ONDI_ERR_BUFFER_TOO_SMALL = 8, /* the required size was written to the size argument */
  ONDI_ERR_INTERNAL = 9
} ondi_status;

/* The message of the last failing call on this thread ("" if none). Valid until the next ondi call. */
ONDI_API const char* ondi_last_error(void);
ONDI_API const char* ondi_status_name(ondi_status s);

/* ---- versions ---------------------------------------------------------------------------------------- */
#define ONDI_VERSION_MAJOR 0
#define ONDI_VERSION_MINOR 1
#define ONDI_VERSION_PATCH 0
#define ONDI_ABI_VERSION 0
ONDI_API const char* ondi_version(void); /* "0.1.0" */
ONDI_API int ondi_abi_version(void);
/* The kernel set the dispatcher picked for this CPU ("avx2", "neon", "scalar", ...; ONDI_KERNELS overrides it). */
ONDI_API const char* ondi_kernel_isa(void);

/* ---- logging ----------------------------------------------------------------------------------------- */
typedef enum ondi_log_level {
  ONDI_LOG_DEBUG = 0,
  ONDI_LOG_INFO = 1,
  ONDI_LOG_WARN = 2,
  ONDI_LOG_ERROR = 3
} ondi_log_level;
typedef void (*ondi_log_fn)(ondi_log_level level, const char* message, void* user);
/* Replaces the log sink for the whole process (NULL: the default, warnings and errors to stderr). */
ONDI_API void ondi_set_log_callback(ondi_log_fn fn, void* user, ondi_log_level min_level);

/* ---- tensor types (numbered as in GGUF) -------------------------------------------------------------- */
typedef enum ondi_type {
  ONDI_TYPE_F32 = 0,
  ONDI_TYPE_F16 = 1,
  ONDI_TYPE_Q4_0 = 2,
  ONDI_TYPE_Q4_1 = 3,
  ONDI_TYPE_Q5_0 = 6,
  ONDI_TYPE_Q5_1 = 7,
  ONDI_TYPE_Q8_0 = 8,
  ONDI_TYPE_Q2_K = 10,
  ONDI_TYPE_Q3_K = 11,
  ONDI_TYPE_Q4_K = 12,
  ONDI_TYPE_Q5_K = 13,
  ONDI_TYPE_Q6_K = 14,
  ONDI_TYPE_IQ4_NL = 20,
  ONDI_TYPE_BF16 = 30
} ondi_type;
/* "Q4_K" etc.; NULL for an unknown number. */
ONDI_API const char* ondi_type_name(int type);
/* The type for a name ("q4_k", case-insensitive); -1 if unknown. */
ONDI_API int ondi_type_from_name(const char* name);

/* ---- GGUF authoring (tools and tests: the model generator, later the quantizer) ----------------------- */
typedef struct ondi_gguf_writer ondi_gguf_writer;
typedef enum ondi_gguf_value_type {
  ONDI_GGUF_UINT8 = 0,
  ONDI_GGUF_INT8 = 1,
  ONDI_GGUF_UINT16 = 2,
  ONDI_GGUF_INT16 = 3,
  ONDI_GGUF_UINT32 = 4,
  ONDI_GGUF_INT32 = 5,
  ONDI_GGUF_FLOAT32 = 6,
  ONDI_GGUF_BOOL = 7,
  ONDI_GGUF_STRING = 8,
  ONDI_GGUF_ARRAY = 9,
  ONDI_GGUF_UINT64 = 10,
  ONDI_GGUF_INT64 = 11,
  ONDI_GGUF_FLOAT64 = 12
} ondi_gguf_value_type;

ONDI_API ondi_gguf_writer* ondi_gguf_writer_create(void);
ONDI_API void ondi_gguf_writer_free(ondi_gguf_writer* w);
ONDI_API ondi_status ondi_gguf_writer_set_u32(ondi_gguf_writer* w, const char* key, uint32_t v);
ONDI_API ondi_status ondi_gguf_writer_set_i32(ondi_gguf_writer* w, const char* key, int32_t v);
ONDI_API ondi_status ondi_gguf_writer_set_f32(ondi_gguf_writer* w, const char* key, float v);
ONDI_API ondi_status ondi_gguf_writer_set_bool(ondi_gguf_writer* w, const char* key, int v);
ONDI_API ondi_status ondi_gguf_writer_set_str(ondi_gguf_writer* w, const char* key, const char* v);
/* Arrays of INT32 or FLOAT32 (elem_type), n elements at data. */
ONDI_API ondi_status ondi_gguf_writer_set_arr(ondi_gguf_writer* w, const char* key, ondi_gguf_value_type elem_type,
                                              const void* data, size_t n);
ONDI_API ondi_status ondi_gguf_writer_set_arr_str(ondi_gguf_writer* w, const char* key, const char* const* strs,
                                                  size_t n);
/* Adds a tensor given in f32 (ne[0] is the contiguous dimension, as in GGUF), encoded to `type` with the
 * reference quantizer. ne[0] must be a multiple of the type's block size. */
ONDI_API ondi_status ondi_gguf_writer_add_tensor_f32(ondi_gguf_writer* w, const char* name, ondi_type type, int n_dims,
                                                     const int64_t* ne, const float* data);
/* Writes GGUF v3 to path through a temporary file renamed at the end. */
ONDI_API ondi_status ondi_gguf_writer_write(const ondi_gguf_writer* w, const char* path);

/* ---- quantization (`ondi quantize`) ------------------------------------------------------------------ */
/* File types, numbered as GGUF's general.file_type. The _K_M mixes give some tensors more bits
 * (docs/PERFORMANCE.md). */
typedef enum ondi_file_type {
  ONDI_FTYPE_Q4_0 = 2,
  ONDI_FTYPE_Q8_0 = 7,
  ONDI_FTYPE_Q4_K_M = 15,
  ONDI_FTYPE_Q5_K_M = 17,
  ONDI_FTYPE_Q6_K = 18,
  ONDI_FTYPE_IQ4_NL = 25
} ondi_file_type;
typedef struct ondi_quantize_params {
  size_t struct_size;
  int32_t n_threads; /* 0: one per hardware thread; the output is the same for any count */
} ondi_quantize_params;
/* Fills *p with the defaults (as much of them as struct_size bytes hold; pass sizeof(*p)) and sets
 * p->struct_size. */
ONDI_API void ondi_quantize_params_init(ondi_quantize_params* p, size_t struct_size);
static inline ondi_quantize_params ondi_quantize_params_default(void) {
  ondi_quantize_params p;
  ondi_quantize_params_init(&p, sizeof(p));
  return p;
}
/* Re-encodes the F32/F16/BF16 GGUF model at in_path to file type `type` (an ondi_file_type) at out_path, metadata
 * copied. Written through a temporary file renamed at the end: on any error no file is left at out_path. params may
 * be NULL. An input holding already-quantized weights is ONDI_ERR_UNSUPPORTED. */
ONDI_API ondi_status ondi_model_quantize(const char* in_path, const char* out_path, int type,
                                         const ondi_quantize_params* params);

/* ---- models ------------------------------------------------------------------------------------------ */
typedef struct ondi_model ondi_model;

typedef struct ondi_model_params {
  size_t struct_size; /* sizeof(ondi_model_params), set by ondi_model_params_default() */
  int32_t reserved;   /* for future options; 0 */
} ondi_model_params;
/* Fills *p with the defaults (as much of them as struct_size bytes hold; pass sizeof(*p)) and sets
 * p->struct_size. */
ONDI_API void ondi_model_params_init(ondi_model_params* p, size_t struct_size);
/* The defaults. Inline, so the struct is built at the caller's own size: safe when a newer library's struct has
 * grown (a function returning the struct by value would write the library's larger size into the caller). */
static inline ondi_model_params ondi_model_params_default(void) {
  ondi_model_params p;
  ondi_model_params_init(&p, sizeof(p));
  return p;
}

/* Loads a GGUF model (memory-mapped, weights are not copied). params may be NULL for the defaults. */
ONDI_API ondi_status ondi_model_load(const char* path, const ondi_model_params* params, ondi_model** out);
/* From a caller-owned buffer that must stay valid and unchanged until ondi_model_free(). */
ONDI_API ondi_status ondi_model_load_from_memory(const void* data, size_t size, const ondi_model_params* params,
                                                 ondi_model** out);
/* From length bytes of fd starting at offset (length 0: to the end); the fd may be closed afterwards. */
ONDI_API ondi_status ondi_model_load_from_fd(int fd, uint64_t offset, uint64_t length, const ondi_model_params* params,
                                             ondi_model** out);
ONDI_API void ondi_model_free(ondi_model* model);

typedef struct ondi_model_info {
  size_t struct_size;
  const char* architecture; /* "llama", "qwen2", "qwen3"; valid while the model lives */
  const char* name;         /* general.name or "" */
  int64_t n_params;
  int64_t n_embd, n_layer, n_head, n_head_kv, head_dim, n_ff, n_vocab, n_ctx_train;
  uint64_t file_size;    /* bytes of the GGUF file */
  uint64_t weight_bytes; /* bytes of the tensors the forward pass reads */
  uint32_t gguf_version;
  int has_tokenizer; /* 0 when the file has no usable tokenizer */
  float rope_base, rms_eps;
} ondi_model_info;
/* info->struct_size must be set by the caller (sizeof(ondi_model_info)). */
ONDI_API ondi_status ondi_model_get_info(const ondi_model* model, ondi_model_info* info);

/* Metadata, in file order. Key and value strings stay valid while the model lives. */
ONDI_API int64_t ondi_model_meta_count(const ondi_model* model);
/* value: a printable rendering (arrays abbreviated); type: the GGUF value type. */
ONDI_API ondi_status ondi_model_meta_at(const ondi_model* model, int64_t i, const char** key, const char** value,
                                        ondi_gguf_value_type* type);
/* The string value of key, or ONDI_ERR_INVALID_ARGUMENT if absent / not a string. */
ONDI_API ondi_status ondi_model_meta_str(const ondi_model* model, const char* key, const char** value);

typedef struct ondi_tensor_info {
  size_t struct_size;
  const char* name; /* valid while the model lives */
  int type;         /* ondi_type */
  int n_dims;
  int64_t ne[4];
  uint64_t offset; /* absolute file offset of the data */
  uint64_t n_bytes;
} ondi_tensor_info;
ONDI_API int64_t ondi_model_tensor_count(const ondi_model* model);
/* info->struct_size must be set by the caller. */
ONDI_API ondi_status ondi_model_tensor_at(const ondi_model* model, int64_t i, ondi_tensor_info* info);

/* ---- tokenizer --------------------------------------------------------------------------------------- */
/* Encodes text (len bytes, need not be NUL-terminated). add_special: BOS/EOS as the model asks; parse_special:
 * special tokens written in the text become their ids. *n_ids holds the capacity of ids on entry and the count
 * on return; ONDI_ERR_BUFFER_TOO_SMALL sets *n_ids to the count needed (ids may be NULL to ask). */
ONDI_API ondi_status ondi_tokenize(const ondi_model* model, const char* text, size_t len, int add_special,
                                   int parse_special, int32_t* ids, size_t* n_ids);
/* The bytes of one token (possibly part of a UTF-8 character). *size: capacity in, length out (no NUL). */
ONDI_API ondi_status ondi_token_to_piece(const ondi_model* model, int32_t id, int special, char* buf, size_t* size);
ONDI_API int ondi_token_is_eog(const ondi_model* model, int32_t id);
ONDI_API int32_t ondi_token_bos(const ondi_model* model); /* -1 if none */
ONDI_API int32_t ondi_token_eos(const ondi_model* model); /* -1 if none */

/* ---- sessions: one conversation, its KV cache and its sampler ----------------------------------------- */
typedef struct ondi_session ondi_session;

typedef struct ondi_session_params {
  size_t struct_size;
  int32_t n_ctx;         /* positions (default 4096; capped by nothing but memory) */
  int32_t n_batch;       /* prefill chunk size, tokens per forward pass (default 512) */
  int32_t n_threads;     /* 0: one per hardware thread */
  int32_t n_outputs;     /* most tokens one forward pass returns logits for (default 1; sizes the logits buffer) */
  uint64_t memory_limit; /* bytes; 0: none. A session whose memory plan exceeds it is refused... */
  int32_t fit_context;   /* ...unless this is non-zero: then the KV cache is quantized to Q8_0 (when the model
                            allows it) and, if that is not enough, n_ctx is shortened until the plan fits */
  int32_t kv_type;       /* ONDI_TYPE_F16 (default) or ONDI_TYPE_Q8_0: about half the KV memory, a small measured
                            loss (docs/MEMORY.md); Q8_0 needs head sizes that are multiples of 32 */
} ondi_session_params;
/* Fills *p with the defaults (as much of them as struct_size bytes hold; pass sizeof(*p)) and sets
 * p->struct_size. */
ONDI_API void ondi_session_params_init(ondi_session_params* p, size_t struct_size);
/* The defaults. Inline, so the struct is built at the caller's own size: safe when a newer library's struct has
 * grown (a function returning the struct by value would write the library's larger size into the caller). */
static inline ondi_session_params ondi_session_params_default(void) {
  ondi_session_params p;
  ondi_session_params_init(&p, sizeof(p));
  return p;
}

/* The memory a session needs, planned before anything is allocated (see docs/MEMORY.md). */
typedef struct ondi_memory_plan {
  size_t struct_size;
  uint64_t file_bytes;       /* the GGUF file, mapped (address space shared with the page cache) */
  uint64_t weights_resident; /* the part of the file the forward pass reads, which becomes resident */
  uint64_t model_heap;       /* decoded small tensors, tokenizer tables (estimated) */
  uint64_t kv_cache;         /* K and V for n_ctx positions (F16) */
  uint64_t scratch;          /* activations for n_batch tokens, logits for n_outputs rows */
  uint64_t overhead;         /* code, libraries, thread stacks (a measured constant) */
  uint64_t total;            /* resident bytes expected at peak: all of the above but file_bytes */
  int32_t n_ctx;             /* the context the plan is for (after fitting) */
  int32_t kv_type;           /* the KV cache type the plan is for (after fitting) */
} ondi_memory_plan;
/* Plans a session with these params (NULL: defaults) without creating it; plan->struct_size must be set. With
 * memory_limit and fit_context set, plans the fitted context (ONDI_ERR_OUT_OF_MEMORY if nothing fits). */
ONDI_API ondi_status ondi_model_memory_plan(const ondi_model* model, const ondi_session_params* params,
                                            ondi_memory_plan* plan);

ONDI_API ondi_status ondi_session_create(const ondi_model* model, const ondi_session_params* params,
                                         ondi_session** out);
ONDI_API void ondi_session_free(ondi_session* s);
/* Tokens in the KV cache. */
ONDI_API int32_t ondi_session_length(const ondi_session* s);
/* Keeps the first n tokens (0 clears the session). */
ONDI_API ondi_status ondi_session_truncate(ondi_session* s, int32_t n);

/* Appends tokens to the session (evaluated in chunks of n_batch). If logits is not NULL it receives the
 * logits of the last n_last of these tokens (n_last * n_vocab floats, oldest first). */
ONDI_API ondi_status ondi_session_eval(ondi_session* s, const int32_t* ids, size_t n, size_t n_last, float* logits);

typedef struct ondi_sampler_params {
  size_t struct_size;
  float temperature; /* <= 0: greedy */
  int32_t top_k;     /* <= 0: off */
  float top_p;       /* >= 1: off */
  float min_p;       /* <= 0: off */
  float repeat_penalty;
  float frequency_penalty;
  float presence_penalty;
  int32_t penalty_last_n;
  uint64_t seed;
  const int32_t* logit_bias_ids; /* n_logit_bias pairs; -INFINITY bans a token */
  const float* logit_bias_values;
  size_t n_logit_bias;
} ondi_sampler_params;
/* Fills *p with the defaults (as much of them as struct_size bytes hold; pass sizeof(*p)) and sets
 * p->struct_size. */
ONDI_API void ondi_sampler_params_init(ondi_sampler_params* p, size_t struct_size);
/* The defaults. Inline, so the struct is built at the caller's own size: safe when a newer library's struct has
 * grown (a function returning the struct by value would write the library's larger size into the caller). */
static inline ondi_sampler_params ondi_sampler_params_default(void) {
  ondi_sampler_params p;
  ondi_sampler_params_init(&p, sizeof(p));
  return p;
}

typedef enum ondi_stop_reason {
  ONDI_STOP_EOG = 0,
  ONDI_STOP_MAX_TOKENS = 1,
  ONDI_STOP_STRING = 2,
  ONDI_STOP_CANCELLED = 3,
  ONDI_STOP_CONTEXT_FULL = 4,
  ONDI_STOP_CALLBACK = 5
} ondi_stop_reason;

typedef struct ondi_generate_params {
  size_t struct_size;
  int32_t max_tokens;      /* < 0: until the context is full */
  const char* const* stop; /* n_stop stop strings */
  size_t n_stop;
  int ignore_eog;
  int special; /* render control tokens' text */
} ondi_generate_params;
/* Fills *p with the defaults (as much of them as struct_size bytes hold; pass sizeof(*p)) and sets
 * p->struct_size. */
ONDI_API void ondi_generate_params_init(ondi_generate_params* p, size_t struct_size);
/* The defaults. Inline, so the struct is built at the caller's own size: safe when a newer library's struct has
 * grown (a function returning the struct by value would write the library's larger size into the caller). */
static inline ondi_generate_params ondi_generate_params_default(void) {
  ondi_generate_params p;
  ondi_generate_params_init(&p, sizeof(p));
  return p;
}

typedef struct ondi_generate_result {
  size_t struct_size;
  int32_t n_prompt;
  int32_t n_generated;
  ondi_stop_reason stop_reason;
  double prefill_ms;
  double decode_ms;
} ondi_generate_result;

/* Receives text in whole UTF-8 characters as it is generated; return non-zero to stop. */
typedef int (*ondi_text_callback)(const char* text, size_t len, int32_t token, void* user);

/* Appends the prompt ids to the session and generates. n_prompt may be 0 to continue from the last
 * evaluated token. Any pointer param may be NULL for the defaults; result may be NULL. */
ONDI_API ondi_status ondi_session_generate(ondi_session* s, const int32_t* prompt, size_t n_prompt,
                                           const ondi_sampler_params* sampler, const ondi_generate_params* gen,
                                           ondi_text_callback cb, void* user, ondi_generate_result* result);
/* Any thread, any time: makes a running generate/eval return ONDI_ERR_CANCELLED or stop with
 * ONDI_STOP_CANCELLED. The flag clears when the next generate/eval starts. */
ONDI_API void ondi_session_cancel(ondi_session* s);

/* Session files: save the session (tokens, KV cache, last logits) and restore it later, in this or another
 * process, to continue bit-identically. The file is versioned and checked (model identity, sizes, checksum); a
 * corrupt or mismatched file is ONDI_ERR_FORMAT / ONDI_ERR_INVALID_ARGUMENT and leaves the session unchanged.
 * Saving writes a temporary file renamed at the end. Sampler state is not saved: each generate call seeds its
 * own sampler. */
ONDI_API ondi_status ondi_session_save(ondi_session* s, const char* path);
ONDI_API ondi_status ondi_session_load(ondi_session* s, const char* path);
/* The tokens the session holds (what its KV cache was computed from). Size-in/size-out as ondi_tokenize. */
ONDI_API ondi_status ondi_session_tokens(const ondi_session* s, int32_t* ids, size_t* n_ids);

/* Bytes of the KV cache this session allocated. */
ONDI_API uint64_t ondi_session_kv_bytes(const ondi_session* s);

/* ---- batched decoding: many sequences in one context (servers, parallel sampling) --------------------- *
 * An ondi_context holds the KV cache of n_seq independent sequences and runs batches that mix tokens of any
 * of them in one forward pass. The logits of a token are bit-identical whatever else shares its batch.
 * Thread-safety: an ondi_context, an ondi_sampler and an ondi_text_stream are each used by one thread at a
 * time (no call on the same object may overlap); distinct objects may be used from distinct threads. */
typedef struct ondi_context ondi_context;

typedef struct ondi_context_params {
  size_t struct_size;
  int32_t n_ctx;     /* positions per sequence (default 4096) */
  int32_t n_seq;     /* sequences, i.e. KV slots (default 1) */
  int32_t n_batch;   /* most tokens one ondi_context_decode() takes (default 512) */
  int32_t n_threads; /* 0: one per hardware thread */
  int32_t n_outputs; /* most entries of one decode that may ask for logits (0: n_batch); each costs n_vocab floats */
} ondi_context_params;
/* Fills *p with the defaults (as much of them as struct_size bytes hold; pass sizeof(*p)) and sets
 * p->struct_size. */
ONDI_API void ondi_context_params_init(ondi_context_params* p, size_t struct_size);
/* The defaults. Inline, so the struct is built at the caller's own size: safe when a newer library's struct has
 * grown (a function returning the struct by value would write the library's larger size into the caller). */
static inline ondi_context_params ondi_context_params_default(void) {
  ondi_context_params p;
  ondi_context_params_init(&p, sizeof(p));
  return p;
}

ONDI_API ondi_status ondi_context_create(const ondi_model* model, const ondi_context_params* params,
                                         ondi_context** out);
ONDI_API void ondi_context_free(ondi_context* c);
/* The params in force (struct_size set). */
ONDI_API ondi_context_params ondi_context_get_params(const ondi_context* c);
ONDI_API int32_t ondi_context_n_vocab(const ondi_context* c);
/* Runs n batch entries: entry i is token[i] at position pos[i] of sequence seq[i]; want_logits may be NULL
 * (no logits) or n flags. Each sequence's entries must have consecutive positions starting at its current
 * length. n must be in [1, n_batch]. ONDI_ERR_OUT_OF_RANGE when a sequence would pass n_ctx; on any error no
 * sequence changes. */
ONDI_API ondi_status ondi_context_decode(ondi_context* c, const int32_t* token, const int32_t* pos, const int32_t* seq,
                                         const uint8_t* want_logits, size_t n);
/* n_vocab logits of entry i of the last decode; NULL if it did not ask for them. Valid until the next
 * decode or free. */
ONDI_API const float* ondi_context_logits(const ondi_context* c, size_t i);
ONDI_API int32_t ondi_context_seq_length(const ondi_context* c, int32_t seq); /* -1 for a bad seq */
/* Keeps the first n positions of seq (0 clears it). */
ONDI_API ondi_status ondi_context_seq_truncate(ondi_context* c, int32_t seq, int32_t n);
/* Copies the first n positions of src's cache into dst (prefix sharing); dst's length becomes n. */
ONDI_API ondi_status ondi_context_seq_copy(ondi_context* c, int32_t src, int32_t dst, int32_t n);
ONDI_API uint64_t ondi_context_kv_bytes(const ondi_context* c);

/* A standalone sampler (the chain of ondi_sampler_params), for callers that decode with ondi_context. */
typedef struct ondi_sampler ondi_sampler;
/* The logit-bias arrays are copied. */
ONDI_API ondi_status ondi_sampler_create(const ondi_sampler_params* params, int32_t n_vocab, ondi_sampler** out);
ONDI_API void ondi_sampler_free(ondi_sampler* s);
/* Picks a token from n_vocab raw logits (not modified); -1 on a NULL argument. */
ONDI_API int32_t ondi_sampler_sample(ondi_sampler* s, const float* logits);
/* Records a token for the penalties. */
ONDI_API void ondi_sampler_accept(ondi_sampler* s, int32_t token);
/* Forgets the history and re-seeds. */
ONDI_API void ondi_sampler_reset(ondi_sampler* s);

/* Turns token bytes into text to show: whole UTF-8 characters only (invalid bytes become U+FFFD), with any
 * text that could still become one of the stop strings held back. */
typedef struct ondi_text_stream ondi_text_stream;
ONDI_API ondi_status ondi_text_stream_create(const char* const* stop, size_t n_stop, ondi_text_stream** out);
ONDI_API void ondi_text_stream_free(ondi_text_stream* ts);
/* Appends bytes; *text / *text_len receive what is safe to show now (valid until the next call on ts).
 * *stopped becomes 1 when a stop string completed: the text then ends just before it, and the stream drops
 * the stop string and everything after. */
ONDI_API ondi_status ondi_text_stream_push(ondi_text_stream* ts, const char* bytes, size_t len, const char** text,
                                           size_t* text_len, int* stopped);
/* The held-back tail at the end of generation (an incomplete character as U+FFFD), stop strings applied. */
ONDI_API ondi_status ondi_text_stream_flush(ondi_text_stream* ts, const char** text, size_t* text_len, int* stopped);

/* ---- chat templates ----------------------------------------------------------------------------------- */
/* Renders a conversation into prompt text with a Jinja chat template, as transformers' apply_chat_template
 * does: the template sees messages, add_generation_prompt, bos_token and eos_token (the model's BOS/EOS
 * text, "" without a model), tools when given, and any extra variables. tmpl: the template source, or NULL
 * for the model's own (GGUF tokenizer.chat_template; ONDI_ERR_INVALID_ARGUMENT if the file has none).
 * Output: *size holds the capacity of buf on entry and the length of the text on return (ONDI_ERR_BUFFER_TOO_SMALL
 * when it does not fit; buf may be NULL to ask). A NUL is appended when the capacity exceeds the length.
 * Template errors are ONDI_ERR_FORMAT with the template line and column in ondi_last_error(); templates run
 * with bounded work, output and nesting, so untrusted ones cannot hang or crash the caller.
 * Thread-safety: may be called from any number of threads at once, sharing the model. */
typedef struct ondi_chat_message {
  const char* role;    /* "system", "user", "assistant", "tool", ... */
  const char* content; /* UTF-8 text */
} ondi_chat_message;
ONDI_API ondi_status ondi_chat_apply_template(const ondi_model* model, const char* tmpl,
                                              const ondi_chat_message* messages, size_t n_messages,
                                              int add_generation_prompt, char* buf, size_t* size);
/* The same with JSON: messages_json an array of message objects (content a string or a list of parts,
 * tool_calls, tool_call_id, reasoning_content, ...), tools_json an array of tool definitions or NULL,
 * extra_json an object of extra template variables (e.g. {"enable_thinking": false}) or NULL. */
ONDI_API ondi_status ondi_chat_apply_template_json(const ondi_model* model, const char* tmpl, const char* messages_json,
                                                   const char* tools_json, const char* extra_json,
                                                   int add_generation_prompt, char* buf, size_t* size);
/* The model's template source (valid while the model lives), or NULL if the file carries none. */
ONDI_API const char* ondi_model_chat_template(const ondi_model* model);

#ifdef __cplusplus
}
#endif

#endif /* ONDI_H */
