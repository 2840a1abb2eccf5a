/* shufflenet.h - public API of the ShuffleNet v1 inference engine.
 *
 * A standalone C11 library (no GStreamer, no GLib) that loads a ShuffleNet v1
 * model from ONNX, plans it once, and classifies float image batches with
 * OpenMP threads.
 *
 * Life cycle:
 *   sn_model_load_file()/sn_model_load_memory()   parse + validate + plan (once)
 *   sn_context_create(model, threads)             one per thread of use
 *   sn_context_run(ctx, input, batch, output)     as often as you like
 *   sn_context_free(), sn_model_free()
 *
 * A model is immutable after loading and may be shared by many contexts in
 * many threads. A context is used by one thread at a time (it may move
 * between threads when the caller orders the calls, with a mutex say); it
 * owns its activation arena and its thread count (the engine never calls
 * omp_set_num_threads, so two models in one process do not interfere).
 *
 * Every function that can fail returns an sn_status and, when the caller
 * passes a non-NULL sn_error, a one-line message naming what failed.
 */
#ifndef SHUFFLENET_H
#define SHUFFLENET_H

#include <stdbool.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
  SN_OK = 0,
  SN_ERR_IO,          /* file missing, unreadable, a directory, empty */
  SN_ERR_PARSE,       /* not an ONNX protobuf, truncated, inconsistent */
  SN_ERR_UNSUPPORTED, /* valid ONNX that is not a ShuffleNet the engine runs */
  SN_ERR_INVALID_ARG, /* bad argument from the caller (NULL, batch < 1, ...) */
  SN_ERR_NOMEM,       /* allocation failed */
} sn_status;

/* Filled by failing calls: the status again and a human-readable line. */
typedef struct {
  sn_status status;
  char message[512];
} sn_error;

typedef enum {
  SN_LAYOUT_NCHW = 0, /* planar: input[n][c][y][x] */
  SN_LAYOUT_NHWC = 1, /* interleaved: input[n][y][x][c] (Keras exports) */
} sn_layout;

/* Shape of ONE image of the model input, and its memory layout. */
typedef struct {
  int channels; /* 3 for ShuffleNet */
  int height;
  int width;
  sn_layout layout;
} sn_input_info;

/* The arithmetic of the grouped 1x1 convolutions (about 80 % of the work). */
typedef enum {
  SN_PRECISION_FP32 = 0, /* float32 throughout: the default */
  SN_PRECISION_BF16 = 1, /* 1x1 convs on bf16-rounded weights and inputs,
                          * sums in float32 (AVX512_BF16 CPUs); every
                          * other operator float32. Logits move by about
                          * 1 % of their range; see README */
} sn_precision;

typedef struct sn_model sn_model;
typedef struct sn_context sn_context;

const char *sn_status_name (sn_status status);

/* Load an ONNX model from a file, or from `size` bytes at `data` (the bytes
 * are not kept). On failure *model is NULL and err says why. */
sn_status sn_model_load_file (const char *path, sn_model **model, sn_error *err);
sn_status sn_model_load_memory (const void *data, size_t size, sn_model **model,
    sn_error *err);
void sn_model_free (sn_model *model);

/* The same with a precision: SN_ERR_UNSUPPORTED, saying why, when this CPU
 * (or SHUFFLENET_ISA) does not run it. */
sn_status sn_model_load_file_precision (const char *path,
    sn_precision precision, sn_model **model, sn_error *err);
sn_status sn_model_load_memory_precision (const void *data, size_t size,
    sn_precision precision, sn_model **model, sn_error *err);
sn_precision sn_model_precision (const sn_model *model);

/* Whether this CPU runs `precision`; its name ("fp32", "bf16"; NULL for a
 * value outside the enum). */
bool sn_precision_available (sn_precision precision);
const char *sn_precision_name (sn_precision precision);

/* The instruction set the engine's kernels use: "avx512", "avx2" or "ref"
 * (plain C). The best this CPU runs, or the one SHUFFLENET_ISA=ref|avx2|
 * avx512 names when the CPU runs it (read at each call; a model keeps the
 * kernels of its load). The GStreamer element's preprocessing follows it:
 * its AVX2 kernels for avx2 and avx512, plain C for ref. */
const char *sn_isa_name (void);

/* Input of one image (the batch dimension is the caller's choice at run). */
void sn_model_input_info (const sn_model *model, sn_input_info *info);
/* Number of classes K: run() writes batch x K floats. */
int sn_model_num_classes (const sn_model *model);
/* True when the model ends in Softmax: outputs are probabilities, not logits. */
bool sn_model_outputs_probabilities (const sn_model *model);
/* Number of operators and multiply-adds per image of the planned network. */
int sn_model_num_ops (const sn_model *model);
double sn_model_macs (const sn_model *model);
/* Bytes of the activation arena one image in flight needs (a context holds
 * one per thread that runs images of a batch on its own). */
size_t sn_model_arena_bytes (const sn_model *model);

/* ONNX metadata_props, in file order. key/value pointers live as long as the
 * model. sn_model_metadata_get returns NULL when the key is absent. */
int sn_model_metadata_count (const sn_model *model);
void sn_model_metadata_at (const sn_model *model, int index, const char **key,
    const char **value);
const char *sn_model_metadata_get (const sn_model *model, const char *key);

/* A context runs `model` with `threads` OpenMP threads (0 = all cores).
 * The model must outlive the context. With threads > 1 the context keeps
 * a team of its own from its first run to sn_context_free (one thread of
 * the engine's that holds an OpenMP region open, and threads - 1 OpenMP
 * threads): between runs they spin for 50 us, then sleep, so a context
 * fed at a camera's rate wakes its team quickly and an idle one costs no
 * CPU. */
sn_status sn_context_create (const sn_model *model, int threads,
    sn_context **context, sn_error *err);
void sn_context_free (sn_context *context);
int sn_context_threads (const sn_context *context);

/* Run `batch` images.
 *   input : float32, batch x C x H x W (NCHW) or batch x H x W x C (NHWC),
 *           as sn_model_input_info says
 *   output: float32, batch x K, logits or probabilities
 * No allocation happens here after the first call. */
sn_status sn_context_run (sn_context *context, const float *input, int batch,
    float *output, sn_error *err);

/* fn (data, i) for every i in [0, n), spread over the context's threads
 * (a 1-thread context: in order on the caller's); returns when all are
 * done. For work a caller wants on the threads that run the inference,
 * before or after it (the GStreamer element's preprocessing): they are
 * awake then, and no second set of threads competes with them.
 * SN_ERR_INVALID_ARG for a NULL context or fn, or n < 0. */
sn_status sn_context_parallel (sn_context *context, int n,
    void (*fn) (void *data, int i), void *data, sn_error *err);

/* Per-operator profile of the last run() (per image): name, kind, time in ms
 * and multiply-adds. Returns the number of operators; index >= count gives
 * NULL names. Profiling is on when the context was told so. */
void sn_context_set_profiling (sn_context *context, bool enabled);
int sn_context_profile_at (const sn_context *context, int index,
    const char **name, const char **kind, double *ms, double *macs);

/* Top-k of n scores, best first. Writes min(k, n) indices (and values when
 * `values` is not NULL); returns that count. Ties keep the lower index first. */
int sn_top_k (const float *scores, int n, int k, int *indices, float *values);

/* Softmax of n values in place (numerically stable). */
void sn_softmax (float *values, int n);

#ifdef __cplusplus
}
#endif
#endif /* SHUFFLENET_H */
