/* sn_worker.c - the engine's side of bench/bench.py: a persistent process
 * that loads a model and times it on commands read from stdin, so that the
 * driver can interleave short chunks of runs with ONNX Runtime's worker
 * (bench/ort_worker.js speaks the same protocol).
 *
 * One command per line on stdin; one reply line on stdout, "ok ..." or
 * "error MESSAGE" (profile first writes one "op ..." line per operator):
 *   precision P        -> ok      fp32 (the default) or bf16 for later loads;
 *                         error MESSAGE where this CPU lacks it
 *   load MODEL         -> ok C H W LAYOUT CLASSES OPS MACS   (LAYOUT NCHW|NHWC)
 *   input IN.npy       -> ok N      N images in the model's input layout
 *   time T B R W       -> ok MS_1 ... MS_R   W untimed runs, then R timed
 *                         runs of the first B images on T threads
 *   run T B OUT.npy    -> ok        logits of the first B images, [B, K]
 *   profile T R        -> op INDEX NAME KIND MS MACS (median of R runs, per
 *                         image, batch 1), then ok MEDIAN_TOTAL_MS
 *   quit
 * Paths are the rest of the line (they may hold spaces). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "npy.h"
#include "shufflenet.h"

#define MAX_THREADS 64
#define MAX_RUNS 100000

typedef struct
{
  sn_model *model;
  sn_precision precision;       /* of the next load */
  sn_input_info in;
  int classes;
  sn_npy input;                 /* [N, C, H, W] or [N, H, W, C], float32 */
  sn_context *ctx[MAX_THREADS + 1];     /* one context per thread count */
  float *output;                /* [N, classes] */
  double *times;                /* [MAX_RUNS] ms */
} worker;

static void
reply_error (const char *fmt, const char *arg)
{
  fputs ("error ", stdout);
  printf (fmt, arg);
  putchar ('\n');
}

static double
now_ms (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec * 1e-6;
}

static void
worker_unload (worker * w)
{
  for (int t = 0; t <= MAX_THREADS; t++) {
    sn_context_free (w->ctx[t]);
    w->ctx[t] = NULL;
  }
  sn_model_free (w->model);
  w->model = NULL;
  sn_npy_free (&w->input);
  memset (&w->input, 0, sizeof w->input);
  free (w->output);
  w->output = NULL;
}

static void
cmd_load (worker * w, const char *path)
{
  sn_error err;
  worker_unload (w);
  if (sn_model_load_file_precision (path, w->precision, &w->model, &err)
      != SN_OK) {
    reply_error ("%s", err.message);
    return;
  }
  sn_model_input_info (w->model, &w->in);
  w->classes = sn_model_num_classes (w->model);
  printf ("ok %d %d %d %s %d %d %.0f\n", w->in.channels, w->in.height,
      w->in.width, w->in.layout == SN_LAYOUT_NHWC ? "NHWC" : "NCHW",
      w->classes, sn_model_num_ops (w->model), sn_model_macs (w->model));
}

static void
cmd_precision (worker * w, const char *name)
{
  sn_precision p = strcmp (name, "bf16") == 0 ? SN_PRECISION_BF16
      : SN_PRECISION_FP32;
  if (strcmp (name, sn_precision_name (p)) != 0) {
    reply_error ("unknown precision '%s'", name);
    return;
  }
  if (!sn_precision_available (p)) {
    reply_error ("this CPU does not run precision %s", name);
    return;
  }
  w->precision = p;
  printf ("ok\n");
}

/* The .npy must hold N >= 1 images of the model's input shape. */
static void
cmd_input (worker * w, const char *path)
{
  char msg[512];
  if (w->model == NULL) {
    reply_error ("%s", "input before load");
    return;
  }
  sn_npy_free (&w->input);
  memset (&w->input, 0, sizeof w->input);
  free (w->output);
  w->output = NULL;
  if (sn_npy_read (path, &w->input, msg, sizeof msg) != 0) {
    reply_error ("%s", msg);
    return;
  }
  const sn_input_info *in = &w->in;
  size_t want[3] = { in->channels, in->height, in->width };
  if (in->layout == SN_LAYOUT_NHWC) {
    want[0] = in->height;
    want[1] = in->width;
    want[2] = in->channels;
  }
  const sn_npy *a = &w->input;
  if (a->ndim != 4 || a->dims[0] < 1 || a->dims[1] != want[0]
      || a->dims[2] != want[1] || a->dims[3] != want[2]) {
    reply_error ("%s: not N images of the model's input shape", path);
    sn_npy_free (&w->input);
    memset (&w->input, 0, sizeof w->input);
    return;
  }
  w->output = malloc (sizeof (float) * a->dims[0] * w->classes);
  if (w->output == NULL) {
    reply_error ("%s", "out of memory");
    return;
  }
  printf ("ok %zu\n", a->dims[0]);
}

/* The context for `threads`, created on first use; NULL after a reply. */
static sn_context *
get_context (worker * w, int threads, int batch)
{
  sn_error err;
  if (w->model == NULL || w->output == NULL) {
    reply_error ("%s", "no model or no input loaded");
    return NULL;
  }
  if (threads < 1 || threads > MAX_THREADS || batch < 1
      || (size_t) batch > w->input.dims[0]) {
    printf ("error threads %d or batch %d out of range (1..%d, 1..%zu)\n",
        threads, batch, MAX_THREADS, w->input.dims[0]);
    return NULL;
  }
  if (w->ctx[threads] == NULL
      && sn_context_create (w->model, threads, &w->ctx[threads],
          &err) != SN_OK) {
    reply_error ("%s", err.message);
    return NULL;
  }
  return w->ctx[threads];
}

static void
cmd_time (worker * w, int threads, int batch, int runs, int warm)
{
  sn_error err;
  sn_context *ctx = get_context (w, threads, batch);
  if (ctx == NULL)
    return;
  if (runs < 1 || runs > MAX_RUNS || warm < 0) {
    printf ("error runs %d out of range 1..%d\n", runs, MAX_RUNS);
    return;
  }
  for (int i = 0; i < warm + runs; i++) {
    double t0 = now_ms ();
    if (sn_context_run (ctx, w->input.data, batch, w->output, &err) != SN_OK) {
      reply_error ("%s", err.message);
      return;
    }
    if (i >= warm)
      w->times[i - warm] = now_ms () - t0;
  }
  fputs ("ok", stdout);
  for (int i = 0; i < runs; i++)
    printf (" %.5f", w->times[i]);
  putchar ('\n');
}

static void
cmd_run (worker * w, int threads, int batch, const char *path)
{
  sn_error err;
  char msg[512];
  sn_context *ctx = get_context (w, threads, batch);
  if (ctx == NULL)
    return;
  if (sn_context_run (ctx, w->input.data, batch, w->output, &err) != SN_OK) {
    reply_error ("%s", err.message);
    return;
  }
  size_t dims[2] = { (size_t) batch, (size_t) w->classes };
  if (sn_npy_write (path, w->output, 2, dims, msg, sizeof msg) != 0) {
    reply_error ("%s", msg);
    return;
  }
  puts ("ok");
}

static int
cmp_double (const void *a, const void *b)
{
  double x = *(const double *) a, y = *(const double *) b;
  return x < y ? -1 : x > y;
}

static double
median (double *v, int n)
{
  qsort (v, n, sizeof (double), cmp_double);
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* Per-operator median over `runs` profiled batch-1 runs; the total is the
 * median of the per-run sums. */
static void
cmd_profile (worker * w, int threads, int runs)
{
  sn_error err;
  sn_context *ctx = get_context (w, threads, 1);
  if (ctx == NULL)
    return;
  int n_ops = sn_context_profile_at (ctx, 0, NULL, NULL, NULL, NULL);
  if (runs < 1 || (size_t) runs * (n_ops + 1) > MAX_RUNS) {
    printf ("error profile runs %d out of range 1..%d\n", runs,
        MAX_RUNS / (n_ops + 1));
    return;
  }
  double *ms = w->times;        /* [n_ops + 1][runs]: per op, then total */
  sn_context_set_profiling (ctx, true);
  for (int r = 0; r < runs + 3; r++) {  /* 3 warm-up runs */
    if (sn_context_run (ctx, w->input.data, 1, w->output, &err) != SN_OK) {
      sn_context_set_profiling (ctx, false);
      reply_error ("%s", err.message);
      return;
    }
    if (r < 3)
      continue;
    double sum = 0;
    for (int i = 0; i < n_ops; i++) {
      sn_context_profile_at (ctx, i, NULL, NULL, &ms[i * runs + r - 3], NULL);
      sum += ms[i * runs + r - 3];
    }
    ms[n_ops * runs + r - 3] = sum;
  }
  sn_context_set_profiling (ctx, false);
  for (int i = 0; i < n_ops; i++) {
    const char *name, *kind;
    double macs;
    sn_context_profile_at (ctx, i, &name, &kind, NULL, &macs);
    printf ("op %d %s %s %.5f %.0f\n", i, name, kind,
        median (&ms[i * runs], runs), macs);
  }
  printf ("ok %.5f\n", median (&ms[n_ops * runs], runs));
}

/* Dispatch one line; returns 0 on "quit". */
static int
handle (worker * w, char *line)
{
  int t, b, r, warm;
  char path[4096];
  line[strcspn (line, "\r\n")] = '\0';
  if (strncmp (line, "load ", 5) == 0)
    cmd_load (w, line + 5);
  else if (strncmp (line, "precision ", 10) == 0)
    cmd_precision (w, line + 10);
  else if (strncmp (line, "input ", 6) == 0)
    cmd_input (w, line + 6);
  else if (sscanf (line, "time %d %d %d %d", &t, &b, &r, &warm) == 4)
    cmd_time (w, t, b, r, warm);
  else if (sscanf (line, "run %d %d %4095[^\n]", &t, &b, path) == 3)
    cmd_run (w, t, b, path);
  else if (sscanf (line, "profile %d %d", &t, &r) == 2)
    cmd_profile (w, t, r);
  else if (strcmp (line, "quit") == 0)
    return 0;
  else
    reply_error ("unknown command '%s'", line);
  fflush (stdout);
  return 1;
}

int
main (void)
{
  static char line[8192];
  worker w = { 0 };
  w.times = malloc (sizeof (double) * MAX_RUNS);
  if (w.times == NULL) {
    fprintf (stderr, "sn_worker: out of memory\n");
    return 1;
  }
  while (fgets (line, sizeof line, stdin) != NULL && handle (&w, line)) {
  }
  worker_unload (&w);
  free (w.times);
  return 0;
}
