/* api.c - the public API (shufflenet.h) over the loader, plan and executor. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "lower.h"
#include "onnx_graph.h"
#include "executor.h"
#include "plan.h"
#include "shufflenet.h"

struct sn_model {
  sn_graph graph;
  sn_lowered_info info;
  const sn_kernel_table *kernels;
  sn_precision precision;
  int n_meta;
  char **meta_keys;       /* [n_meta] */
  char **meta_values;     /* [n_meta] */
};

struct sn_context {
  const sn_model *model;
  sn_exec exec;
  int handoff;            /* atomic: see context_enter */
};

/* A context may pass from thread to thread between calls (built and warmed
 * up on a loader thread, then run on a streaming thread) when the caller
 * orders the calls, often with a lock that a race detector cannot see
 * (GLib's futex-based GMutex). Each call acquires what the call before it
 * released, so that ThreadSanitizer sees the order the caller's lock gave
 * them; calls that overlap (two threads on one context) still show as
 * races. One atomic load and one store a call. */
static void
context_enter (const sn_context *c)
{
  (void) __atomic_load_n (&c->handoff, __ATOMIC_ACQUIRE);
}

static void
context_leave (sn_context *c)
{
  __atomic_store_n (&c->handoff, 1, __ATOMIC_RELEASE);
}

const char *
sn_status_name (sn_status status)
{
  switch (status) {
    case SN_OK: return "ok";
    case SN_ERR_IO: return "i/o error";
    case SN_ERR_PARSE: return "invalid model";
    case SN_ERR_UNSUPPORTED: return "unsupported model";
    case SN_ERR_INVALID_ARG: return "invalid argument";
    case SN_ERR_NOMEM: return "out of memory";
  }
  return "unknown status";
}

static sn_status
copy_metadata (sn_model *m, const Onnx__ModelProto *proto, sn_error *err)
{
  m->meta_keys = calloc (proto->n_metadata_props + 1, sizeof (char *));
  m->meta_values = calloc (proto->n_metadata_props + 1, sizeof (char *));
  if (!m->meta_keys || !m->meta_values)
    return sn_set_error (err, SN_ERR_NOMEM, "out of memory");
  for (size_t k = 0; k < proto->n_metadata_props; k++) {
    const Onnx__StringStringEntryProto *p = proto->metadata_props[k];
    m->meta_keys[k] = strdup (p->key ? p->key : "");
    m->meta_values[k] = strdup (p->value ? p->value : "");
    m->n_meta = (int) k + 1;
    if (!m->meta_keys[k] || !m->meta_values[k])
      return sn_set_error (err, SN_ERR_NOMEM, "out of memory");
  }
  return SN_OK;
}

const char *
sn_precision_name (sn_precision precision)
{
  switch (precision) {
    case SN_PRECISION_FP32: return "fp32";
    case SN_PRECISION_BF16: return "bf16";
  }
  return NULL;
}

/* The kernels of `precision` in *kernels, or why this CPU lacks them. */
static sn_status
precision_kernels (sn_precision precision, const sn_kernel_table **kernels,
    sn_error *err)
{
  *kernels = NULL;
  if (precision == SN_PRECISION_FP32)
    *kernels = sn_kernels_best ();
  else if (precision != SN_PRECISION_BF16)
    return sn_set_error (err, SN_ERR_INVALID_ARG, "unknown precision %d",
        (int) precision);
  else if ((*kernels = sn_kernels_bf16 ()) == NULL)
    return sn_set_error (err, SN_ERR_UNSUPPORTED, "bf16 precision needs a "
        "CPU with AVX512_BF16 and the AVX-512 kernels; this one runs '%s'",
        sn_kernels_best ()->isa);
  return SN_OK;
}

bool
sn_precision_available (sn_precision precision)
{
  const sn_kernel_table *kernels;
  return precision_kernels (precision, &kernels, NULL) == SN_OK;
}

sn_precision
sn_model_precision (const sn_model *model)
{
  return model->precision;
}

sn_status
sn_model_load_memory (const void *data, size_t size, sn_model **model,
    sn_error *err)
{
  return sn_model_load_memory_precision (data, size, SN_PRECISION_FP32,
      model, err);
}

sn_status
sn_model_load_memory_precision (const void *data, size_t size,
    sn_precision precision, sn_model **model, sn_error *err)
{
  if (model == NULL || (data == NULL && size))
    return sn_set_error (err, SN_ERR_INVALID_ARG, "NULL argument");
  *model = NULL;
  const sn_kernel_table *kernels;
  sn_status s = precision_kernels (precision, &kernels, err);
  if (s != SN_OK)
    return s;
  Onnx__ModelProto *proto;
  s = sn_onnx_parse (data, size, &proto, err);
  if (s != SN_OK)
    return s;
  sn_model *m = calloc (1, sizeof *m);
  if (m == NULL) {
    onnx__model_proto__free_unpacked (proto, NULL);
    return sn_set_error (err, SN_ERR_NOMEM, "out of memory");
  }
  m->kernels = kernels;
  m->precision = precision;
  s = sn_lower_onnx (proto, m->kernels, &m->graph, &m->info, err);
  if (s == SN_OK)
    s = sn_plan_arena (&m->graph, err);
  if (s == SN_OK)
    s = copy_metadata (m, proto, err);
  onnx__model_proto__free_unpacked (proto, NULL);
  if (s != SN_OK) {
    sn_model_free (m);
    return s;
  }
  *model = m;
  return SN_OK;
}

/* Read a whole regular file; SN_ERR_IO naming the path otherwise. */
static sn_status
read_file (const char *path, unsigned char **data, size_t *size, sn_error *err)
{
  struct stat st;
  *data = NULL;
  if (stat (path, &st) != 0)
    return sn_set_error (err, SN_ERR_IO, "cannot open model '%s': %m", path);
  if (!S_ISREG (st.st_mode))
    return sn_set_error (err, SN_ERR_IO, "model '%s' is not a regular file",
        path);
  if (st.st_size == 0)
    return sn_set_error (err, SN_ERR_IO, "model '%s' is empty", path);
  FILE *f = fopen (path, "rb");
  if (f == NULL)
    return sn_set_error (err, SN_ERR_IO, "cannot open model '%s': %m", path);
  *size = (size_t) st.st_size;
  *data = malloc (*size);
  size_t got = *data ? fread (*data, 1, *size, f) : 0;
  fclose (f);
  if (*data == NULL || got != *size) {
    sn_status s = *data ? SN_ERR_IO : SN_ERR_NOMEM;
    free (*data);
    *data = NULL;
    return sn_set_error (err, s, "cannot read model '%s'", path);
  }
  return SN_OK;
}

sn_status
sn_model_load_file (const char *path, sn_model **model, sn_error *err)
{
  return sn_model_load_file_precision (path, SN_PRECISION_FP32, model, err);
}

sn_status
sn_model_load_file_precision (const char *path, sn_precision precision,
    sn_model **model, sn_error *err)
{
  if (path == NULL || model == NULL)
    return sn_set_error (err, SN_ERR_INVALID_ARG, "NULL argument");
  *model = NULL;
  unsigned char *data = NULL;
  size_t size = 0;
  sn_status s = read_file (path, &data, &size, err);
  if (s != SN_OK)
    return s;
  s = sn_model_load_memory_precision (data, size, precision, model, err);
  free (data);
  if (s != SN_OK && err) {        /* prefix the path: "PATH: reason" */
    char msg[sizeof err->message];
    size_t n = strlen (path);
    n = n < sizeof msg - 3 ? n : sizeof msg - 3;
    memcpy (msg, path, n);
    memcpy (msg + n, ": ", 2);
    size_t m = strlen (err->message);
    m = m < sizeof msg - n - 3 ? m : sizeof msg - n - 3;
    memcpy (msg + n + 2, err->message, m);
    msg[n + 2 + m] = '\0';
    memcpy (err->message, msg, sizeof msg);
  }
  return s;
}

void
sn_model_free (sn_model *model)
{
  if (model == NULL)
    return;
  sn_graph_clear (&model->graph);
  for (int k = 0; k < model->n_meta; k++) {
    free (model->meta_keys[k]);
    free (model->meta_values[k]);
  }
  free (model->meta_keys);
  free (model->meta_values);
  free (model);
}

void
sn_model_input_info (const sn_model *model, sn_input_info *info)
{
  *info = model->info.input;
}

int
sn_model_num_classes (const sn_model *model)
{
  return model->info.classes;
}

bool
sn_model_outputs_probabilities (const sn_model *model)
{
  return model->info.probabilities;
}

size_t
sn_model_arena_bytes (const sn_model *model)
{
  return model->graph.arena_floats * sizeof (float);
}

int
sn_model_num_ops (const sn_model *model)
{
  return model->graph.n_ops;
}

double
sn_model_macs (const sn_model *model)
{
  double macs = 0.0;
  for (int i = 0; i < model->graph.n_ops; i++)
    macs += model->graph.ops[i].macs;
  return macs;
}

int
sn_model_metadata_count (const sn_model *model)
{
  return model->n_meta;
}

void
sn_model_metadata_at (const sn_model *model, int index, const char **key,
    const char **value)
{
  bool ok = index >= 0 && index < model->n_meta;
  if (key)
    *key = ok ? model->meta_keys[index] : NULL;
  if (value)
    *value = ok ? model->meta_values[index] : NULL;
}

const char *
sn_model_metadata_get (const sn_model *model, const char *key)
{
  for (int k = 0; key && k < model->n_meta; k++)
    if (strcmp (model->meta_keys[k], key) == 0)
      return model->meta_values[k];
  return NULL;
}

static int
all_cores (void)
{
#ifdef _OPENMP
  return omp_get_num_procs ();
#else
  return 1;
#endif
}

sn_status
sn_context_create (const sn_model *model, int threads, sn_context **context,
    sn_error *err)
{
  if (model == NULL || context == NULL)
    return sn_set_error (err, SN_ERR_INVALID_ARG, "NULL argument");
  *context = NULL;
  if (threads < 0 || threads > 1024)
    return sn_set_error (err, SN_ERR_INVALID_ARG,
        "threads must be 0 (all cores) .. 1024, not %d", threads);
  sn_context *c = calloc (1, sizeof *c);
  if (c == NULL)
    return sn_set_error (err, SN_ERR_NOMEM, "out of memory");
  c->model = model;
  sn_status s = sn_exec_init (&c->exec, &model->graph, model->kernels,
      threads ? threads : all_cores (), err);
  if (s != SN_OK) {
    free (c);
    return s;
  }
  *context = c;
  context_leave (c);
  return SN_OK;
}

void
sn_context_free (sn_context *context)
{
  if (context == NULL)
    return;
  context_enter (context);
  sn_exec_free (&context->exec);
  free (context);
}

int
sn_context_threads (const sn_context *context)
{
  context_enter (context);
  return context->exec.threads;
}

sn_status
sn_context_run (sn_context *context, const float *input, int batch,
    float *output, sn_error *err)
{
  if (context == NULL || input == NULL || output == NULL)
    return sn_set_error (err, SN_ERR_INVALID_ARG, "NULL argument");
  if (batch < 1)
    return sn_set_error (err, SN_ERR_INVALID_ARG, "batch must be >= 1, not %d",
        batch);
  const sn_input_info *in = &context->model->info.input;
  size_t image_floats = (size_t) in->channels * in->height * in->width;
  context_enter (context);
  sn_exec_run (&context->exec, input, image_floats, batch, output);
  context_leave (context);
  return SN_OK;
}

sn_status
sn_context_parallel (sn_context *context, int n,
    void (*fn) (void *data, int i), void *data, sn_error *err)
{
  if (context == NULL || fn == NULL)
    return sn_set_error (err, SN_ERR_INVALID_ARG, "NULL argument");
  if (n < 0)
    return sn_set_error (err, SN_ERR_INVALID_ARG, "n must be >= 0, not %d",
        n);
  context_enter (context);
  sn_exec_parallel (&context->exec, n, fn, data);
  context_leave (context);
  return SN_OK;
}

void
sn_context_set_profiling (sn_context *context, bool enabled)
{
  context_enter (context);
  context->exec.profile.enabled = enabled;
  context_leave (context);
}

int
sn_context_profile_at (const sn_context *context, int index, const char **name,
    const char **kind, double *ms, double *macs)
{
  context_enter (context);
  const sn_graph *g = context->exec.g;
  bool ok = index >= 0 && index < g->n_ops;
  if (name)
    *name = ok ? g->ops[index].name : NULL;
  if (kind)
    *kind = ok ? sn_op_kind_name (g->ops[index].kind) : NULL;
  if (ms)
    *ms = ok ? context->exec.profile.op_seconds[index] * 1e3 : 0.0;
  if (macs)
    *macs = ok ? g->ops[index].macs : 0.0;
  return g->n_ops;
}

int
sn_top_k (const float *scores, int n, int k, int *indices, float *values)
{
  if (k > n)
    k = n;
  if (k <= 0 || scores == NULL || indices == NULL)
    return 0;
  int filled = 0;
  for (int i = 0; i < n; i++) {       /* insertion into a sorted k-list */
    if (filled == k && !(scores[i] > scores[indices[k - 1]]))
      continue;
    int j = filled < k ? filled++ : k - 1;
    while (j > 0 && scores[i] > scores[indices[j - 1]]) {
      indices[j] = indices[j - 1];
      j--;
    }
    indices[j] = i;
  }
  for (int j = 0; values && j < k; j++)
    values[j] = scores[indices[j]];
  return k;
}

void
sn_softmax (float *values, int n)
{
  if (n <= 0)
    return;
  float max = values[0];
  for (int i = 1; i < n; i++)
    max = values[i] > max ? values[i] : max;
  double sum = 0.0;
  for (int i = 0; i < n; i++)
    sum += exp ((double) values[i] - max);
  for (int i = 0; i < n; i++)
    values[i] = (float) (exp ((double) values[i] - max) / sum);
}
